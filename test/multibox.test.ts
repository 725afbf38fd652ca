import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { buildAnnotations } from '../src/annotations/build.js';
import { parsePrompts } from '../src/annotations/prompts.js';
import { perBoxKeySlices, type Annotations, type Box, type KeySlice } from '../src/annotations/types.js';
import { rng as seededRng } from '../src/demo/phantom.js';
import { samEngine } from '../src/engines/sam/engine.js';
import { loadSamModel } from '../src/models/sam/load-node.js';
import { segment } from '../src/pipeline/segment.js';
import { decodeKeySlice } from '../src/session/wire.js';
import { openSession } from '../src/session/session.js';
import { instanceBoxes, simulateLabel, tightBox } from '../src/simulate/annotator.js';
import { KeysliceError } from '../src/util/errors.js';
import { IDENTITY_DIRECTION, SliceGeometry, type Volume } from '../src/volume/volume.js';
import { writeBrightnessModel } from './helpers/onnx-graphs.js';
import { dice } from './helpers/volumes.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'keyslice-multibox-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const NX = 64;
const NY = 40;
const NZ = 14;
const KEY = 7;

/** Two bright balls (radius 7, centres 30 voxels apart along x) in a darker noisy background; 1 x 1 x 2 mm. */
function twoBlobs(): { image: Volume<Float32Array>; truth: Uint8Array } {
  const rng = seededRng(11);
  const data = new Float32Array(NX * NY * NZ);
  const truth = new Uint8Array(NX * NY * NZ);
  for (let z = 0; z < NZ; z++) {
    for (let y = 0; y < NY; y++) {
      for (let x = 0; x < NX; x++) {
        const i = x + NX * (y + NY * z);
        const inside = [17, 47].some((cx) => (x - cx) ** 2 + (y - 20) ** 2 + (2 * (z - KEY)) ** 2 <= 49);
        const gauss = Math.sqrt(-2 * Math.log(rng() + 1e-12)) * Math.cos(2 * Math.PI * rng());
        data[i] = (inside ? 100 : 20) + 6 * gauss;
        truth[i] = inside ? 1 : 0;
      }
    }
  }
  return { image: { size: [NX, NY, NZ], spacing: [1, 1, 2], origin: [0, 0, 0], direction: IDENTITY_DIRECTION, data }, truth };
}

const LEFT: Box = [10, 13, 24, 27];
const RIGHT: Box = [40, 13, 54, 27];

function keyOf(prompt: Partial<KeySlice>): Annotations {
  return { axis: 2, labels: [{ value: 1, keySlices: [{ index: KEY, empty: false, points: [], negativePoints: [], ...prompt }] }] };
}

function errorOf(fn: () => unknown): KeysliceError {
  try {
    fn();
  } catch (err) {
    if (err instanceof KeysliceError) return err;
    throw err;
  }
  throw new Error('no error');
}

describe('several boxes on a key slice', () => {
  const { image, truth } = twoBlobs();
  const sg = new SliceGeometry(image, 2);

  it('the simulated annotator boxes each instance, and one object cut by a thin gap once', () => {
    const mask = sg.maskOf(truth, KEY, 1) as Uint8Array;
    assert.deepEqual(instanceBoxes(mask, NX, NY), [LEFT, RIGHT]);
    const label = simulateLabel(truth, sg, 1, [KEY], 'box');
    assert.deepEqual(label.keySlices[0].boxes, [LEFT, RIGHT]);
    assert.equal(label.keySlices[0].box, undefined);
    // a bar cut by a 2-pixel gap: one box, the tight box of the whole
    const bar = new Uint8Array(20 * 10);
    for (let u = 2; u < 18; u++) if (u < 8 || u > 9) for (let v = 3; v < 6; v++) bar[u + 20 * v] = 1;
    assert.deepEqual(instanceBoxes(bar, 20, 10), [tightBox(bar, 20, 10)]);
    // 8-connected: a diagonal line is one instance; two pixels 5 apart are two
    const two = new Uint8Array(20 * 10);
    two[2 + 20 * 2] = 1;
    two[3 + 20 * 3] = 1;
    two[9 + 20 * 3] = 1;
    assert.deepEqual(instanceBoxes(two, 20, 10), [[2, 2, 3, 3], [9, 3, 9, 3]]);
    two[8 + 20 * 3] = 1;
    assert.deepEqual(instanceBoxes(two, 20, 10), [[2, 2, 9, 3]]);
    assert.deepEqual(instanceBoxes(new Uint8Array(4), 2, 2), []);
  });

  it('a box per instance: each is cut alone and the union kept, nothing between them', async () => {
    const { labels } = await segment(image, keyOf({ boxes: [LEFT, RIGHT] }), { engine: 'classic' });
    const key = sg.slice(labels.data, KEY);
    const keyTruth = sg.slice(truth, KEY);
    assert.ok(dice(key, keyTruth) > 0.85, `key slice Dice ${dice(key, keyTruth).toFixed(3)}`);
    for (const [i0, , i1] of [LEFT, RIGHT]) {
      let found = 0;
      for (let v = 0; v < NY; v++) for (let u = i0; u <= i1; u++) found += key[u + NX * v];
      assert.ok(found > 100, `${found} pixels in the box at u ${i0}..${i1}`);
    }
    for (let z = 0; z < NZ; z++) {
      const s = sg.slice(labels.data, z);
      for (let v = 0; v < NY; v++) for (let u = 27; u <= 37; u++) assert.equal(s[u + NX * v], 0, `slice ${z} (${u}, ${v}) between the instances`);
    }
    const d = dice(Uint8Array.from(labels.data, (x) => (x ? 1 : 0)), truth);
    assert.ok(d > 0.75, `3D Dice ${d.toFixed(3)}`);
    // The interpolation engine takes each box's ellipse.
    const interp = await segment(image, keyOf({ boxes: [LEFT, RIGHT] }), { engine: 'interp' });
    assert.ok(dice(sg.slice(interp.labels.data, KEY), keyTruth) > 0.8);
  });

  it('the one-box form gives exactly the one-box result', async () => {
    const one = await segment(image, keyOf({ box: LEFT }), { engine: 'classic' });
    const list = await segment(image, keyOf({ boxes: [LEFT] }), { engine: 'classic' });
    assert.deepEqual(Uint8Array.from(list.labels.data), Uint8Array.from(one.labels.data));
    assert.ok(one.labels.data.some((x) => x));
    assert.deepEqual(perBoxKeySlices({ index: 3, empty: false, box: LEFT, points: [[12, 14]], negativePoints: [] }), [
      { index: 3, empty: false, box: LEFT, points: [[12, 14]], negativePoints: [] },
    ]);
    const doc = parsePrompts({ version: 1, labels: [{ value: 1, keySlices: [{ slice: KEY, boxes: [LEFT] }] }] });
    assert.deepEqual(doc.labels[0].keySlices[0], { slice: KEY, box: LEFT });
  });

  it('model engines: one decoder run per box, the union; one box in a list as the box alone', async () => {
    const model = await loadSamModel(writeBrightnessModel(path.join(tmp, 'model')));
    const run = (prompt: Partial<KeySlice>) => segment(image, keyOf(prompt), { engine: samEngine(model, { classicExtent: false }) });
    const two = await run({ boxes: [LEFT, RIGHT] });
    const key = sg.slice(two.labels.data, KEY);
    assert.ok(dice(key, sg.slice(truth, KEY)) > 0.8, `key slice Dice ${dice(key, sg.slice(truth, KEY)).toFixed(3)}`);
    for (let v = 0; v < NY; v++) for (let u = 28; u <= 36; u++) assert.equal(key[u + NX * v], 0, `(${u}, ${v}) between the instances`);
    // One decode per engine call, and a box's key cut decodes once more (its refinement with its own mask).
    const extraDecodes = (r: typeof two) => (r.report.engineStats?.decoderCalls ?? 0) - r.report.labels[0].engineCalls;
    assert.equal(extraDecodes(two), 2, 'each box its own prompt and refinement');
    const one = await run({ box: LEFT });
    assert.equal(extraDecodes(one), 1);
    const listed = await run({ boxes: [LEFT] });
    assert.deepEqual(Uint8Array.from(listed.labels.data), Uint8Array.from(one.labels.data));
    assert.equal(listed.report.engineStats?.decoderCalls, one.report.engineStats?.decoderCalls);
  });

  it('points go with the box they are in; negative points with every box; loose points alone', () => {
    const parts = perBoxKeySlices({ index: 3, empty: false, boxes: [LEFT, RIGHT], points: [[12, 14], [45, 20], [33, 5]], negativePoints: [[30, 20]] });
    assert.deepEqual(parts.map((k) => [k.box ?? null, k.points, k.negativePoints]), [
      [LEFT, [[12, 14]], [[30, 20]]],
      [RIGHT, [[45, 20]], [[30, 20]]],
      [null, [[33, 5]], [[30, 20]]],
    ]);
    assert.ok(parts.every((k) => k.boxes === undefined));
  });

  it('bad boxes get the named error: prompts file, wire, and a session left as it was', async () => {
    const file = (ks: object) => ({ version: 1, labels: [{ value: 1, keySlices: [{ slice: KEY, ...ks }] }] });
    let e = errorOf(() => parsePrompts(file({ boxes: [] }), 'p.json'));
    assert.equal(e.code, 'INVALID_PROMPTS');
    assert.match(e.message, /keySlices\[0\]\.boxes: must be a non-empty list/);
    assert.match(errorOf(() => parsePrompts(file({ boxes: [LEFT], box: LEFT }))).message, /"box" or "boxes", not both/);
    assert.match(errorOf(() => parsePrompts(file({ boxes: [LEFT, [5, 5, 2, 9]] }))).message, /boxes\[1\]: corners must satisfy/);
    e = errorOf(() => buildAnnotations(image, { prompts: { doc: parsePrompts(file({ boxes: [LEFT, [40, 13, 70, 27]] })), file: 'p.json' } }));
    assert.equal(e.code, 'INVALID_PROMPTS');
    assert.match(e.message, /slice 7: box corner \[70,27\] lies outside the slice/);
    assert.match(errorOf(() => decodeKeySlice({ boxes: [] }, NX, NY)).message, /boxes must be a non-empty list/);
    assert.deepEqual(decodeKeySlice({ boxes: [LEFT, RIGHT] }, NX, NY).key, { boxes: [LEFT, RIGHT] });

    const s = await openSession(image, { engine: 'interp' });
    await s.setKeySlice(1, KEY, { boxes: [LEFT, RIGHT] });
    for await (const _ of s.propagate());
    const before = Uint8Array.from((await s.labels()).data);
    const rev = await s.revision();
    const bad: [string, () => unknown, RegExp][] = [
      ['empty list', () => s.setKeySlice(1, 9, { boxes: [] }), /key slice 9: boxes must list at least one box/],
      ['a box outside the slice', () => s.setKeySlice(1, 9, { boxes: [LEFT, [40, 13, 70, 27]] }), /box corner \[70, 27\] lies outside the slice/],
      ['box and boxes', () => s.setKeySlice(1, 9, { box: LEFT, boxes: [RIGHT] }), /give box or boxes, not both/],
    ];
    for (const [what, f, msg] of bad) {
      await assert.rejects(async () => f(), (x: unknown) => x instanceof KeysliceError && x.code === 'INVALID_ANNOTATION' && msg.test(x.message), what);
      assert.deepEqual(await s.revision(), rev, `${what}: no new revision`);
      assert.deepEqual(await s.pending(), [], `${what}: nothing to propagate`);
      assert.deepEqual(Uint8Array.from((await s.labels()).data), before, `${what}: labels unchanged`);
    }
    assert.ok(before.some((x) => x));
    await s.close();
  });
});
