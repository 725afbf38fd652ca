import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyzeVolume } from '../src/analysis/analyze.js';
import { regionProfile, runsOf } from '../src/analysis/profile.js';
import { segment } from '../src/pipeline/segment.js';
import { intensityWindow } from '../src/analysis/window.js';
import type { FrontReport, SliceReport } from '../src/propagation/types.js';
import { simulateLabel } from '../src/simulate/annotator.js';
import { planNextSlices, type PlanInput } from '../src/suggest/plan.js';
import { startSlice, suggestSlices } from '../src/suggest/suggest.js';
import { SliceGeometry } from '../src/volume/volume.js';
import { makeBlob } from './helpers/volumes.js';

/** Per-slice records of a predicted object with the given areas (key slices marked). */
function slicesOf(areas: number[], keys: number[], confidence = 0.8): SliceReport[] {
  return areas.map((area, slice) => ({
    slice,
    area,
    confidence: keys.includes(slice) ? 1 : confidence,
    source: keys.includes(slice) ? 'key' : area > 0 ? 'propagated' : 'none',
    from: [],
  }));
}

describe('similarity profile', () => {
  const b = makeBlob({ nz: 24, z0: 2, z1: 21, rmax: 12, noise: 1, dz: 1 });
  const area = 48 * 48;
  // Slices 6..9 repeat slice 5 exactly; slice 16 is replaced by unrelated values (a change).
  for (const w of [6, 7, 8, 9]) b.image.data.copyWithin(w * area, 5 * area, 6 * area);
  for (let i = 16 * area; i < 17 * area; i++) b.image.data[i] = ((i * 7919) % 997) / 4 - 120;
  const sg = new SliceGeometry(b.image, 2);
  const win = intensityWindow(b.image);

  it('measures every neighbouring pair, finds the redundant run and the change around the odd slice', () => {
    const p = regionProfile(b.image, sg, win);
    assert.equal(p.pairs.length, 23);
    for (const w of [5, 6, 7, 8]) assert.ok(p.pairs[w].ssim > 0.999, `pair ${w}: ssim ${p.pairs[w].ssim}`);
    assert.equal(p.predictability[0], null);
    assert.equal(p.predictability[23], null);
    assert.ok(p.redundantRuns.some(([a, c]) => a <= 6 && c >= 8), `runs ${JSON.stringify(p.redundantRuns)}`);
    const changes = p.changePoints.map((c) => c.slice);
    assert.ok(changes.includes(15) && changes.includes(16), `change points ${changes}`);
    assert.ok(!changes.some((c) => c >= 5 && c <= 8), 'no change inside the repeated run');
    assert.ok((p.predictability[16] ?? 1) < 0.5, 'the odd slice is not predicted by its neighbours');
  });

  it('profiles each annotated object inside its region, and the whole tissue', () => {
    const big = makeBlob({ nx: 96, ny: 96, nz: 24, z0: 2, z1: 21, rmax: 12, noise: 1, dz: 1 });
    const label = simulateLabel(big.truth, new SliceGeometry(big.image, 2), 1, [12], 'mask');
    const a = analyzeVolume(big.image, 2, { axis: 2, labels: [label] });
    assert.equal(a.count, 24);
    assert.equal(a.sliceSpacingMm, 1);
    assert.equal(a.labels.length, 1);
    assert.deepEqual(a.labels[0].keySlices, [12]);
    const [u0, v0, u1, v1] = a.labels[0].profile.box;
    assert.ok(u0 > 0 && v0 > 0 && u1 < 95 && v1 < 95, `the object region [${a.labels[0].profile.box}] lies inside the slice`);
    assert.equal(a.labels[0].profile.pairs.length, 23);
    assert.equal(analyzeVolume(big.image, 2, null).labels.length, 0);
  });

  it('profiles an object prompted by clicks alone in the region its propagation works in', async () => {
    // Clicks spread wider than the 15 mm least margin: their box is widened by its own size, not half of it.
    const big = makeBlob({ nx: 160, ny: 160, nz: 12, z0: 1, z1: 10, rmax: 36, noise: 1, dz: 3 });
    const label = simulateLabel(big.truth, new SliceGeometry(big.image, 2), 1, [6], 'points', big.image.data);
    const a = analyzeVolume(big.image, 2, { axis: 2, labels: [label] });
    const { report } = await segment(big.image, { axis: 2, labels: [label] }, { engine: 'classic' });
    assert.deepEqual(a.labels[0].profile.box, report.labels[0].roi);
  });

  it('runsOf groups consecutive flags', () => {
    assert.deepEqual(runsOf([false, true, true, false, true]), [[1, 2], [4, 4]]);
    assert.deepEqual(runsOf([]), []);
  });
});

describe('planning the next key slices', () => {
  const base = (over: Partial<PlanInput>): PlanInput => ({
    count: 40,
    sliceSpacingMm: 2,
    objectKeys: [],
    absentKeys: [],
    slices: [],
    fronts: [],
    ...over,
  });

  it('picks the middle of the largest gap between key slices, and says so in mm', () => {
    const areas = Array.from({ length: 40 }, (_, w) => (w >= 5 && w <= 35 ? 100 : 0));
    const keys = [5, 10, 35];
    const fronts: FrontReport[] = [
      { from: 5, direction: -1, last: null, slices: 0, stop: 'object-ended' },
      { from: 35, direction: 1, last: null, slices: 0, stop: 'object-ended' },
    ];
    const [s] = planNextSlices(base({ objectKeys: keys, slices: slicesOf(areas, keys), fronts }), 1);
    assert.ok(Math.abs(s.slice - 22.5) <= 1, `slice ${s.slice}`);
    assert.equal(s.reason, 'largest-gap');
    assert.match(s.detail, /50\.0 mm between key slices 10 and 35/);
  });

  it('cuts a long run beyond the outermost key slice near its middle (a bisection for the end)', () => {
    const areas = Array.from({ length: 40 }, (_, w) => (w >= 20 ? 100 : 0));
    const fronts: FrontReport[] = [
      { from: 20, direction: 1, last: 39, slices: 19, stop: 'volume-edge' },
      { from: 20, direction: -1, last: null, slices: 0, stop: 'object-ended' },
    ];
    const [s] = planNextSlices(base({ objectKeys: [20], slices: slicesOf(areas, [20]), fronts }), 1);
    assert.ok(s.slice > 24 && s.slice < 36, `slice ${s.slice}`);
    assert.equal(s.reason, 'far-from-keys');
  });

  it('asks beyond a front that stopped by itself: the object may go on', () => {
    const areas = Array.from({ length: 40 }, (_, w) => (w >= 18 && w <= 22 ? 100 : 0));
    const fronts: FrontReport[] = [
      { from: 20, direction: 1, last: 22, slices: 2, stop: 'low-confidence', detail: 'slice 23: confidence 0.3 < 0.5' },
      { from: 20, direction: -1, last: 18, slices: 2, stop: 'absent' },
    ];
    const out = planNextSlices(base({ objectKeys: [20], absentKeys: [17], slices: slicesOf(areas, [20]), fronts }), 3);
    assert.ok(out.length >= 1);
    assert.ok(out.every((s) => s.slice !== 17 && s.slice !== 20), 'never a key slice');
    assert.ok(out.every((s) => s.slice > 17), 'never beyond an absent key slice');
    const beyond = out.find((s) => s.slice === 23);
    assert.ok(beyond, `slice 23 asked: ${JSON.stringify(out)}`);
    assert.equal(beyond.reason, 'likely-end');
    assert.match(beyond.detail, /low-confidence/);
  });

  it('suggests distinct slices inside the range, and nothing when every slice is a key slice', () => {
    const areas = Array.from({ length: 40 }, (_, w) => (w >= 5 && w <= 30 ? 50 + w : 0));
    const out = planNextSlices(base({ objectKeys: [15], slices: slicesOf(areas, [15]), range: [10, 25] }), 5);
    assert.equal(out.length, 5);
    assert.equal(new Set(out.map((s) => s.slice)).size, 5);
    for (const s of out) assert.ok(s.slice >= 10 && s.slice <= 25 && s.slice !== 15, `slice ${s.slice}`);
    for (let n = 1; n < out.length; n++) assert.ok(out[n].gain <= out[n - 1].gain + 1e-9, 'best first');
    const full = planNextSlices(base({ count: 3, objectKeys: [0, 1, 2], slices: slicesOf([5, 5, 5], [0, 1, 2]) }), 2);
    assert.deepEqual(full, []);
  });

  it('weighs in doubt: an unusually unsure slice is picked before an equally distant sure one', () => {
    const areas = Array.from({ length: 21 }, () => 100);
    const slices = slicesOf(areas, [0, 10, 20]);
    slices[15].confidence = 0.2;
    const [s] = planNextSlices(base({ count: 21, objectKeys: [0, 10, 20], slices }), 1);
    assert.equal(s.slice, 15);
    assert.equal(s.reason, 'low-confidence');
  });
});

describe('keyslice suggest on a generated volume', () => {
  const b = makeBlob({ nz: 24, z0: 3, z1: 20, rmax: 12, noise: 4, dz: 2 });
  const sg = new SliceGeometry(b.image, 2);

  it('with no annotation, starts in the middle of the tissue', () => {
    const s = startSlice(b.image, 2);
    assert.equal(s.reason, 'start');
    assert.ok(Math.abs(s.slice - 11.5) <= 1, `slice ${s.slice}`);
  });

  it('with a box on one slice, first asks for a full mask, where the risk is and not next to the box', async () => {
    const label = simulateLabel(b.truth, sg, 1, [6], 'box');
    const r = await suggestSlices(b.image, 2, { axis: 2, labels: [label] }, { budget: 2 });
    const [first, second] = r.labels[0].suggestions;
    assert.notEqual(first.reason, 'start');
    assert.match(first.detail, /full mask/);
    // The object spans 3..20: most of it lies beyond the box's slice, and a suggestion there is not a neighbour.
    assert.ok(first.slice > 8, `first suggestion ${first.slice}`);
    assert.ok(second && second.slice !== first.slice && second.slice !== 6);
    assert.doesNotMatch(second.detail, /full mask/);
  });

  it('with a mask key slice, names slices to annotate with reasons, never a key slice', async () => {
    const label = simulateLabel(b.truth, sg, 1, [11], 'mask');
    const r = await suggestSlices(b.image, 2, { axis: 2, labels: [label] }, { budget: 3 });
    const s = r.labels[0].suggestions;
    assert.equal(s.length, 3);
    for (const x of s) {
      assert.ok(x.slice !== 11 && x.slice >= 0 && x.slice < 24);
      assert.ok(x.detail.length > 10);
    }
    // The first two go to either side of the key slice (the object spans 3..20).
    assert.ok(s.slice(0, 2).some((x) => x.slice < 11) && s.slice(0, 2).some((x) => x.slice > 11), JSON.stringify(s));
  });
});
