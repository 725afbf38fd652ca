import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withOtherLabels } from '../src/annotations/other-labels.js';
import type { KeySlice, LabelAnnotation, Point } from '../src/annotations/types.js';
import { rng } from '../src/demo/phantom.js';
import { segment } from '../src/pipeline/segment.js';
import { openSession } from '../src/session/session.js';
import type { SliceUpdate } from '../src/session/types.js';
import { IDENTITY_DIRECTION, SliceGeometry, type Volume } from '../src/volume/volume.js';
import { dice } from './helpers/volumes.js';

const points = (index: number, pos: Point[], neg: Point[] = []): KeySlice => ({ index, empty: false, points: pos, negativePoints: neg });

describe("what other labels say on a slice is a label's background", () => {
  it('adds the positive clicks of the other labels on the same slice as negative clicks', () => {
    const drawn: KeySlice = { index: 3, empty: false, mask: Uint8Array.of(0, 1, 1, 0), points: [], negativePoints: [] };
    const absent: KeySlice = { index: 7, empty: true, points: [], negativePoints: [] };
    const labels: LabelAnnotation[] = [
      { value: 1, keySlices: [points(3, [[10, 10]]), points(5, [[10, 10]], [[0, 0]])] },
      { value: 2, keySlices: [drawn, points(5, [[20, 10], [11, 11]]), absent] },
      { value: 3, keySlices: [points(5, [[30, 10]]), points(6, [[30, 10]])] },
    ];
    const out = withOtherLabels(labels);
    // Label 1 on slice 5: label 2's far click and label 3's click; label 2's click next to its own is left out.
    assert.deepEqual(out[0].keySlices[1].negativePoints, [[0, 0], [20, 10], [30, 10]]);
    assert.deepEqual(out[0].keySlices[1].points, [[10, 10]]);
    assert.equal(out[0].keySlices[1].excluded, undefined, 'nobody drew on slice 5');
    // Slice 3: label 2 drew a mask there, which label 1's clicks there exclude.
    assert.deepEqual(out[0].keySlices[0].excluded, drawn.mask);
    assert.deepEqual(out[0].keySlices[0].negativePoints, []);
    // Label 2: its drawn and absent slices unchanged; on slice 5 label 1's and label 3's clicks, except the one
    // next to its own click at (11, 11).
    assert.equal(out[1].keySlices[0], drawn);
    assert.equal(out[1].keySlices[2], absent);
    assert.deepEqual(out[1].keySlices[1].negativePoints, [[30, 10]]);
    // Label 3 on slice 6 shares it with nobody.
    assert.equal(out[2].keySlices[1], labels[2].keySlices[1]);
    assert.deepEqual(out[2].keySlices[0].negativePoints, [[10, 10], [20, 10], [11, 11]]);
    // The input is not changed.
    assert.deepEqual(labels[0].keySlices[1].negativePoints, [[0, 0]]);
  });

  it('excludes the union of the other labels\' drawn masks on the slice', () => {
    const m = (...px: number[]): KeySlice => ({ index: 1, empty: false, mask: Uint8Array.from(px), points: [], negativePoints: [] });
    const out = withOtherLabels([
      { value: 1, keySlices: [m(1, 1, 0, 0)] },
      { value: 2, keySlices: [m(0, 0, 0, 1)] },
      { value: 3, keySlices: [{ index: 1, empty: false, box: [0, 0, 1, 1], points: [], negativePoints: [] }] },
    ]);
    assert.deepEqual([...(out[2].keySlices[0].excluded ?? [])], [1, 1, 0, 1]);
    assert.equal(out[0].keySlices[0].excluded, undefined, 'a drawn mask is taken as given');
  });

  it('returns a label that gains nothing as the same object, and adds no negative click twice', () => {
    const a = { value: 1, keySlices: [points(2, [[5, 5]], [[20, 20]])] };
    const b = { value: 2, keySlices: [points(2, [[20, 20]])] };
    const c = { value: 3, keySlices: [points(9, [[1, 1]])] };
    const out = withOtherLabels([a, b, c]);
    assert.equal(out[0], a, 'label 1 already has (20, 20) as a negative click');
    assert.equal(out[2], c);
    assert.deepEqual(out[1].keySlices[0].negativePoints, [[5, 5]]);
  });

  // Two objects of the same brightness touching along a side with no edge between them (as the head and the body
  // of one structure, labelled apart), on every slice of a small volume.
  const n = 48;
  const nz = 9;
  const rand = rng(5);
  const data = new Float32Array(n * n * nz);
  const truth = new Uint8Array(n * n * nz);
  for (let z = 0; z < nz; z++) {
    for (let v = 0; v < n; v++) {
      for (let u = 0; u < n; u++) {
        const i = u + n * (v + n * z);
        const inside = v >= 14 && v <= 33 && u >= 6 && u <= 41;
        truth[i] = inside ? (u <= 23 ? 1 : 2) : 0;
        data[i] = (inside ? 110 : 40) + 16 * (rand() - 0.5);
      }
    }
  }
  const image: Volume<Float32Array> = { size: [n, n, nz], spacing: [1, 1, 1], origin: [0, 0, 0], direction: IDENTITY_DIRECTION, data };
  const sg = new SliceGeometry(image, 2);
  const left: Point[] = [[10, 18], [19, 29], [12, 28]];
  const right: Point[] = [[37, 18], [28, 29], [35, 28]];
  const maskOf = (labels: ArrayLike<number>, value: number) => Uint8Array.from(labels as ArrayLike<number>, (x) => (x === value ? 1 : 0));

  it('keeps one label out of its touching neighbour where the neighbour is clicked on the same slice', async () => {
    const one: LabelAnnotation = { value: 1, keySlices: [points(4, left)] };
    const two: LabelAnnotation = { value: 2, keySlices: [points(4, right)] };
    // The key slice's cuts (the slices beyond follow them; with no edge between the objects, there the first
    // label keeps what both fronts take).
    const keyCut = (labels: ArrayLike<number>, value: number) => maskOf(sg.extract(labels, 4, new Uint8Array(sg.area)), value);
    const alone = keyCut((await segment(image, { axis: 2, labels: [one] })).labels.data, 1);
    const both = (await segment(image, { axis: 2, labels: [one, two] })).labels.data;
    const t1 = keyCut(truth, 1);
    const t2 = keyCut(truth, 2);
    const d1 = dice(keyCut(both, 1), t1);
    const d2 = dice(keyCut(both, 2), t2);
    // Alone, label 1's clicks flood into the look-alike neighbour; with label 2 clicked there, they stop at it.
    assert.ok(dice(alone, t1) < 0.8, `label 1 alone: Dice ${dice(alone, t1).toFixed(3)}`);
    assert.ok(d1 > 0.85 && d2 > 0.85, `labels 1 and 2 together: Dice ${d1.toFixed(3)}, ${d2.toFixed(3)}`);
    for (const [i, j] of right) assert.equal(both[sg.index(i, j, 4)], 2, `label 2's click (${i}, ${j}) is label 2's`);
  });

  it("keeps a label's cut out of another label's drawn mask on the same slice, which the output keeps whole", async () => {
    const keyCut = (labels: ArrayLike<number>, value: number) => maskOf(sg.extract(labels, 4, new Uint8Array(sg.area)), value);
    const drawn = keyCut(truth, 1);
    const two: LabelAnnotation = { value: 2, keySlices: [points(4, right)] };
    const alone = keyCut((await segment(image, { axis: 2, labels: [two] })).labels.data, 2);
    const both = (await segment(image, { axis: 2, labels: [{ value: 1, keySlices: [{ index: 4, empty: false, mask: drawn, points: [], negativePoints: [] }] }, two] })).labels.data;
    const t2 = keyCut(truth, 2);
    // Alone, label 2's clicks flood into the look-alike neighbour; next to label 1's drawn mask, they stop at it.
    assert.ok(dice(alone, t2) < 0.8, `label 2 alone: Dice ${dice(alone, t2).toFixed(3)}`);
    assert.ok(dice(keyCut(both, 2), t2) > 0.9, `label 2 next to the drawn label 1: Dice ${dice(keyCut(both, 2), t2).toFixed(3)}`);
    assert.deepEqual(keyCut(both, 1), drawn, "label 1's drawn mask is whole in the output");
  });

  for (const reuse of ['exact', 'fronts'] as const) {
    it(`a session re-propagates a label when another label's clicks on its slice change, and equals segment() (${reuse} reuse)`, async () => {
      const drain = async (it: AsyncIterable<SliceUpdate>) => {
        for await (const u of it) void u;
      };
      const s = await openSession(image, { reuse });
      await s.setKeySlice(1, 4, { points: left });
      await drain(s.propagate());
      await s.setKeySlice(2, 4, { points: right });
      // Only label 2's key slices changed, but label 1 sees label 2's clicks as its background.
      assert.deepEqual((await s.pending()).sort(), [1, 2]);
      await drain(s.propagate());
      const scratch = await segment(image, { axis: 2, labels: [{ value: 1, keySlices: [points(4, left)] }, { value: 2, keySlices: [points(4, right)] }] });
      assert.deepEqual((await s.labels()).data, scratch.labels.data);
      // Label 2's key slice moved to another slice: label 1's prompts are its own again, and its earlier result
      // comes back without a run.
      await s.setKeySlice(2, 6, { points: right });
      await s.removeKeySlice(2, 4);
      assert.deepEqual(await s.pending(), [2]);
      await drain(s.propagate());
      const moved = await segment(image, { axis: 2, labels: [{ value: 1, keySlices: [points(4, left)] }, { value: 2, keySlices: [points(6, right)] }] });
      assert.deepEqual((await s.labels()).data, moved.labels.data);
      assert.notDeepEqual(moved.labels.data, scratch.labels.data);
      assert.ok(await s.undo());
      assert.ok(await s.undo());
      await drain(s.propagate());
      assert.deepEqual((await s.labels()).data, scratch.labels.data, 'undo brings back the cut with label 2 on the slice');
      // Label 1's clicks become a drawn mask: label 2 on the same slice now excludes it.
      const drawn = maskOf(sg.extract(truth, 4, new Uint8Array(sg.area)), 1);
      await s.setKeySlice(1, 4, { mask: drawn });
      assert.deepEqual((await s.pending()).sort(), [1, 2]);
      await drain(s.propagate());
      const withDrawn = await segment(image, { axis: 2, labels: [{ value: 1, keySlices: [{ index: 4, empty: false, mask: drawn, points: [], negativePoints: [] }] }, { value: 2, keySlices: [points(4, right)] }] });
      assert.deepEqual((await s.labels()).data, withDrawn.labels.data);
      await s.close();
    });
  }
});
