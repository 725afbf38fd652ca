/**
 * Training a residual adapter on a SAM-format model's decoder logits (`keyslice train --mode residual`): the
 * unadapted engine (`sam` or `hybrid`) runs the simulated annotator on the labelled training and validation
 * cases while its steps are recorded (`residual-data.ts`); the module (`residual-net.ts`) is trained on the
 * training cases' steps (Adam, seeded, the best epoch on the validation cases' steps kept, early stop), exported
 * to ONNX, loaded back through onnxruntime, and the adapted engine runs the same protocol on the validation
 * cases: the adapter is usable only where its mean Dice beat the unadapted engine's, and its manifest says by how
 * much.
 */
import type { AdapterManifest, ResidualShape } from '../models/adapter/manifest.js';
import { residualEngine, residualModel, residualTerm } from '../models/adapter/residual.js';
import { nodeRuntime } from '../models/onnx/runtime-node.js';
import type { SamModel } from '../models/sam/model.js';
import { rng } from '../demo/phantom.js';
import { KeysliceError } from '../util/errors.js';
import { residualOnnx } from './export-onnx.js';
import { fit, fitSettings, type FitProgress, type FitResult } from './fit.js';
import { mergeSets, recordResidual, type ResidualSet } from './residual-data.js';
import { buildResidualNet, initResidual, type ResidualBatch, type ResidualWeights } from './residual-net.js';
import { scaleLogits } from '../models/adapter/residual.js';
import { loadTf } from './tf.js';
import { trainingRecord, type TrainedAdapter, type TrainingCase } from './train-adapter.js';
import { mean, protocolDice, type DiceProtocol, type LabelledCase, VALIDATION_PROTOCOL } from './validate.js';

export const RESIDUAL_GRAPH_FILE = 'residual.onnx';

export interface ResidualAdapterOptions {
  /** The engine the adapter serves: `sam` or `hybrid`. */
  engine: string;
  model: SamModel;
  /** The model's identity for the manifest (name and hash of its graphs). */
  modelId: { name: string; sha256: string };
  /** Default 1. */
  seed?: number;
  /** Samples per step (default 8). */
  batch?: number;
  /** Steps per epoch (default 20) and at most (default 300). */
  stepsPerEpoch?: number;
  maxSteps?: number;
  /** Epochs without a better validation loss before stopping (default 3). */
  patience?: number;
  /** Adam learning rate (default 0.003). */
  learningRate?: number;
  /** Grid side (default half the embedding's side), projected channels (default 8), convolution widths (default 16, 16, 1). */
  grid?: number;
  reduced?: number;
  widths?: number[];
  protocol?: DiceProtocol;
  /** Hash of the training data (files), for the manifest. */
  dataHash?: string;
  /** Recordings by case id, filled and reused across calls (the folds of a leave-one-out run). */
  recorded?: Map<string, { set: ResidualSet; dice: number[] }>;
  onStage?: (message: string) => void;
  onProgress?: (p: FitProgress) => void;
}

/** Samples `picks` of a set as a batch. */
export function residualBatch(set: ResidualSet, picks: number[]): ResidualBatch {
  const n = set.grid * set.grid;
  const fine = set.size * set.size;
  const B = picks.length;
  const b: ResidualBatch = {
    size: B,
    embedding: new Float32Array(B * n * set.channels),
    previous: new Float32Array(B * n * set.channels),
    previousMask: new Float32Array(B * n),
    scaledLogits: new Float32Array(B * n),
    side: set.size,
    fineLogits: new Float32Array(B * fine),
    fineTarget: new Float32Array(B * fine),
  };
  for (const [k, p] of picks.entries()) {
    const s = set.samples[p];
    b.embedding.set(set.embeddings[s.embedding], k * n * set.channels);
    b.previous.set(set.embeddings[s.previous], k * n * set.channels);
    b.previousMask.set(s.previousMask, k * n);
    b.scaledLogits.set(scaleLogits(s.logits), k * n);
    b.fineLogits.set(s.fineLogits, k * fine);
    b.fineTarget.set(s.fineTarget, k * fine);
  }
  return b;
}

/** Trains the module on recorded sets (deterministic for a seed). */
export async function trainResidual(train: ResidualSet, validation: ResidualSet, shape: ResidualShape, options: Omit<ResidualAdapterOptions, 'engine' | 'model' | 'modelId'>): Promise<FitResult<ResidualWeights>> {
  if (!train.samples.length) throw new KeysliceError('USAGE', 'no propagated slice to learn from: the training cases gave the engine nothing to propagate');
  const tf = await loadTf();
  const seed = options.seed ?? 1;
  const batch = options.batch ?? 8;
  const rand = rng(seed * 7919 + 29);
  const val = validation.samples.length ? validation : train;
  const valBatches: ResidualBatch[] = [];
  const valPicks = Array.from({ length: Math.min(64, val.samples.length) }, (_, i) => Math.floor((i * val.samples.length) / Math.min(64, val.samples.length)));
  for (let i = 0; i < valPicks.length; i += batch) valBatches.push(residualBatch(val, valPicks.slice(i, i + batch)));
  const net = buildResidualNet(tf, initResidual(shape, seed));
  try {
    return await fit(tf, {
      variables: net.variables,
      nextBatch: () => residualBatch(train, Array.from({ length: batch }, () => Math.floor(rand() * train.samples.length))),
      loss: (b) => net.loss(b),
      validation: valBatches,
      snapshot: () => net.weights(),
      ...fitSettings(options, 300),
    });
  } finally {
    net.dispose();
  }
}

function labelled(cases: TrainingCase[]): LabelledCase[] {
  return cases.filter((c): c is LabelledCase & TrainingCase => !!c.truth && !!c.values?.length);
}

export async function trainResidualAdapter(train: TrainingCase[], validation: TrainingCase[], o: ResidualAdapterOptions): Promise<TrainedAdapter<ResidualWeights>> {
  const stage = o.onStage ?? (() => {});
  const protocol = o.protocol ?? VALIDATION_PROTOCOL;
  const side = o.model.maskSize / 4;
  const grid = o.grid ?? Math.max(1, side / 2);
  if (side % grid !== 0) throw new KeysliceError('USAGE', `the grid (${grid}) must divide the embedding's side (${side})`);
  residualEngine(o.engine, o.model, null);
  const cache = o.recorded ?? new Map<string, { set: ResidualSet; dice: number[] }>();
  let recordSeconds = 0;
  const record = async (cases: LabelledCase[]) => {
    const out = [];
    for (const c of cases) {
      let r = cache.get(c.id);
      if (!r || r.set.grid !== grid) {
        stage(`recording the unadapted ${o.engine} engine's steps on ${c.id}`);
        const t0 = performance.now();
        const { sets, dice } = await recordResidual([c], (hook) => residualEngine(o.engine, o.model, hook), grid, protocol);
        recordSeconds += (performance.now() - t0) / 1000;
        r = { set: sets[0], dice };
        cache.set(c.id, r);
      }
      out.push(r);
    }
    return out;
  };
  const trainCases = labelled(train);
  if (!trainCases.length) throw new KeysliceError('USAGE', 'a residual adapter learns from label volumes; no training case has one');
  const trainRec = await record(trainCases);
  const valCases = labelled(validation);
  const valRec = await record(valCases);
  const trainSet = mergeSets(trainRec.map((r) => r.set));
  const valSet = mergeSets(valRec.map((r) => r.set));
  const shape: ResidualShape = { embeddingChannels: trainSet.channels, embeddingSide: trainSet.side, grid, reduced: o.reduced ?? 8, widths: o.widths ?? [16, 16, 1] };
  stage(`training on ${trainSet.samples.length} propagated slices (${trainSet.embeddings.length} embeddings), validating on ${valSet.samples.length}`);
  const result = await trainResidual(trainSet, valSet, shape, o);
  const graph = residualOnnx(result.weights);
  const manifest: AdapterManifest = {
    format: 'keyslice-adapter',
    version: 1,
    kind: 'decoder-residual',
    mode: 'supervised',
    base: { engine: o.engine, model: o.modelId.name, modelSha256: o.modelId.sha256 },
    graph: RESIDUAL_GRAPH_FILE,
    residual: shape,
    guideWeight: 1,
    ...trainingRecord(o, trainCases, valCases, result),
  };
  manifest.training.recordSeconds = recordSeconds;
  if (!valCases.length) {
    manifest.validation.note = 'no labelled validation case: the adapter could not be compared with the unadapted engine';
    return { manifest, graph, result };
  }
  stage(`validating on ${valCases.map((c) => c.id).join(', ')}`);
  const model = await residualModel(await nodeRuntime(), graph, manifest);
  try {
    const unadapted = mean(valRec.flatMap((r) => r.dice));
    const adapted = mean((await protocolDice(valCases, [residualEngine(o.engine, o.model, residualTerm(model))], protocol))[0]);
    manifest.validation = {
      cases: valCases.map((c) => c.id),
      unadaptedDice: unadapted,
      adaptedDice: adapted,
      gain: adapted - unadapted,
      runs: valRec.reduce((s, r) => s + r.dice.length, 0),
      usable: adapted > unadapted,
      note: `${o.engine} engine on ${o.modelId.name}, simulated ${protocol.kinds.join('/')} key slices at k = ${protocol.budgets.join(', ')}`,
    };
  } finally {
    await model.release();
  }
  return { manifest, graph, result };
}
