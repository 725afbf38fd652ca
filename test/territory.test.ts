import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Annotations } from '../src/annotations/types.js';
import { segment, type LabelReport, type SegmentResult } from '../src/pipeline/segment.js';
import type { LabelRun } from '../src/session/label-run.js';
import { mergeLabels } from '../src/session/merge.js';
import { meetingTips } from '../src/session/territory.js';
import { IDENTITY_DIRECTION, SliceGeometry, type Volume } from '../src/volume/volume.js';
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

/**
 * Two labels' propagated stacks on a 12 x 12 x 10 volume (slice axis 2): label 1 a 5 x 5 square (u, v 4-8) on slices 2-8;
 * label 2 (key slice 7) on slices `from`-8, a 2-wide strip of `rows` rows just right of label 1's square.
 */
function sideBySide(from: number, rows: number) {
  const n = 12;
  const count = 10;
  const image: Volume = { size: [n, n, count], spacing: [1, 1, 1], origin: [0, 0, 0], direction: IDENTITY_DIRECTION, data: new Float32Array(n * n * count) };
  const sg = new SliceGeometry(image, 2);
  const stack = (set: (u: number, v: number, w: number) => boolean) => {
    const mask = new Uint8Array(n * n * count);
    for (let w = 0; w < count; w++) for (let v = 0; v < n; v++) for (let u = 0; u < n; u++) if (set(u, v, w)) mask[u + n * (v + n * w)] = 1;
    return mask;
  };
  const run = (value: number, key: number, mask: Uint8Array): LabelRun => ({
    label: { value, keySlices: [{ index: key, empty: false, points: [], negativePoints: [] }] },
    propagation: { roi: { u0: 0, v0: 0, u1: n, v1: n }, mask, nu: n, nv: n, keyMasks: new Map(), slices: [], fronts: [], reused: 0, skipped: 0, skipsRejected: 0, engineCalls: 0 },
    report: { value, fronts: [{ direction: -1, from: key, last: from, slices: key - from, stop: 'object-ended', detail: 'area 0 px' }], slices: [] } as unknown as LabelReport,
  });
  const l1 = run(1, 5, stack((u, v, w) => w >= 2 && w <= 8 && u >= 4 && u <= 8 && v >= 4 && v <= 8));
  const l2 = run(2, 7, stack((u, v, w) => w >= from && w <= 8 && u >= 9 && u <= 10 && v >= 4 && v < 4 + rows));
  return { image, sg, runs: [l1, l2] };
}

describe('a label tapering out beside another', () => {
  it('gets a tip on the next slice where its last cross-section is a sliver touching the other label there', () => {
    const { image, sg, runs } = sideBySide(5, 3);
    const spans: [number, number][] = [[0, 9], [0, 9]];
    const tips = meetingTips(sg, runs, spans);
    // Label 2's last slice below its key slice is 5 (6 px against label 1's 25): a quarter of it, 2 px, on slice
    // 4 next to label 1's square (column 9), nearest the strip's centre first. Label 1 tapers beside nothing.
    assert.deepEqual(tips[0], []);
    assert.deepEqual(tips[1], [{ side: -1, slice: 4, by: 1, pixels: [[9, 5], [9, 4]] }]);
    const { out, reports } = mergeLabels(image, sg, runs, 2);
    assert.equal(out[sg.index(9, 5, 4)], 2);
    assert.equal(out[sg.index(9, 4, 4)], 2);
    assert.equal(out[sg.index(9, 6, 4)], 0);
    const r2 = reports.find((r) => r.value === 2);
    assert.deepEqual(r2?.extent, [4, 8]);
    assert.equal(r2?.voxels, 6 * 4 + 2);
    assert.match(r2?.fronts[0].detail ?? '', /slice 4 holds its tip beside label 1$/);
    // Where the label's span ends above that slice (a territory end), it gets none.
    assert.deepEqual(meetingTips(sg, runs, [[0, 9], [5, 9]])[1], []);
  });

  it('gets none where its last cross-section is not a sliver beside the other label', () => {
    // 8 rows: 16 px, more than half of label 1's 25.
    const { sg, runs } = sideBySide(5, 8);
    assert.deepEqual(meetingTips(sg, runs, [[0, 9], [0, 9]])[1], []);
  });
});
