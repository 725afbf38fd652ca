/** The annotation app's box and point prompts: several boxes per key slice, their outlines, undo snapshots, prompts files. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { perBoxKeySlices, type Box } from '../src/annotations/types.js';
import { promptsDocument, readPromptsFor, type PromptsSlice } from '../src/app/prompts-file.js';
import { boxCornersRas, rasIndex, rasLayout, rasOfVoxel, voxelOfRas } from '../src/app/ras.js';
import { boxAt, isClick, promptFields, sessionPrompt, slicePromptOf, withBox, withoutBox, withPoint } from '../src/app/slice-prompts.js';
import { SnapshotStore } from '../src/app/snapshots.js';
import { keySliceOf } from '../src/session/state.js';
import { decodeKeySlice } from '../src/session/wire.js';
import type { SliceAxis, Vec3 } from '../src/volume/volume.js';

const A: Box = [2, 3, 8, 9];
const B: Box = [20, 4, 30, 12];

describe('box and point prompts of a key slice', () => {
  it('each box drawn adds one; one box goes to the session as box, several as boxes, with the points', () => {
    const one = withBox(undefined, A);
    assert.deepEqual(sessionPrompt(one), { box: A });
    const two = withBox(one, B);
    assert.deepEqual(two.boxes, [A, B]);
    assert.deepEqual(one.boxes, [A], 'the earlier prompt is left as it was');
    assert.deepEqual(sessionPrompt(two), { boxes: [A, B] });
    const pointed = withPoint(withPoint(two, [5, 5], false), [25, 25], true);
    assert.deepEqual(sessionPrompt(pointed), { boxes: [A, B], points: [[5, 5]], negativePoints: [[25, 25]] });
    // Removing a box keeps the other one and the points; removing both leaves the points.
    assert.deepEqual(sessionPrompt(withoutBox(pointed, 0)), { box: B, points: [[5, 5]], negativePoints: [[25, 25]] });
    assert.deepEqual(sessionPrompt(withoutBox(withoutBox(pointed, 1), 0)), { points: [[5, 5]], negativePoints: [[25, 25]] });
  });

  it('negative points alone are held, not sent', () => {
    const neg = withPoint(undefined, [1, 2], true);
    assert.equal(sessionPrompt(neg), null);
    assert.deepEqual(promptFields(neg), { negativePoints: [[1, 2]] });
    assert.equal(sessionPrompt(withoutBox(withBox(neg, A), 0)), null);
    assert.deepEqual(sessionPrompt(withPoint(neg, [3, 4], false)), { points: [[3, 4]], negativePoints: [[1, 2]] });
  });

  it('reads back what was sent, box or boxes, and nothing of a mask or an absent slice', () => {
    assert.deepEqual(slicePromptOf({ box: A, points: [[4, 4]] }), { boxes: [A], points: [[4, 4]], negativePoints: [] });
    assert.deepEqual(slicePromptOf({ boxes: [A, B] }).boxes, [A, B]);
    assert.deepEqual(slicePromptOf({ absent: true }), { boxes: [], points: [], negativePoints: [] });
    assert.deepEqual(slicePromptOf({ mask: new Uint8Array(4) }).boxes, []);
    for (const p of [withBox(undefined, A), withBox(withBox(undefined, A), B), withPoint(withBox(undefined, B), [22, 5], false)]) {
      assert.deepEqual(slicePromptOf(sessionPrompt(p) ?? undefined), p);
    }
  });

  it('the session takes several boxes as one key slice per box', () => {
    const p = withPoint(withBox(withBox(undefined, A), B), [5, 5], false);
    const sent = sessionPrompt(p);
    assert.ok(sent);
    // Through the wire's structure check and the session's own, as the server and the worker take it.
    const { key } = decodeKeySlice(JSON.parse(JSON.stringify(sent)), 40, 30);
    const k = keySliceOf(1, 7, key, { nu: 40, nv: 30, count: 10 });
    const parts = perBoxKeySlices(k);
    assert.deepEqual(parts.map((x) => x.box), [A, B]);
    assert.deepEqual(parts.map((x) => x.points), [[[5, 5]], []], 'a positive point goes with the box holding it');
  });

  it('a click selects the smallest box holding it', () => {
    const inner: Box = [4, 4, 6, 6];
    assert.equal(boxAt([A, B, inner], [5, 5]), 2);
    assert.equal(boxAt([A, B, inner], [2, 3]), 0);
    assert.equal(boxAt([A, B, inner], [30, 12]), 1);
    assert.equal(boxAt([A, B], [15, 5]), -1);
    assert.equal(boxAt([], [0, 0]), -1);
    assert.ok(isClick([5, 6, 5, 6]));
    assert.ok(!isClick([5, 6, 6, 6]));
  });
});

describe('box outlines in the RAS drawing', () => {
  const directions = {
    RAS: [-1, 0, 0, 0, -1, 0, 0, 0, 1],
    LPS: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    PERMUTED: [0, -1, 0, 0, 0, 1, 1, 0, 0],
  };
  for (const [name, direction] of Object.entries(directions)) {
    it(`${name}: corners half a voxel outside the box, on the slice, in every slice axis`, () => {
      const size: Vec3 = [6, 5, 4];
      const l = rasLayout({ size, spacing: [1, 1, 2], origin: [0, 0, 0], direction });
      for (let x = 0; x < size[0]; x++) {
        const p: Vec3 = [x, 4, 1];
        const r = rasOfVoxel(l, p);
        assert.equal(r[0] + l.dims[0] * (r[1] + l.dims[1] * r[2]), rasIndex(l, p), 'RAS voxel coordinates index the bitmap as rasIndex');
        assert.deepEqual(voxelOfRas(l, r), p);
      }
      for (const axis of [0, 1, 2] as SliceAxis[]) {
        const [ua, va] = ([0, 1, 2] as const).filter((c) => c !== axis);
        const [a, b] = boxCornersRas(l, axis, 2, [1, 0, 3, 2]).map((c) => voxelOfRas(l, c));
        assert.equal(a[axis], 2);
        assert.equal(b[axis], 2);
        assert.deepEqual([a[ua], a[va], b[ua], b[va]], [0.5, -0.5, 3.5, 2.5]);
      }
    });
  }
});

describe('undo snapshots hold the boxes', () => {
  it('gives back the prompts of each revision, as copies', () => {
    const store = new SnapshotStore();
    const prompts = new Map([['1:4', withBox(withBox(undefined, A), B)]]);
    store.put(1, new Uint8Array(3), new Map(), prompts);
    prompts.set('1:4', withBox(undefined, A));
    prompts.set('2:0', withPoint(undefined, [1, 1], false));
    store.put(2, new Uint8Array(3), new Map(), prompts);
    const first = store.get(1, 3)?.prompts;
    assert.deepEqual([...(first ?? [])], [['1:4', { boxes: [A, B], points: [], negativePoints: [] }]]);
    first?.get('1:4')?.boxes.pop();
    assert.equal(store.get(1, 3)?.prompts.get('1:4')?.boxes.length, 2);
    assert.deepEqual([...(store.get(2, 3)?.prompts.keys() ?? [])], ['1:4', '2:0']);
    store.put(3, new Uint8Array(3), new Map());
    assert.equal(store.get(3, 3)?.prompts.size, 0);
  });
});

describe('prompts files in the app', () => {
  const scan = { axis: 2 as SliceAxis, count: 12, nu: 40, nv: 30 };
  const file = (doc: unknown) => JSON.stringify(doc);

  it('reads every box of a slice, points, absent slices, label names and colours', () => {
    const text = file({
      version: 1,
      sliceAxis: 2,
      labels: [
        { value: 2, name: 'lesion', color: [250, 200, 0], keySlices: [{ slice: 5, boxes: [A, B, [10, 20, 14, 26]], negativePoints: [[15, 15]] }, { slice: 0, empty: true }] },
        { value: 1, keySlices: [{ slice: 6, boxes: [B] }, { slice: 7, points: [[3, 3]] }, { slice: 8, negativePoints: [[1, 1]] }] },
      ],
    });
    const got = readPromptsFor(text, 'lesions.json', scan);
    assert.deepEqual(got.labels, [{ value: 1 }, { value: 2, name: 'lesion', color: [250, 200, 0] }]);
    const at = (label: number, slice: number) => got.slices.find((s) => s.label === label && s.slice === slice);
    assert.deepEqual(at(2, 5)?.prompt, { boxes: [A, B, [10, 20, 14, 26]], points: [], negativePoints: [[15, 15]] });
    assert.equal(at(2, 0)?.absent, true);
    assert.deepEqual(at(1, 6)?.prompt.boxes, [B], 'a one-box list is one box');
    assert.deepEqual(at(1, 8)?.prompt, { boxes: [], points: [], negativePoints: [[1, 1]] });
    assert.equal(got.slices.length, 5);
  });

  it('refuses, naming the file, what does not fit the open scan', () => {
    const ok = { slice: 5, box: A };
    const bad: [unknown, RegExp][] = [
      [{ version: 1, sliceAxis: 0, labels: [{ value: 1, keySlices: [ok] }] }, /axis 0.*axis 2/],
      [{ version: 1, labels: [{ value: 1, keySlices: [{ slice: 12, box: A }] }] }, /out of range 0\.\.11/],
      [{ version: 1, labels: [{ value: 1, keySlices: [{ slice: 3, boxes: [A, [30, 20, 40, 25]] }] }] }, /box corner \[40,25\] lies outside/],
      [{ version: 1, labels: [{ value: 300, keySlices: [ok] }] }, /label 300: this app draws labels 1\.\.254/],
      [{ version: 1, labels: [{ value: 1, keySlices: [{ slice: 2, empty: true }] }] }, /no key slice showing the object/],
      [{ version: 2, labels: [] }, /version/],
    ];
    for (const [doc, message] of bad) {
      assert.throws(() => readPromptsFor(file(doc), 'p.json', scan, 254), (e: Error & { code?: string }) => {
        assert.match(e.message, /^p\.json: /);
        assert.match(e.message, message);
        assert.ok(e.code === 'INVALID_PROMPTS' || e.code === 'INVALID_ANNOTATION', e.code);
        return true;
      });
    }
    assert.throws(() => readPromptsFor('{"version": 1,', 'p.json', scan), /p\.json: not valid JSON/);
  });

  it('writes what it reads: boxes, points, absent slices; masks and labels without a prompt left out', () => {
    const slices: PromptsSlice[] = [
      { label: 1, slice: 2, absent: true, prompt: slicePromptOf(undefined) },
      { label: 1, slice: 4, absent: false, prompt: withPoint(withBox(withBox(undefined, A), B), [4, 5], false) },
      { label: 1, slice: 9, absent: false, prompt: withBox(undefined, B) },
      { label: 3, slice: 1, absent: true, prompt: slicePromptOf(undefined) },
    ];
    const labels = [
      { value: 3, name: 'other', color: [0, 0, 255] as [number, number, number] },
      { value: 1, name: 'lesions', color: [255, 0, 0] as [number, number, number] },
    ];
    const doc = promptsDocument(2, labels, slices);
    assert.deepEqual(doc.labels.map((l) => l.value), [1], 'a label with no box or point cannot be read back: left out');
    assert.deepEqual(doc.labels[0].keySlices[1], { slice: 4, boxes: [A, B], points: [[4, 5]] });
    assert.deepEqual(doc.labels[0].keySlices[2], { slice: 9, box: B });
    const back = readPromptsFor(JSON.stringify(doc), 'saved.json', scan);
    assert.deepEqual(back.labels, [labels[1]]);
    assert.deepEqual(back.slices, slices.filter((s) => s.label === 1));
  });
});
