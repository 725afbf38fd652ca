import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Annotations } from '../src/annotations/types.js';
import { segment, type SegmentResult } from '../src/pipeline/segment.js';
import { SliceGeometry } from '../src/volume/volume.js';
import { touchingParts } from './helpers/volumes.js';

function extentOf(data: ArrayLike<number>, sg: SliceGeometry, value: number): [number, number] | null {
  let first = -1;
  let last = -1;
  for (let w = 0; w < sg.count; w++) {
    const m = sg.maskOf(data, w, value);
    if (m && m.some((x) => x)) {
      if (first < 0) first = w;
      last = w;
    }
  }
  return first < 0 ? null : [first, last];
}

const stops = (r: SegmentResult, value: number) => r.report.labels.find((l) => l.value === value)?.fronts.map((f) => f.stop);

describe("labels ending on another label's territory", () => {
  it('two parts touching along the slice axis, one key slice each: each ends where the other begins, in either order of labels', async () => {
    const { blob, sg, key } = touchingParts(14, 'slices');
    const l1 = { value: 1, keySlices: [key(1, 7)] };
    const l2 = { value: 2, keySlices: [key(2, 21)] };
    // Alone, a part runs on through the other to the object's end.
    const alone = await segment(blob.image, { axis: 2, labels: [l2] }, { engine: 'classic' });
    assert.deepEqual(extentOf(alone.labels.data, sg, 2), [2, 27]);
    assert.ok(!stops(alone, 2)?.includes('other-label'));
    for (const labels of [
      [l1, l2],
      [l2, l1],
    ]) {
      const r = await segment(blob.image, { axis: 2, labels } satisfies Annotations, { engine: 'classic' });
      const e1 = extentOf(r.labels.data, sg, 1);
      const e2 = extentOf(r.labels.data, sg, 2);
      assert.ok(e1 && e1[0] === 2 && e1[1] >= 13 && e1[1] <= 14, `label 1 on ${String(e1)}`);
      assert.ok(e2 && e2[1] === 27 && e2[0] >= 14 && e2[0] <= 15, `label 2 on ${String(e2)}`);
      assert.deepEqual(stops(r, 1), ['object-ended', 'other-label']);
      assert.equal(stops(r, 2)?.[0], 'other-label');
      const front = r.report.labels.find((l) => l.value === 2)?.fronts[0];
      assert.match(front?.detail ?? '', /^slice 13: \d+% of the mask on label 1$/);
      assert.equal(front?.last, 14);
      // The report's extent is the merged volume's.
      assert.deepEqual(r.report.labels.find((l) => l.value === 2)?.extent, e2);
    }
  });

  it("a label whose key slices span the other's outermost key slice shares those slices and does not end it", async () => {
    const { blob, sg, key } = touchingParts(20, 'side');
    const r = await segment(blob.image, { axis: 2, labels: [
      { value: 1, keySlices: [key(1, 6), key(1, 22)] },
      { value: 2, keySlices: [key(2, 12)] },
    ] }, { engine: 'classic' });
    assert.ok(!stops(r, 2)?.includes('other-label'), String(stops(r, 2)));
    const e2 = extentOf(r.labels.data, sg, 2);
    assert.ok(e2 && e2[0] <= 4 && e2[1] >= 25, `label 2 on ${String(e2)}`);
  });
});
