import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { addGuide, classicEngine } from '../src/engines/classic/engine.js';
import { carryByAffinity, edgeProfile, EDGE_CHANNELS } from '../src/models/adapter/correspondence.js';
import { adaptedEngine } from '../src/models/adapter/engine-node.js';
import { loadAdapter } from '../src/models/adapter/load-node.js';
import { checkAdapterManifest } from '../src/models/adapter/manifest.js';
import { correspondenceTerm } from '../src/models/adapter/model.js';
import { segment } from '../src/pipeline/segment.js';
import { selectKeySlices, simulateLabel, sliceAreas } from '../src/simulate/annotator.js';
import { attentionBackward, attentionForward } from '../src/training/attention-kernel.js';
import { trainingVolume } from '../src/training/data.js';
import { looSummary } from '../src/training/loo.js';
import { trainAdapter, onnxFeatures } from '../src/training/train-adapter.js';
import { writeAdapter } from '../src/training/train-files.js';
import { netFeatures, trainCorrespondence } from '../src/training/train.js';
import { KeysliceError } from '../src/util/errors.js';
import { writeVolume } from '../src/volume/io-node.js';
import { SliceGeometry, withGeometry } from '../src/volume/volume.js';
import { CLI, tempDir } from './helpers/paths.js';
import { makeBlob, writeBlobDataset } from './helpers/volumes.js';

const SMALL = { inputChannels: EDGE_CHANNELS, widths: [8, 8], radius: 2 };

function randomArray(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648 - 0.5;
  });
}

test('attention kernel: backward pass equals finite differences of the forward pass', () => {
  const d = { b: 2, h: 5, w: 4, c: 3, v: 2, radius: 1 };
  const px = d.b * d.h * d.w;
  const source = randomArray(px * d.c, 1);
  const target = randomArray(px * d.c, 2);
  const values = randomArray(px * d.v, 3);
  const dOut = randomArray(px * d.v, 4);
  const f = (s: Float32Array, t: Float32Array, v: Float32Array) => attentionForward(d, s, t, v).reduce((a, x, i) => a + x * dOut[i], 0);
  const g = attentionBackward(d, source, target, values, dOut);
  const eps = 1e-3;
  for (const [name, arr, grad] of [
    ['source', source, g.dSource],
    ['target', target, g.dTarget],
    ['values', values, g.dValues],
  ] as const) {
    for (const i of [0, 7, arr.length - 1, Math.floor(arr.length / 2)]) {
      const plus = Float32Array.from(arr);
      const minus = Float32Array.from(arr);
      plus[i] += eps;
      minus[i] -= eps;
      const args = (a: Float32Array) => (name === 'source' ? [a, target, values] : name === 'target' ? [source, a, values] : [source, target, a]) as [Float32Array, Float32Array, Float32Array];
      const numeric = (f(...args(plus)) - f(...args(minus))) / (2 * eps);
      assert.ok(Math.abs(numeric - grad[i]) < 2e-3, `${name}[${i}]: numeric ${numeric}, analytic ${grad[i]}`);
    }
  }
});

test('attention kernel (training layout) and carryByAffinity (inference layout) agree', () => {
  const [nu, nv, c, r] = [6, 5, 4, 2];
  const n = nu * nv;
  const fa = randomArray(c * n, 5);
  const fb = randomArray(c * n, 6);
  const mask = Float32Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 1 : 0));
  const hwc = (chw: Float32Array) => Float32Array.from({ length: c * n }, (_, k) => chw[(k % c) * n + Math.floor(k / c)]);
  const a = attentionForward({ b: 1, h: nv, w: nu, c, v: 1, radius: r }, hwc(fa), hwc(fb), mask);
  const b = carryByAffinity(fa, fb, c, nu, nv, r, mask);
  for (let i = 0; i < n; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-5, `pixel ${i}: ${a[i]} vs ${b[i]}`);
  // A mask carried is a weighted mean of mask values: within [0, 1].
  assert.ok(b.every((x) => x >= 0 && x <= 1));
});

test('edge profile: unit direction vectors, blind to a shift of the intensities', () => {
  const s = Float32Array.from({ length: 36 }, (_, i) => ((i % 6) * 0.1 + Math.floor(i / 6) * 0.03) % 1);
  const shifted = s.map((x) => x + 0.2);
  const a = edgeProfile(s, 6, 6);
  const b = edgeProfile(shifted, 6, 6);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-5);
  const n = 36;
  const i = 14;
  const norm = Math.hypot(a[i], a[n + i], a[2 * n + i], a[3 * n + i]);
  assert.ok(Math.abs(norm - a[4 * n + i]) < 1e-5, 'the first four channels have the norm of the fifth');
});

test('a tiny training run on generated volumes lowers its loss, deterministically for a seed; the exported ONNX reproduces the trained module', async () => {
  const vols = [3, 4, 5].map((seed) => {
    const b = makeBlob({ nx: 32, ny: 32, nz: 12, z0: 2, z1: 9, rmax: 9, seed });
    return trainingVolume(`blob${seed}`, b.image, withGeometry(b.image, b.truth));
  });
  const opts = { mode: 'supervised' as const, seed: 3, shape: SMALL, crop: 24, batch: 2, stepsPerEpoch: 8, maxSteps: 24, patience: 10 };
  const r = await trainCorrespondence(vols.slice(0, 2), vols.slice(2), opts);
  assert.equal(r.steps, 24);
  assert.ok(r.loss.every(Number.isFinite));
  assert.ok(Math.min(...r.validationLoss) < r.initialValidationLoss, `validation loss ${r.validationLoss.join(', ')} never fell below ${r.initialValidationLoss}`);
  const again = await trainCorrespondence(vols.slice(0, 2), vols.slice(2), { ...opts, maxSteps: 8 });
  const again2 = await trainCorrespondence(vols.slice(0, 2), vols.slice(2), { ...opts, maxSteps: 8 });
  assert.deepEqual(again.weights.layers[1].w, again2.weights.layers[1].w, 'same seed, same weights');

  // The exported graph on onnxruntime against the trained module on TensorFlow.js, on a slice of another size.
  const { graph, manifest } = await trainAdapter([], [], { mode: 'self-supervised', shape: SMALL, maxSteps: 0 }).catch(() => ({ graph: null, manifest: null }));
  assert.equal(graph, null, 'training with no volume is refused');
  assert.equal(manifest, null);
  const { correspondenceOnnx } = await import('../src/training/export-onnx.js');
  const onnx = correspondenceOnnx(r.weights);
  const slice = vols[2].windowed[5].subarray(0, 32 * 27);
  const fakeManifest = { correspondence: { inputChannels: EDGE_CHANNELS, channels: 8, radius: 2 }, guideWeight: 1 } as Parameters<typeof onnxFeatures>[1];
  const fromOnnx = await onnxFeatures(onnx, fakeManifest, slice, 32, 27);
  const fromTf = await netFeatures(r.weights, edgeProfile(slice, 32, 27), 32, 27);
  assert.equal(fromOnnx.length, 8 * 32 * 27);
  let worst = 0;
  for (let i = 0; i < fromTf.length; i++) worst = Math.max(worst, Math.abs(fromOnnx[i] - fromTf[i]));
  assert.ok(worst < 1e-4, `ONNX and trained module differ by ${worst}`);
});

test('trainAdapter validates against the unadapted engine; an adapter refuses another engine; weight 0 changes nothing', async () => {
  const blobs = [11, 12, 13].map((seed) => makeBlob({ nx: 40, ny: 40, nz: 14, z0: 2, z1: 11, rmax: 10, seed }));
  const cases = blobs.map((b, n) => ({ id: `blob${n}`, image: b.image, truth: withGeometry(b.image, b.truth), values: [1] }));
  const adapter = await trainAdapter(cases.slice(0, 2), cases.slice(2), {
    mode: 'supervised',
    seed: 1,
    shape: SMALL,
    crop: 24,
    batch: 2,
    stepsPerEpoch: 6,
    maxSteps: 6,
    guideWeights: [1],
    protocol: { kinds: ['mask'], budgets: [1] },
  });
  const v = adapter.manifest.validation;
  assert.deepEqual(v.cases, ['blob2']);
  assert.equal(v.runs, 1);
  assert.ok(v.unadaptedDice !== null && v.adaptedDice !== null && v.gain !== null);
  assert.equal(v.usable, v.adaptedDice > v.unadaptedDice);
  assert.ok(Math.abs(v.gain - (v.adaptedDice - v.unadaptedDice)) < 1e-12);
  assert.deepEqual(adapter.manifest.base, { engine: 'classic' });

  const { dir, cleanup } = tempDir();
  try {
    const out = path.join(dir, 'adapter');
    assert.ok((await writeAdapter(out, adapter)) > adapter.graph.length);
    await assert.rejects(writeAdapter(out, adapter), (e: KeysliceError) => e.code === 'OUTPUT_CONFLICT');
    await assert.rejects(adaptedEngine('sam', out), (e: KeysliceError) => e.code === 'INVALID_MODEL' && /made for engine "classic"/.test(e.message));
    await assert.rejects(adaptedEngine('classic', out, { model: 'other' }), (e: KeysliceError) => e.code === 'INVALID_MODEL');

    // Weight 0: the same masks as the classic engine; the adapter's own weight: its term is used.
    const model = await loadAdapter(out);
    const b = blobs[2];
    const sg = new SliceGeometry(b.image, 2);
    const label = simulateLabel(b.truth, sg, 1, selectKeySlices(sliceAreas(b.truth, sg, 1), 1), 'mask');
    const plain = await segment(b.image, { axis: 2, labels: [label] }, { engine: classicEngine() });
    const zero = await segment(b.image, { axis: 2, labels: [label] }, { engine: classicEngine({ adapter: correspondenceTerm(model, { weight: 0 }) }) });
    assert.deepEqual(zero.labels.data, plain.labels.data);
    assert.equal(model.usage.runs, 0);
    await segment(b.image, { axis: 2, labels: [label] }, { engine: classicEngine({ adapter: correspondenceTerm(model, { weight: 1 }) }) });
    assert.ok(model.usage.runs > 0, 'the adapter ran on the propagated slices');
    await model.release();
  } finally {
    cleanup();
  }
});

test('keyslice train writes an adapter folder that keyslice segment --adapter uses; other engines refuse it', async () => {
  const { dir, cleanup } = tempDir();
  try {
    await writeBlobDataset(dir, [21, 22, 23]);
    const out = path.join(dir, 'adapter');
    const run = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
    const t = run(['train', '--data', dir, '--out', out, '--mode', 'self-supervised', '--max-steps', '4', '--quiet']);
    assert.equal(t.status, 0, t.stderr);
    assert.match(t.stdout, /trained a self-supervised adapter on 2 case\(s\)/);
    assert.match(t.stdout, /validation on c23: Dice/);
    assert.ok(existsSync(path.join(out, 'keyslice-adapter.json')) && existsSync(path.join(out, 'correspondence.onnx')));
    const again = run(['train', '--data', dir, '--out', out, '--max-steps', '4', '--quiet']);
    assert.equal(again.status, 4, 'an existing adapter folder is not overwritten');
    await writeVolume(withGeometry(makeBlob({ nx: 32, ny: 32, nz: 12, seed: 21 }).image, new Uint8Array(32 * 32 * 12)), path.join(dir, 'empty.nii.gz'));
    const keyImage = path.join(dir, 'lab21.nii.gz');
    const seg = run(['segment', '--image', path.join(dir, 'img21.nii.gz'), '--annotations', keyImage, '--key-slices', '5', '--out', path.join(dir, 'seg.nii.gz'), '--adapter', out, '--quiet']);
    assert.equal(seg.status, 0, seg.stderr);
    assert.match(seg.stdout, /label 1: \d+ voxels/);
    const refused = run(['segment', '--image', path.join(dir, 'img21.nii.gz'), '--annotations', keyImage, '--key-slices', '5', '--out', path.join(dir, 'seg2.nii.gz'), '--adapter', out, '--engine', 'interp', '--quiet']);
    assert.equal(refused.status, 3);
    assert.match(refused.stderr, /made for engine "classic", not "interp"/);
  } finally {
    cleanup();
  }
});

test('adapter manifest: a clear error for what is not an adapter', () => {
  assert.throws(() => checkAdapterManifest({ format: 'keyslice-model' }, 'x.json'), (e: KeysliceError) => e.code === 'INVALID_MODEL' && /x\.json: not a keyslice adapter manifest: "format"/.test(e.message));
  const ok = { format: 'keyslice-adapter', version: 1, kind: 'correspondence', mode: 'supervised', base: { engine: 'classic' }, graph: 'g.onnx', correspondence: { inputChannels: 5, channels: 16, radius: 3 }, guideWeight: 1, validation: { usable: false } };
  assert.equal(checkAdapterManifest(ok, 'x.json').graph, 'g.onnx');
  assert.throws(() => checkAdapterManifest({ ...ok, graph: '../g.onnx' }, 'x.json'), /"graph"/);
  assert.throws(() => checkAdapterManifest({ ...ok, version: 2 }, 'x.json'), /unsupported "version" 2/);
});

test('leave-one-out summary: "as used" keeps the unadapted result where the adapter was not usable', () => {
  const row = (c: string, method: string, dice: number) =>
    ({ dataset: 'd', case: c, label: 1, kind: 'mask', placement: 'fixed', budget: 1, method, dice, seconds: 1 }) as Parameters<typeof looSummary>[0][number];
  const rows = [row('a', 'keyslice:classic', 0.5), row('a', 'keyslice:classic+supervised', 0.7), row('b', 'keyslice:classic', 0.6), row('b', 'keyslice:classic+supervised', 0.4)];
  const fold = (test: string, usable: boolean) => ({ dataset: 'd', test, mode: 'supervised', usable, validationGain: 0.01, trainSeconds: 1, recordSeconds: 0, steps: 1, stoppedEarly: false, adapterBytes: 1, guideWeight: 1, adapterRuns: 0, adapterSeconds: 0, trainCases: [], validationCase: 'c' }) as Parameters<typeof looSummary>[1][number];
  const md = looSummary(rows, [fold('a', true), fold('b', false)], ['supervised']);
  // classic 0.55; adapted 0.55 (+0.000); as used (0.7 + 0.6) / 2 = 0.65 (+0.100).
  assert.match(md, /\| d \| mask \| 1 \| 2 \| 0\.550 \| 0\.550 \| \+0\.000 \| 0\.650 \| \+0\.100 \|/);
});

test('adapter term: beyond the outermost key slices only, unless asked for between them too', async () => {
  let runs = 0;
  const fake = {
    manifest: { correspondence: { inputChannels: EDGE_CHANNELS, channels: 2, radius: 1 }, guideWeight: 1 },
    usage: { runs: 0, seconds: 0 },
    features: async (_w: Float32Array, nu: number, nv: number) => {
      runs++;
      return new Float32Array(2 * nu * nv);
    },
    release: async () => {},
  } as unknown as Parameters<typeof correspondenceTerm>[0];
  const img = { nu: 4, nv: 3, count: 5, du: 1, dv: 1, dw: 1, raw: () => new Float32Array(12), windowed: () => new Float32Array(12) };
  const mask = Uint8Array.from({ length: 12 }, (_, i) => (i === 5 ? 1 : 0));
  const step = (prior: Uint8Array | null) => ({
    front: { key: 1, direction: 1 as const, between: prior !== null },
    from: 1,
    to: 2,
    mask,
    prior,
    key: 1,
    keyMask: mask,
  });
  assert.equal(await correspondenceTerm(fake).open(img).guide(step(mask)), null, 'no term between key slices');
  assert.equal(runs, 0);
  const g = await correspondenceTerm(fake).open(img).guide(step(null));
  assert.ok(g && g.weight === 1 && g.logits.length === 12);
  // Zero features: uniform attention over the 3 x 3 window, so pixel 5's neighbours get 1/9 of the mask.
  assert.ok(Math.abs(g.logits[0] - Math.log(1 / 9 / (8 / 9))) < 1e-5);
  assert.ok(await correspondenceTerm(fake, { weight: 1, betweenKeys: true }).open(img).guide(step(mask)));

  assert.equal(g.whereUnsure, true, 'weighed by the cut\'s uncertainty unless asked otherwise');
  assert.equal((await correspondenceTerm(fake, { whereUnsure: false }).open(img).guide(step(null)))?.whereUnsure, false);
});

test('addGuide: a term weighed where the cut is unsure counts fully where the costs tie and hardly where they differ', () => {
  const free = Uint8Array.from([1, 1, 1, 0]);
  const fg = () => Float32Array.from([1, 0, 10, 1]);
  const bg = () => Float32Array.from([1, 10, 0, 1]);
  // Logit -2 everywhere: the term says background (foreground costs softplus(2), background softplus(-2)).
  const logits = new Float32Array(4).fill(-2);
  const sp = (x: number) => Math.log1p(Math.exp(x));
  const [f1, b1] = [fg(), bg()];
  addGuide({ logits, weight: 2 }, free, f1, b1);
  assert.ok(Math.abs(f1[1] - 2 * sp(2)) < 1e-5 && Math.abs(b1[2] - 2 * sp(-2)) < 1e-5, 'plain: the same weight everywhere');
  assert.equal(f1[3], 1, 'fixed pixels untouched');
  const [f2, b2] = [fg(), bg()];
  addGuide({ logits, weight: 2, whereUnsure: true }, free, f2, b2);
  assert.ok(Math.abs(f2[0] - (1 + 2 * sp(2))) < 1e-5, 'tied costs: full weight');
  const u = 1 - Math.tanh(5);
  assert.ok(Math.abs(f2[1] - 2 * u * sp(2)) < 1e-5 && Math.abs(b2[2] - 2 * u * sp(-2)) < 1e-5, '10 nats apart: weight x (1 - tanh 5)');
  assert.ok(f2[1] < 1e-3, 'the sure pixel keeps its decision');
});
