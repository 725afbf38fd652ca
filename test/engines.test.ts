import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { intensityWindow } from '../src/analysis/window.js';
import { medsam2Engine, type Medsam2Trace } from '../src/engines/medsam2/engine.js';
import { samEngine } from '../src/engines/sam/engine.js';
import { readSamManifest, loadSamModel } from '../src/models/sam/load-node.js';
import { SamModel } from '../src/models/sam/model.js';
import { nodeRuntime } from '../src/models/onnx/runtime-node.js';
import { readSam2Manifest, loadSam2Model } from '../src/models/sam2/load-node.js';
import { allEngineNames, createEngine, ENGINE_TABLE } from '../src/pipeline/engines.js';
import { segment } from '../src/pipeline/segment.js';
import { roiImage } from '../src/propagation/roi.js';
import type { PropagationStep } from '../src/propagation/types.js';
import { KeysliceError } from '../src/util/errors.js';
import { SliceGeometry } from '../src/volume/volume.js';
import { writeBrightnessModel } from './helpers/onnx-graphs.js';
import { writeSam2Model } from './helpers/sam2-graphs.js';
import { makeBlob } from './helpers/volumes.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'keyslice-engines-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const blob = makeBlob({ nx: 48, ny: 48, nz: 20, noise: 4 });
const sg = new SliceGeometry(blob.image, 2);
const keyAt = (index: number) => ({ index, empty: false, mask: sg.maskOf(blob.truth, index, 1) as Uint8Array, points: [], negativePoints: [] });

describe('engine table', () => {
  it('names every engine once, with the model it needs, for Node and the browser alike', () => {
    assert.deepEqual(allEngineNames(), ['classic', 'interp', 'keyslices', 'sam', 'hybrid', 'medsam2']);
    assert.deepEqual(ENGINE_TABLE.map((e) => e.model), ['none', 'none', 'none', 'sam', 'sam', 'sam2']);
    assert.equal(createEngine('interp').name, 'interp');
    assert.throws(() => createEngine('nope'), (e: unknown) => e instanceof KeysliceError && e.code === 'USAGE' && /available: classic, interp/.test(e.message));
    assert.throws(() => createEngine('sam'), (e: unknown) => e instanceof KeysliceError && /needs a SAM-format model/.test(e.message));
  });
});

describe('models do not change after loading', () => {
  it('a SAM model keeps its own frozen manifest and store; the parsed manifest is left as it was', async () => {
    const dir = writeBrightnessModel(path.join(tmp, 'sam'));
    const { manifest, file } = readSamManifest(dir);
    const before = JSON.stringify(manifest);
    const model = await SamModel.load(manifest, await nodeRuntime(), file);
    assert.equal(JSON.stringify(manifest), before, 'the graph check filled in names on its own copy');
    assert.ok(Object.isFrozen(model.manifest) && Object.isFrozen(model.manifest.tensors));
    assert.ok(model.manifest.tensors.image, 'the encoder input is named');
    assert.equal(model.store, null);
    const kept = (await loadSamModel(dir)).store;
    assert.ok(kept && Object.isFrozen(kept));
  });

  it('a SAM2 model reads numMaskmem from its temporal table at load, into its own frozen settings', async () => {
    for (const variant of ['contract', 'frames'] as const) {
      const dir = writeSam2Model(path.join(tmp, `sam2-${variant}`), variant === 'frames' ? { variant: 'frames' } : {});
      const { manifest } = readSam2Manifest(dir);
      const model = await loadSam2Model(dir);
      assert.ok(Object.isFrozen(model.settings));
      assert.equal(model.settings.numMaskmem, 7, variant);
      assert.equal(model.temporalEncoding(6).length > 0, true, `${variant}: the table is there before any memory is encoded`);
      assert.equal(readSam2Manifest(dir).manifest.settings.numMaskmem, manifest.settings.numMaskmem);
    }
  });
});

describe('engines keep a step only when the controller commits it', () => {
  it('medsam2: a predicted slice that is not committed is in no later memory bank', async () => {
    const model = await loadSam2Model(writeSam2Model(path.join(tmp, 'commit')));
    const traces: Medsam2Trace[] = [];
    const engine = medsam2Engine(model, { trace: (t) => traces.push(t) });
    const roi = { u0: 0, v0: 0, u1: 47, v1: 47 };
    const img = roiImage(blob.image, sg, roi, intensityWindow(blob.image));
    const session = await engine.open(img, { usage: engine.newUsage?.() ?? {} });
    const key = keyAt(9).mask;
    await session.learn?.([{ index: 9, mask: key }]);
    const front = { key: 9, direction: 1 as const, between: false };
    const stepTo = (from: number, to: number, mask: Uint8Array): PropagationStep => ({ front, from, to, mask, prior: null, key: 9, keyMask: key });
    const s10 = stepTo(9, 10, key);
    const r10 = await session.propagate(s10);
    await session.commit?.(s10, r10);
    await session.propagate(stepTo(10, 11, r10.mask)); // not kept
    await session.propagate(stepTo(10, 12, r10.mask));
    const t12 = traces.filter((t) => t.kind === 'track' && t.slice === 12).pop() as Medsam2Trace;
    assert.deepEqual(t12.memories?.map((m) => m.slice), [9, 10], 'the committed slice is remembered, the rejected one is not');
    await assert.rejects(async () => session.commit?.(s10, r10), /without its prediction/);
  });
});

describe('usage counters per run', () => {
  it('two runs sharing one engine and model count their own work, whether run one after the other or at once', async () => {
    const model = await loadSamModel(writeBrightnessModel(path.join(tmp, 'shared')), { memoryCacheBytes: 0 });
    const engine = samEngine(model, { classicExtent: false });
    const a = { axis: 2 as const, labels: [{ value: 1, keySlices: [keyAt(9)] }] };
    const b = { axis: 2 as const, labels: [{ value: 1, keySlices: [keyAt(6), keyAt(12)] }] };
    const alone = [await segment(blob.image, a, { engine }), await segment(blob.image, b, { engine })];
    const together = await Promise.all([segment(blob.image, a, { engine }), segment(blob.image, b, { engine })]);
    for (let i = 0; i < 2; i++) {
      const strip = (s: Record<string, number> | undefined) => Object.fromEntries(Object.entries(s ?? {}).filter(([k]) => !k.endsWith('Seconds')));
      assert.deepEqual(strip(together[i].report.engineStats), strip(alone[i].report.engineStats));
      assert.deepEqual(together[i].labels.data, alone[i].labels.data);
      assert.equal(alone[i].report.engineStats?.decoderCalls, alone[i].report.labels[0].engineCalls);
    }
  });
});
