/**
 * Training a residual adapter on a SAM-format model's decoder logits (`keyslice train --mode residual`): the
 * unadapted engine (`sam` or `hybrid`) runs the simulated annotator on the labelled training and validation
 * cases while its steps are recorded (`residual-data.ts`, each slice encoded once for every run on an object);
 * the module (`residual-net.ts`) is trained on the training cases' steps (Adam, seeded, the best epoch on the
 * validation cases' steps kept, early stop). A second round records the cases again with that adapter in place
 * (only decoder runs: the encodings are in the model's embedding store) and training goes on over both rounds'
 * material, so the module also learns from the masks the adapted engine makes. The module is exported to ONNX,
 * loaded back through onnxruntime, and validated (`validateResidual`): the weights worth trying are screened on
 * the recording's crops, then the adapted engine runs the validation cases exactly as `keyslice segment` runs it,
 * with its own crops: the best weight per kind of front is kept, and the adapter is usable only where it beat the
 * unadapted engine's mean Dice in these runs; its manifest says by how much, per prompt kind too.
 */
import type { AdapterManifest, AdapterValidation, ResidualShape } from '../models/adapter/manifest.js';
import { residualEngine, residualModel, residualTerm } from '../models/adapter/residual.js';
import { nodeRuntime } from '../models/onnx/runtime-node.js';
import type { SamModel } from '../models/sam/model.js';
import { rng } from '../demo/phantom.js';
import { KeysliceError } from '../util/errors.js';
import { residualOnnx } from './export-onnx.js';
import { fit, fitSettings, type FitProgress, type FitResult } from './fit.js';
import { mergeSets, recordResidual, type RecordingEngine, type ResidualSet } from './residual-data.js';
import type { LogitResidual } from '../engines/sam/residual.js';
import { buildResidualNet, initResidual, type ResidualBatch, type ResidualWeights } from './residual-net.js';
import { scaleLogits } from '../models/adapter/residual.js';
import { loadTf } from './tf.js';
import { trainingRecord, type TrainedAdapter, type TrainingCase } from './train-adapter.js';
import { chooseFrontWeights, choiceValidation, FRONT_KINDS, mean, runFronts, screenedWeights, type DiceProtocol, type FrontKind, type LabelledCase, VALIDATION_PROTOCOL } from './validate.js';
import type { SliceEngine } from '../propagation/types.js';

export const RESIDUAL_GRAPH_FILE = 'residual.onnx';

export interface ResidualValidation {
  /** The unadapted engine's Dice per run of the screen, and the adapted engine's at a weight (crops zoomed on the truth: cheap). */
  unadaptedScreen: number[];
  screen: (weight: number) => Promise<number[]>;
  /** The engine as `keyslice segment --adapter` runs it, at a weight (0: unadapted). */
  engineAt: (weight: number) => SliceEngine;
  weights: number[];
  protocol: DiceProtocol;
  /** The engine and model, for the note. */
  what: string;
}

/**
 * The weight per kind of front and the usable verdict of an adapter on the validation cases. Each weight is first
 * screened on crops zoomed on the truth (the recording's, whose encodings are already made); only the weights
 * that beat the unadapted engine there, on a kind of front, are run on that kind as `keyslice segment` runs the
 * engine: its own crops, which follow the masks it makes (a mask that shrinks pulls its crop in with it, which the
 * screen cannot see). The choice, the figures and the verdict come from these runs alone.
 */
export async function validateResidual(cases: LabelledCase[], v: ResidualValidation): Promise<{ frontWeights: Record<FrontKind, number>; validation: AdapterValidation }> {
  const screened: { weight: number; dice: number[] }[] = [];
  for (const weight of v.weights) screened.push({ weight, dice: await v.screen(weight) });
  const worth = screenedWeights(v.unadaptedScreen, screened, v.protocol);
  const choice = await chooseFrontWeights(cases, v.engineAt, worth, v.protocol);
  const fronts = runFronts(v.unadaptedScreen.length, v.protocol);
  const on = (d: number[], f: FrontKind) => mean(d.filter((_, j) => fronts[j] === f));
  const screenNote =
    `weights ${v.weights.join(', ')} screened on crops zoomed on the truth (` +
    FRONT_KINDS.filter((f) => fronts.includes(f))
      .map((f) => `${f === 'mask' ? 'mask' : 'box/points'} ${on(v.unadaptedScreen, f).toFixed(3)} unadapted, ${screened.map((s) => `${s.weight}: ${on(s.dice, f).toFixed(3)}`).join(', ')}`)
      .join('; ') +
    ')';
  const what = `${v.what}, simulated ${v.protocol.kinds.join('/')} key slices at k = ${v.protocol.budgets.join(', ')}`;
  return { frontWeights: choice.frontWeights, validation: choiceValidation(cases, choice, what, screenNote) };
}

/**
 * Slices past each object that the recorded runs propagate to (2): the adapter learns to end an object there,
 * and no encoder runs on slices further out.
 */
export const RECORDING_MARGIN = 2;

/**
 * Memory for embeddings while a residual adapter trains (2 GiB: 512 SAM embeddings of 256 x 64 x 64): every
 * slice the recording encodes stays there for the later rounds and the validation runs.
 */
export const TRAINING_MEMORY_BYTES = 2 * 1024 ** 3;

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
  /** The simulated annotator's runs (default: mask and box key slices at k = 1, 2, within {@link RECORDING_MARGIN} slices of each object). */
  protocol?: DiceProtocol;
  /** Hash of the training data (files), for the manifest. */
  dataHash?: string;
  /**
   * Recording rounds (default 2): each round after the first records the cases again with the adapter trained so
   * far in place and goes on training (half the steps) on the material of every round.
   */
  rounds?: number;
  /** Correction weights tried on the validation cases (default 0.5, 1): the best is kept, none if none beats the unadapted engine. */
  weights?: number[];
  /** Recordings of the unadapted engine by case id, filled and reused across calls (the folds of a leave-one-out run). */
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

/** Trains the module on recorded sets (deterministic for a seed), from `init` where given. */
export async function trainResidual(
  train: ResidualSet,
  validation: ResidualSet,
  shape: ResidualShape,
  options: Omit<ResidualAdapterOptions, 'engine' | 'model' | 'modelId'> & { init?: ResidualWeights },
): Promise<FitResult<ResidualWeights>> {
  if (!train.samples.length) throw new KeysliceError('USAGE', 'no propagated slice to learn from: the training cases gave the engine nothing to propagate');
  const tf = await loadTf();
  const seed = options.seed ?? 1;
  const batch = options.batch ?? 8;
  const rand = rng(seed * 7919 + 29);
  const val = validation.samples.length ? validation : train;
  const valBatches: ResidualBatch[] = [];
  const valPicks = Array.from({ length: Math.min(64, val.samples.length) }, (_, i) => Math.floor((i * val.samples.length) / Math.min(64, val.samples.length)));
  for (let i = 0; i < valPicks.length; i += batch) valBatches.push(residualBatch(val, valPicks.slice(i, i + batch)));
  const net = buildResidualNet(tf, options.init ?? initResidual(shape, seed));
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

/** The recorded sets of one round, training and validation cases apart. */
interface Round {
  train: ResidualSet;
  validation: ResidualSet;
  /** The engine's Dice on the validation cases in this round (the adapter of the round before in place). */
  dice: number[];
}

export async function trainResidualAdapter(train: TrainingCase[], validation: TrainingCase[], o: ResidualAdapterOptions): Promise<TrainedAdapter<ResidualWeights>> {
  const stage = o.onStage ?? (() => {});
  const protocol: DiceProtocol = { margin: RECORDING_MARGIN, ...(o.protocol ?? VALIDATION_PROTOCOL) };
  const side = o.model.maskSize / 4;
  const grid = o.grid ?? Math.max(1, side / 2);
  if (side % grid !== 0) throw new KeysliceError('USAGE', `the grid (${grid}) must divide the embedding's side (${side})`);
  residualEngine(o.engine, o.model, null);
  const runtime = await nodeRuntime();
  const cache = o.recorded ?? new Map<string, { set: ResidualSet; dice: number[] }>();
  let recordSeconds = 0;
  const engineWith: RecordingEngine = (hook, zoomOn) => residualEngine(o.engine, o.model, hook, zoomOn);
  /** Records `cases` with `apply` in place (recordings of the unadapted engine are kept in `cache`). */
  const record = async (cases: LabelledCase[], apply: LogitResidual | null) => {
    const out: { set: ResidualSet; dice: number[] }[] = [];
    for (const c of cases) {
      let r = apply ? undefined : cache.get(c.id);
      if (!r || r.set.grid !== grid) {
        stage(`recording the ${apply ? 'adapted' : 'unadapted'} ${o.engine} engine's steps on ${c.id}`);
        const t0 = performance.now();
        const { sets, dice } = await recordResidual([c], engineWith, grid, protocol, apply);
        recordSeconds += (performance.now() - t0) / 1000;
        r = { set: sets[0], dice };
        if (!apply) cache.set(c.id, r);
      }
      out.push(r);
    }
    return out;
  };
  const round = async (apply: LogitResidual | null): Promise<Round> => {
    const t = await record(trainCases, apply);
    const v = await record(valCases, apply);
    return { train: mergeSets(t.map((r) => r.set)), validation: mergeSets(v.map((r) => r.set)), dice: v.flatMap((r) => r.dice) };
  };
  const trainCases = labelled(train);
  if (!trainCases.length) throw new KeysliceError('USAGE', 'a residual adapter learns from label volumes; no training case has one');
  const valCases = labelled(validation);
  const rounds = [await round(null)];
  const first = rounds[0].train;
  const shape: ResidualShape = { embeddingChannels: first.channels, embeddingSide: first.side, grid, reduced: o.reduced ?? 8, widths: o.widths ?? [16, 16, 1] };
  const stub = (weights: ResidualWeights, guideWeight: number): AdapterManifest => ({
    ...trainingRecord(o, trainCases, valCases, { weights, loss: [], validationLoss: [], initialValidationLoss: NaN, steps: 0, seconds: 0, stoppedEarly: false }),
    format: 'keyslice-adapter', version: 1, kind: 'decoder-residual', mode: 'supervised', base: { engine: o.engine }, graph: RESIDUAL_GRAPH_FILE, residual: shape, guideWeight,
  });
  let result: FitResult<ResidualWeights> | null = null;
  let trainSeconds = 0;
  let steps = 0;
  for (let r = 0; r < (o.rounds ?? 2); r++) {
    if (result) {
      // Another round: the adapter so far in place, so the material follows the masks the adapted engine makes.
      const model = await residualModel(runtime, residualOnnx(result.weights), stub(result.weights, 1));
      try {
        rounds.push(await round(residualTerm(model)));
      } finally {
        await model.release();
      }
    }
    const trainSet = mergeSets(rounds.map((x) => x.train));
    const valSet = rounds[rounds.length - 1].validation;
    stage(`round ${r + 1}: training on ${trainSet.samples.length} propagated slices (${trainSet.embeddings.length} embeddings), validating on ${valSet.samples.length}`);
    result = await trainResidual(trainSet, valSet, shape, { ...o, init: result?.weights, maxSteps: result ? Math.ceil((o.maxSteps ?? 300) / 2) : o.maxSteps });
    trainSeconds += result.seconds;
    steps += result.steps;
  }
  if (!result) throw new KeysliceError('USAGE', 'at least one training round');
  result = { ...result, seconds: trainSeconds, steps };
  const graph = residualOnnx(result.weights);
  const manifest: AdapterManifest = { ...stub(result.weights, 1), base: { engine: o.engine, model: o.modelId.name, modelSha256: o.modelId.sha256 }, ...trainingRecord(o, trainCases, valCases, result) };
  manifest.training.recordSeconds = recordSeconds;
  if (!valCases.length) {
    manifest.validation.note = 'no labelled validation case: the adapter could not be compared with the unadapted engine';
    return { manifest, graph, result };
  }
  stage(`validating on ${valCases.map((c) => c.id).join(', ')}`);
  const model = await residualModel(runtime, graph, manifest);
  try {
    const tried = o.weights ?? [0.5, 1];
    const validated = await validateResidual(valCases, {
      unadaptedScreen: rounds[0].dice,
      screen: async (w) => (await recordResidual(valCases, engineWith, grid, protocol, residualTerm(model, w))).dice,
      engineAt: (w) => residualEngine(o.engine, o.model, w ? residualTerm(model, w) : null),
      weights: tried,
      protocol,
      what: `${o.engine} engine on ${o.modelId.name}`,
    });
    manifest.frontWeights = validated.frontWeights;
    manifest.guideWeight = Math.max(validated.frontWeights.mask, validated.frontWeights.drawn);
    manifest.validation = validated.validation;
  } finally {
    await model.release();
  }
  return { manifest, graph, result };
}
