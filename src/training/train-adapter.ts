/**
 * Training an adapter from volumes in memory: the correspondence module is trained (`train.ts`), exported to
 * ONNX, loaded back through onnxruntime, and validated: on the held-out validation cases that have labels, the
 * engine it is made for with the adapter's term (at each candidate weight) against the engine alone, under the
 * benchmark's simulated annotator: the classic engine (the term joins its cuts), or a model engine (`sam`,
 * `hybrid`: the carried mask joins the decoder's logits, `carried.ts`). The best weight is kept; the adapter is usable only where it beat the
 * unadapted engine there, and its manifest says by how much.
 */
import { classicEngine } from '../engines/classic/engine.js';
import type { AdapterManifest, AdapterValidation } from '../models/adapter/manifest.js';
import { correspondenceModel, correspondenceTerm, type CorrespondenceModel } from '../models/adapter/model.js';
import { nodeRuntime } from '../models/onnx/runtime-node.js';
import type { Volume } from '../volume/volume.js';
import { trainingVolume } from './data.js';
import { correspondenceOnnx } from './export-onnx.js';
import type { FitResult } from './fit.js';
import type { NetWeights } from './net.js';
import { trainCorrespondence, type TrainOptions } from './train.js';
import { chooseFrontWeights, choiceValidation, mean, protocolDice, type DiceProtocol, type LabelledCase, VALIDATION_PROTOCOL } from './validate.js';
import { carriedTerm } from '../models/adapter/carried.js';
import { residualEngine } from '../models/adapter/residual.js';
import type { SamModel } from '../models/sam/model.js';

/** A case for training: its image, and its truth where there is one. */
export interface TrainingCase {
  id: string;
  image: Volume;
  truth?: LabelledCase['truth'];
  values?: number[];
}

/** A model engine a correspondence adapter is made for (its carried mask joins the decoder's logits, `carried.ts`). */
export interface AdapterEngine {
  /** `sam` or `hybrid`. */
  name: string;
  model: SamModel;
  /** The model's identity for the manifest (name and hash of its graphs). */
  modelId: { name: string; sha256: string };
}

export interface TrainAdapterOptions extends TrainOptions {
  /** Weights of the adapter's term tried on the validation cases (default 0.5, 1, 2, 4 on the classic engine; 0.5, 1, 2 on a model engine). */
  guideWeights?: number[];
  /** The model engine the adapter is made for (default: the classic engine). */
  modelEngine?: AdapterEngine;
  protocol?: DiceProtocol;
  /** Hash of the training data (files), for the manifest. */
  dataHash?: string;
  onStage?: (message: string) => void;
}

export interface TrainedAdapter<W = NetWeights> {
  manifest: AdapterManifest;
  graph: Uint8Array;
  result: FitResult<W>;
}

export const GRAPH_FILE = 'correspondence.onnx';

/** The manifest's record of a training run: its data, seed, losses, and a validation still to be done. */
export function trainingRecord(
  o: { seed?: number; dataHash?: string },
  train: { id: string }[],
  validation: { id: string }[],
  result: FitResult<unknown>,
): Pick<AdapterManifest, 'trainingData' | 'training' | 'validation'> {
  return {
    trainingData: { sha256: o.dataHash ?? '', cases: train.map((c) => c.id) },
    training: {
      seed: o.seed ?? 1,
      steps: result.steps,
      seconds: result.seconds,
      loss: result.loss,
      validationLoss: [result.initialValidationLoss, ...result.validationLoss],
      stoppedEarly: result.stoppedEarly,
    },
    validation: { cases: validation.map((c) => c.id), unadaptedDice: null, adaptedDice: null, gain: null, runs: 0, usable: false, note: '' },
  };
}

export async function trainAdapter(train: TrainingCase[], validation: TrainingCase[], options: TrainAdapterOptions): Promise<TrainedAdapter> {
  const stage = options.onStage ?? (() => {});
  const supervised = options.mode === 'supervised';
  const toVolume = (c: TrainingCase) => trainingVolume(c.id, c.image, supervised ? c.truth : undefined, c.values);
  stage(`preparing ${train.length} training and ${validation.length} validation volume(s)`);
  const result = await trainCorrespondence(train.map(toVolume), validation.map(toVolume), options);
  const graph = correspondenceOnnx(result.weights);
  const shape = result.weights.shape;
  const manifest: AdapterManifest = {
    format: 'keyslice-adapter',
    version: 1,
    kind: 'correspondence',
    mode: options.mode,
    base: options.modelEngine ? { engine: options.modelEngine.name, model: options.modelEngine.modelId.name, modelSha256: options.modelEngine.modelId.sha256 } : { engine: 'classic' },
    graph: GRAPH_FILE,
    correspondence: { inputChannels: shape.inputChannels, channels: shape.widths[shape.widths.length - 1], radius: shape.radius },
    guideWeight: 0,
    ...trainingRecord(options, train, validation, result),
  };
  const labelled = validation.filter((c): c is LabelledCase & TrainingCase => !!c.truth && !!c.values?.length);
  if (!labelled.length) {
    manifest.guideWeight = (options.guideWeights ?? [1])[0];
    manifest.validation.note = 'no labelled validation case: the adapter could not be compared with the unadapted engine';
    return { manifest, graph, result };
  }
  stage(`validating on ${labelled.map((c) => c.id).join(', ')}`);
  const model = await correspondenceModel(await nodeRuntime(), graph, manifest);
  if (options.modelEngine) {
    try {
      await validateOnModelEngine(manifest, model, labelled, options.modelEngine, options);
    } finally {
      await model.release();
    }
    return { manifest, graph, result };
  }
  try {
    const weights = options.guideWeights ?? [0.5, 1, 2, 4];
    const engines = [classicEngine(), ...weights.map((w) => classicEngine({ adapter: correspondenceTerm(model, { weight: w }) }))];
    const dice = (await protocolDice(labelled, engines, options.protocol ?? VALIDATION_PROTOCOL)).map(mean);
    let best = 1;
    for (let e = 2; e < dice.length; e++) if (dice[e] > dice[best]) best = e;
    manifest.guideWeight = weights[best - 1];
    const v: AdapterValidation = {
      cases: labelled.map((c) => c.id),
      unadaptedDice: dice[0],
      adaptedDice: dice[best],
      gain: dice[best] - dice[0],
      runs: 0,
      usable: dice[best] > dice[0],
      note: `classic engine, simulated ${(options.protocol ?? VALIDATION_PROTOCOL).kinds.join('/')} key slices at k = ${(options.protocol ?? VALIDATION_PROTOCOL).budgets.join(', ')}; weight ${weights[best - 1]} chosen among ${weights.join(', ')}`,
    };
    v.runs = labelled.reduce((s, c) => s + c.values.length, 0) * (options.protocol ?? VALIDATION_PROTOCOL).kinds.length * (options.protocol ?? VALIDATION_PROTOCOL).budgets.length;
    manifest.validation = v;
  } finally {
    await model.release();
  }
  return { manifest, graph, result };
}

/** The exported graph's output for one slice, computed by onnxruntime (for checks against the trained module). */
export async function onnxFeatures(graph: Uint8Array, manifest: AdapterManifest, windowed: Float32Array, nu: number, nv: number): Promise<Float32Array> {
  const model = await correspondenceModel(await nodeRuntime(), graph, manifest);
  try {
    return await model.features(windowed, nu, nv);
  } finally {
    await model.release();
  }
}

/**
 * Validation of a correspondence adapter made for a model engine: the engine with the carried mask's term at each
 * weight against the engine alone, run as `keyslice segment` runs it (its own crops); a weight per kind of front
 * (mask key slices, drawn ones) is kept, 0 where none beat the engine alone.
 */
async function validateOnModelEngine(manifest: AdapterManifest, model: CorrespondenceModel, cases: LabelledCase[], engine: AdapterEngine, options: TrainAdapterOptions): Promise<void> {
  const weights = options.guideWeights ?? [0.5, 1, 2];
  const protocol = options.protocol ?? VALIDATION_PROTOCOL;
  const choice = await chooseFrontWeights(cases, (w) => residualEngine(engine.name, engine.model, w ? carriedTerm(model, { weight: w }) : null), { mask: weights, drawn: weights }, protocol);
  manifest.frontWeights = choice.frontWeights;
  manifest.guideWeight = Math.max(choice.frontWeights.mask, choice.frontWeights.drawn);
  manifest.validation = choiceValidation(cases, choice, `${engine.name} engine on ${engine.modelId.name} with the carried mask's term, simulated ${protocol.kinds.join('/')} key slices at k = ${protocol.budgets.join(', ')}`);
}
