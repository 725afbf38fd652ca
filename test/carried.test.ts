import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { test } from 'node:test';
import type { LogitResidual } from '../src/engines/sam/residual.js';
import { carriedShift, carriedTerm } from '../src/models/adapter/carried.js';
import { EDGE_CHANNELS } from '../src/models/adapter/correspondence.js';
import { adaptedEngine } from '../src/models/adapter/engine-node.js';
import { checkAdapterManifest } from '../src/models/adapter/manifest.js';
import { correspondenceModel } from '../src/models/adapter/model.js';
import { residualEngine } from '../src/models/adapter/residual.js';
import { nodeRuntime } from '../src/models/onnx/runtime-node.js';
import { loadSamModel, samModelIdentity } from '../src/models/sam/load-node.js';
import { segment } from '../src/pipeline/segment.js';
import { selectKeySlices, simulateLabel, sliceAreas } from '../src/simulate/annotator.js';
import { correspondenceOnnx } from '../src/training/export-onnx.js';
import { initWeights } from '../src/training/net.js';
import { trainAdapter } from '../src/training/train-adapter.js';
import { writeAdapter } from '../src/training/train-files.js';
import { adapterMethod } from '../src/training/bench-adapter.js';
import type { KeysliceError } from '../src/util/errors.js';
import { SliceGeometry } from '../src/volume/volume.js';
import { twoBrightnessModels, writeBrightnessModel } from './helpers/onnx-graphs.js';
import { tempDir } from './helpers/paths.js';
import { blobCases } from './helpers/volumes.js';

const SMALL = { inputChannels: EDGE_CHANNELS, widths: [8, 8], radius: 2 };

test('the carried mask against a blind carry: zero features shift nothing; features that match each pixel to itself carry the mask as it lies', () => {
  const nu = 20;
  const nv = 16;
  const mask = new Uint8Array(nu * nv);
  for (let v = 3; v < 13; v++) for (let u = 4; u < 16; u++) mask[u + nu * v] = 1;
  const zero = new Float32Array(4 * nu * nv);
  assert.ok(carriedShift(zero, zero, 4, nu, nv, 3, mask).every((x) => x === 0));
  // One channel per position in a 7 x 7 tiling: within a window of radius 3 a pixel matches only itself.
  const own = new Float32Array(49 * nu * nv);
  for (let v = 0; v < nv; v++) for (let u = 0; u < nu; u++) own[((u % 7) + 7 * (v % 7)) * nu * nv + u + nu * v] = 10;
  const shift = carriedShift(own, own, 49, nu, nv, 3, mask);
  // Inside the mask the blind carry is unsure near the edge, the matched carry is not: a push up; outside, down.
  assert.ok(shift[4 + nu * 3] > 2, `corner inside ${shift[4 + nu * 3]}`);
  assert.ok(shift[3 + nu * 3] < -2, `next to the corner outside ${shift[3 + nu * 3]}`);
  assert.ok(Math.abs(shift[0]) < 1e-6 && Math.abs(shift[9 + nu * 7]) < 1e-6, 'far outside and deep inside: nothing');
});

test('a correspondence module whose features are zero leaves the sam and hybrid engines bit for bit; weight 0 too', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const sam = await loadSamModel(writeBrightnessModel(path.join(dir, 'model')));
    const weights = initWeights(SMALL, 3);
    const last = weights.layers[weights.layers.length - 1];
    last.w.fill(0);
    last.b.fill(0);
    const manifest = checkAdapterManifest(
      {
        format: 'keyslice-adapter', version: 1, kind: 'correspondence', mode: 'self-supervised', base: { engine: 'sam' }, graph: 'correspondence.onnx',
        correspondence: { inputChannels: EDGE_CHANNELS, channels: 8, radius: 2 }, guideWeight: 2, validation: { usable: false },
      },
      'test manifest',
    );
    const untrained = await correspondenceModel(await nodeRuntime(), correspondenceOnnx(weights), manifest);
    const trained = await correspondenceModel(await nodeRuntime(), correspondenceOnnx(initWeights(SMALL, 3)), manifest);
    const [c] = blobCases([31]);
    const sg = new SliceGeometry(c.image, 2);
    let same = 0;
    const spy = (term: LogitResidual): LogitResidual => ({
      async correct(input) {
        const after = await term.correct(input);
        if (Buffer.from(after.buffer).equals(Buffer.from(input.logits.buffer))) same++;
        else assert.fail('logits changed');
        return after;
      },
    });
    for (const engine of ['sam', 'hybrid']) {
      for (const kind of ['mask', 'box'] as const) {
        const label = simulateLabel(c.blob.truth, sg, 1, selectKeySlices(sliceAreas(c.blob.truth, sg, 1), 1), kind);
        const plain = await segment(c.image, { axis: 2, labels: [label] }, { engine: residualEngine(engine, sam, null) });
        for (const term of [carriedTerm(untrained), carriedTerm(trained, { weight: 0 })]) {
          const adapted = await segment(c.image, { axis: 2, labels: [label] }, { engine: residualEngine(engine, sam, spy(term)) });
          assert.deepEqual(adapted.labels.data, plain.labels.data, `${engine}, ${kind}`);
        }
      }
    }
    assert.ok(same > 0 && untrained.usage.runs > 0, 'the term ran on the propagated slices');
    assert.equal(trained.usage.runs, 0, 'weight 0 runs no graph');
    // A module with features does move the logits.
    const label = simulateLabel(c.blob.truth, sg, 1, selectKeySlices(sliceAreas(c.blob.truth, sg, 1), 1), 'mask');
    let moved = 0;
    const term = carriedTerm(trained, { weight: 2 });
    await segment(c.image, { axis: 2, labels: [label] }, {
      engine: residualEngine('sam', sam, { correct: async (input) => { const out = await term.correct(input); if (out.some((x, i) => x !== input.logits[i])) moved++; return out; } }),
    });
    assert.ok(moved > 0, 'a module with features moves the logits');
    await untrained.release();
    await trained.release();
  } finally {
    cleanup();
  }
});

test('a self-supervised adapter made for the sam engine is validated on it with its own crops; other engines and models refuse it', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { modelDir, otherDir } = twoBrightnessModels(dir);
    const sam = await loadSamModel(modelDir);
    const cases = blobCases([41, 42, 43]);
    const adapter = await trainAdapter(cases.slice(0, 2).map(({ id, image }) => ({ id, image })), cases.slice(2), {
      mode: 'self-supervised', seed: 1, shape: SMALL, crop: 24, batch: 2, stepsPerEpoch: 4, maxSteps: 4,
      protocol: { kinds: ['mask', 'box'], budgets: [1] },
      modelEngine: { name: 'sam', model: sam, modelId: await samModelIdentity(sam) },
    });
    const m = adapter.manifest;
    assert.equal(m.kind, 'correspondence');
    assert.equal(m.base.engine, 'sam');
    assert.equal(m.base.model, 'brightness test model');
    assert.match(m.base.modelSha256 ?? '', /^[0-9a-f]{64}$/);
    const v = m.validation;
    assert.equal(v.runs, 2);
    assert.ok(v.unadaptedDice !== null && v.adaptedDice !== null);
    assert.equal(v.usable, v.adaptedDice > v.unadaptedDice);
    assert.ok(v.adaptedDice >= v.unadaptedDice, 'a weight is kept only where it beat the engine alone');
    assert.ok(m.frontWeights && [0, 0.5, 1, 2].includes(m.frontWeights.mask) && [0, 0.5, 1, 2].includes(m.frontWeights.drawn));
    assert.match(v.note, /sam engine on brightness test model with the carried mask's term, .*own crops\): mask key slices \d\.\d{3} unadapted, weights run 0\.5: \d\.\d{3}, 1: \d\.\d{3}, 2: \d\.\d{3}; weight (0|0\.5|1|2) kept; box\/points/);

    const out = path.join(dir, 'adapter');
    await writeAdapter(out, adapter);
    const engine = await adaptedEngine('sam', out, { model: modelDir });
    assert.match(engine.description, /self-supervised correspondence adapter \(the previous mask carried by learned slice-to-slice attention joins the decoder's logits/);
    await assert.rejects(adaptedEngine('hybrid', out, { model: modelDir }), (e: KeysliceError) => e.code === 'INVALID_MODEL' && /made for engine "sam", not "hybrid"/.test(e.message));
    await assert.rejects(adaptedEngine('classic', out), (e: KeysliceError) => e.code === 'INVALID_MODEL' && /made for engine "sam", not "classic"/.test(e.message));
    await assert.rejects(adaptedEngine('medsam2', out), (e: KeysliceError) => e.code === 'INVALID_MODEL' && /made for engine "sam", not "medsam2"/.test(e.message));
    await assert.rejects(adapterMethod(out), (e: KeysliceError) => e.code === 'INVALID_MODEL' && /made for the model "brightness test model"/.test(e.message));
    await assert.rejects(adaptedEngine('sam', out, { model: otherDir }), (e: KeysliceError) => e.code === 'INVALID_MODEL' && /made for the model "brightness test model" \(graphs sha256 [0-9a-f]{12}\), not "another test model"/.test(e.message));
  } finally {
    cleanup();
  }
});
