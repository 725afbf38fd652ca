import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { KeySlice, LabelAnnotation } from '../src/annotations/types.js';
import { intensityWindow } from '../src/analysis/window.js';
import { propagateObject, type PropagationOptions } from '../src/propagation/controller.js';
import type { PropagationStep, RoiImage, SliceEngine } from '../src/propagation/types.js';
import { segment } from '../src/pipeline/segment.js';
import { ClassicSession, classicEngine, DEFAULT_CLASSIC } from '../src/engines/classic/engine.js';
import { selectKeySlices, simulateLabel, sliceAreas } from '../src/simulate/annotator.js';
import { readLabelVolume, readVolume } from '../src/volume/io-node.js';
import { defaultSliceAxis, SliceGeometry } from '../src/volume/volume.js';
import { SHARED_DATA, sharedDataSkip } from './helpers/paths.js';
import { dice, makeBlob } from './helpers/volumes.js';

const NO_SIMILARITY = { ssimBreak: -1, histogramBreak: 2, duplicateSsim: 2, skipPredictability: 2 };

function disc(nu: number, nv: number, ci: number, cj: number, r: number): Uint8Array {
  const m = new Uint8Array(nu * nv);
  for (let j = 0; j < nv; j++) for (let i = 0; i < nu; i++) if ((i - ci) ** 2 + (j - cj) ** 2 <= r * r) m[i + nu * j] = 1;
  return m;
}

function keyMask(index: number, mask: Uint8Array): KeySlice {
  return { index, empty: false, mask, points: [], negativePoints: [] };
}
function absent(index: number): KeySlice {
  return { index, empty: true, points: [], negativePoints: [] };
}

/** A test engine for mask prompts only, with the given propagation step. */
function engineOf(name: string, propagate: (step: PropagationStep, img: RoiImage) => { mask: Uint8Array; confidence: number }): SliceEngine {
  return {
    name,
    description: 'test engine',
    async open(img: RoiImage) {
      return {
        async segmentSlice() {
          throw new Error('mask prompts only');
        },
        async propagate(step) {
          return propagate(step, img);
        },
      };
    },
  };
}

/**
 * A scripted engine: carries the mask over unchanged, with a confidence and an area given per target slice by
 * `behave`; records every step.
 */
function scripted(behave: (to: number, from: number) => { confidence?: number; empty?: boolean } = () => ({})) {
  const steps: PropagationStep[] = [];
  const engine = engineOf('scripted', (step, img) => {
    steps.push(step);
    const b = behave(step.to, step.from);
    return { mask: b.empty ? new Uint8Array(img.nu * img.nv) : step.mask.slice(), confidence: b.confidence ?? 0.9 };
  });
  return { engine, steps };
}

const blob = makeBlob({ nz: 20 });
const sg = new SliceGeometry(blob.image, 2);
const window = intensityWindow(blob.image);
const KEY = disc(48, 48, 24, 24, 8);

async function run(label: LabelAnnotation, engine: SliceEngine, options: PropagationOptions = {}) {
  const p = await propagateObject(blob.image, sg, label, engine, window, { stopRules: NO_SIMILARITY, ...options });
  assert.ok(p);
  return p;
}

const areaOf = (p: { mask: Uint8Array; nu: number; nv: number }, w: number): number => {
  const a = p.nu * p.nv;
  let n = 0;
  for (let i = w * a; i < (w + 1) * a; i++) n += p.mask[i];
  return n;
};

describe('propagation schedule', () => {
  it('runs fronts outward from the ends and inward from both sides of a gap, one neighbouring slice at a time', async () => {
    const { engine, steps } = scripted();
    const p = await run({ value: 1, keySlices: [keyMask(6, KEY), keyMask(12, KEY)] }, engine);
    for (const s of steps) assert.equal(Math.abs(s.to - s.from), 1, 'steps go to a neighbouring slice');
    for (const s of steps) assert.ok(s.to !== 6 && s.to !== 12, `a front never writes a key slice (step to ${s.to})`);
    // Between the keys, with the interpolation prior: from 6 up to 10 and from 12 down to 8 (on slice 11 the front
    // from 12 decides the fused mask alone, on slice 7 the front from 6 does).
    const up = steps.filter((s) => s.key === 6 && s.to > 6).map((s) => s.to);
    const down = steps.filter((s) => s.key === 12 && s.to < 12).map((s) => s.to);
    assert.deepEqual(up, [7, 8, 9, 10]);
    assert.deepEqual(down, [11, 10, 9, 8]);
    for (const s of steps.filter((x) => x.to > 6 && x.to < 12)) assert.ok(s.prior, 'prior given between key slices');
    for (const s of steps.filter((x) => x.to < 6 || x.to > 12)) assert.equal(s.prior, null, 'no prior outside');
    const stops = p.fronts.map((f) => `${f.from}${f.direction > 0 ? '+' : '-'}:${f.stop}:${f.last}`);
    assert.deepEqual(stops.sort(), ['12+:volume-edge:19', '12-:gap-covered:8', '6+:gap-covered:10', '6-:volume-edge:0'].sort());
    assert.equal(p.slices[9].source, 'fused');
    assert.deepEqual(p.slices[9].from, [6, 12]);
    assert.equal(p.slices[3].source, 'propagated');
    assert.deepEqual(p.slices[3].from, [6]);
  });

  it('never changes a key slice, whatever the engine returns', async () => {
    const small = disc(48, 48, 24, 24, 3);
    const engine = engineOf('greedy', (_step, img) => ({ mask: new Uint8Array(img.nu * img.nv).fill(1), confidence: 1 }));
    const label: LabelAnnotation = { value: 1, keySlices: [keyMask(5, small), keyMask(8, KEY), absent(14)] };
    const { labels } = await segment(blob.image, { axis: 2, labels: [label] }, { engine, stopRules: NO_SIMILARITY });
    assert.deepEqual(Array.from(sg.maskOf(labels.data, 5, 1) ?? []), Array.from(small));
    assert.deepEqual(Array.from(sg.maskOf(labels.data, 8, 1) ?? []), Array.from(KEY));
    assert.equal(sg.countEqual(labels.data, 14, 1), 0, 'absent key slice stays empty');
    assert.equal(sg.countEqual(labels.data, 15, 1), 0, 'nothing propagates across the absent key slice');
    assert.ok(sg.countEqual(labels.data, 13, 1) > 0, 'the front ran up to the absent slice');
  });

  it('stops for the stated reasons: absent, range, low confidence, object ended, area collapse, regrowth', async () => {
    {
      const { engine } = scripted();
      const p = await run({ value: 1, keySlices: [absent(3), keyMask(8, KEY), absent(13)] }, engine);
      assert.deepEqual(p.fronts.map((f) => [f.from, f.direction, f.stop, f.last]).sort(), [
        [8, -1, 'absent', 4],
        [8, 1, 'absent', 12],
      ]);
      assert.equal(areaOf(p, 3), 0);
      assert.equal(areaOf(p, 2), 0, 'nothing beyond an absent slice');
    }
    {
      const { engine } = scripted();
      const p = await run({ value: 1, keySlices: [keyMask(8, KEY)] }, engine, { range: [5, 11] });
      assert.deepEqual(p.fronts.map((f) => [f.direction, f.stop, f.last]).sort(), [
        [-1, 'range', 5],
        [1, 'range', 11],
      ]);
      assert.equal(areaOf(p, 4), 0);
      assert.equal(areaOf(p, 12), 0);
    }
    {
      const { engine } = scripted((to) => ({ confidence: to >= 11 ? 0.2 : 0.9, empty: to <= 5 }));
      const p = await run({ value: 1, keySlices: [keyMask(8, KEY)] }, engine);
      const up = p.fronts.find((f) => f.direction === 1);
      const down = p.fronts.find((f) => f.direction === -1);
      assert.equal(up?.stop, 'low-confidence');
      assert.equal(up?.last, 10, 'the low-confidence slice is not kept');
      assert.equal(down?.stop, 'object-ended');
      assert.equal(down?.last, 6);
      assert.equal(areaOf(p, 11), 0);
      assert.equal(areaOf(p, 5), 0);
    }
    {
      // Area collapse: the engine returns a tiny mask on slice 11.
      const engine = engineOf('shrinking', (step, img) => ({
        mask: step.to === 11 ? disc(img.nu, img.nv, 24, 24, 2) : step.mask.slice(),
        confidence: 0.9,
      }));
      const p = await run({ value: 1, keySlices: [keyMask(8, KEY)] }, engine);
      const up = p.fronts.find((f) => f.direction === 1);
      assert.equal(up?.stop, 'area-collapse');
      assert.equal(up?.last, 11, 'the collapsed slice is kept as the end');
      assert.equal(areaOf(p, 12), 0);
    }
    {
      // Regrowth beyond the outermost key slice: radius 8 → 5 → 4 → 6 (area 1.8 x the smallest).
      // Below the key: 5 → 4 → 4.4 from there on (area 1.2 x the smallest: goes on to the volume's edge).
      const radius: Record<number, number> = { 9: 5, 10: 4, 11: 6, 7: 5, 6: 4 };
      const engine = engineOf('regrowing', (step, img) => ({
        mask: disc(img.nu, img.nv, 24, 24, radius[step.to] ?? (step.to < 8 ? 4.4 : 8)),
        confidence: 0.9,
      }));
      const p = await run({ value: 1, keySlices: [keyMask(8, KEY)] }, engine);
      const up = p.fronts.find((f) => f.direction === 1);
      const down = p.fronts.find((f) => f.direction === -1);
      assert.equal(up?.stop, 'area-regrowth');
      assert.equal(up?.last, 10, 'the regrown slice is not kept');
      assert.equal(areaOf(p, 11), 0);
      assert.equal(down?.stop, 'volume-edge', 'growth within the ratio goes on');
    }
    {
      // Regrowth in steps: radius 8 → 5 → 4 → 4.3 (within the ratio) → 6. The slice that grew back within the
      // ratio is on the neighbour too: the front ends on its smallest slice.
      const radius: Record<number, number> = { 9: 5, 10: 4, 11: 4.3, 12: 6 };
      const engine = engineOf('regrowing-slowly', (step, img) => ({
        mask: disc(img.nu, img.nv, 24, 24, radius[step.to] ?? (step.to < 8 ? 0 : 8)),
        confidence: 0.9,
      }));
      const p = await run({ value: 1, keySlices: [keyMask(8, KEY)] }, engine);
      const up = p.fronts.find((f) => f.direction === 1);
      assert.equal(up?.stop, 'area-regrowth');
      assert.equal(up?.last, 10, 'ends on the smallest slice');
      assert.ok(areaOf(p, 10) > 0);
      assert.equal(areaOf(p, 11), 0, 'the slice that grew back is not kept');
      assert.equal(areaOf(p, 12), 0);
    }
  });

  it('bounds the outward fronts by an extent, and takes the extent from the engine\'s extent engine', async () => {
    const { engine, steps } = scripted();
    const p = await run({ value: 1, keySlices: [keyMask(6, KEY), keyMask(12, KEY)] }, engine, { extent: [4, 15] });
    const stops = p.fronts.map((f) => `${f.from}${f.direction > 0 ? '+' : '-'}:${f.stop}:${f.last}`);
    assert.deepEqual(stops.sort(), ['12+:extent:15', '12-:gap-covered:8', '6+:gap-covered:10', '6-:extent:4'].sort());
    assert.ok(steps.every((s) => s.to >= 4 && s.to <= 15), 'no step beyond the extent');
    // The user's range is tighter than the extent: the range is the reason.
    const q = await run({ value: 1, keySlices: [keyMask(6, KEY)] }, scripted().engine, { extent: [2, 15], range: [5, 17] });
    assert.deepEqual(q.fronts.map((f) => [f.direction, f.stop, f.last]).sort(), [
      [-1, 'range', 5],
      [1, 'extent', 15],
    ]);
    // segment(): the extent engine's object (here it ends two slices beyond the keys) bounds the main engine.
    const scout = engineOf('scout', (step, img) => ({
      mask: step.to < 4 || step.to > 14 ? new Uint8Array(img.nu * img.nv) : step.mask.slice(),
      confidence: 0.9,
    }));
    const main = { ...scripted().engine, extentEngine: scout };
    const { report } = await segment(blob.image, { axis: 2, labels: [{ value: 1, keySlices: [keyMask(6, KEY), keyMask(12, KEY)] }] }, {
      engine: main,
      stopRules: NO_SIMILARITY,
    });
    const l = report.labels[0];
    assert.deepEqual(l.extentRun?.extent, [4, 14]);
    assert.equal(l.extentRun?.engine, 'scout');
    assert.deepEqual(l.extent, [4, 14]);
    assert.deepEqual(l.fronts.filter((f) => f.stop === 'extent').map((f) => f.last).sort(), [14, 4]);
    const off = await segment(blob.image, { axis: 2, labels: [{ value: 1, keySlices: [keyMask(6, KEY)] }] }, {
      engine: main,
      stopRules: NO_SIMILARITY,
      useExtentEngine: false,
    });
    assert.equal(off.report.labels[0].extentRun, undefined);
    assert.deepEqual(off.report.labels[0].extent, [0, 19]);
  });

  it('restarts at the next key slice: a front that stopped leaves the rest of the gap to the other front', async () => {
    // The front from 4 loses confidence from slice 7 on; the front from 14 does not.
    const { engine } = scripted((to, from) => ({ confidence: from < to && to >= 7 ? 0.1 : 0.9 }));
    const p = await run({ value: 1, keySlices: [keyMask(4, KEY), keyMask(14, KEY)] }, engine);
    const fromLow = p.fronts.find((f) => f.from === 4 && f.direction === 1);
    assert.equal(fromLow?.stop, 'low-confidence');
    assert.equal(fromLow?.last, 6);
    // The front from 14 runs down to where the front from 4 stopped (on slices 5 and 6 that front decides alone).
    const fromHigh = p.fronts.find((f) => f.from === 14 && f.direction === -1);
    assert.equal(fromHigh?.stop, 'gap-covered');
    assert.equal(fromHigh?.last, 7);
    for (let w = 7; w <= 13; w++) {
      assert.equal(p.slices[w].source, 'propagated', `slice ${w}`);
      assert.deepEqual(p.slices[w].from, [14]);
    }
    for (const w of [5, 6]) assert.deepEqual(p.slices[w].from, [4]);
  });

  it('runs each front of a gap only as far as its mask takes part in the fusion, with the masks of fronts run to the end', async () => {
    // Masks that differ by front and slice, so that the fusion's votes matter: a disc whose radius and centre
    // follow the slice, the front's direction and the step; `stopDown` stops the front from above early.
    const moving = (stopDown: (to: number) => boolean, keepsCommits: boolean) => {
      const calls: number[] = [];
      const engine: SliceEngine = {
        name: 'moving',
        description: 'test engine',
        async open(img: RoiImage) {
          return {
            async segmentSlice() {
              throw new Error('mask prompts only');
            },
            async propagate(step: PropagationStep) {
              calls.push(step.to);
              const r = 6 + ((step.to * 7 + (step.front.direction > 0 ? 3 : 0)) % 5);
              const c = 22 + ((step.to * 3) % 4) * step.front.direction;
              return { mask: disc(img.nu, img.nv, c, 24, r), confidence: step.front.direction < 0 && stopDown(step.to) ? 0.1 : 0.9 };
            },
            // An engine that keeps what it commits runs every front to its end.
            ...(keepsCommits ? { commit() {} } : {}),
          };
        },
      };
      return { engine, calls };
    };
    const label = { value: 1, keySlices: [keyMask(2, KEY), keyMask(17, disc(48, 48, 26, 24, 7))] };
    for (const stopDown of [() => false, (to: number) => to <= 15]) {
      const full = moving(stopDown, true);
      const covered = moving(stopDown, false);
      const a = await run(label, full.engine);
      const b = await run(label, covered.engine);
      assert.deepEqual(Array.from(b.mask), Array.from(a.mask), 'the same masks on every slice');
      const up = b.fronts.find((f) => f.from === 2 && f.direction === 1);
      const down = b.fronts.find((f) => f.from === 17 && f.direction === -1);
      if (stopDown(15)) {
        // The front from 17 stopped at 16: the front from 2, needed up to 13, ran again up to 15 to meet it.
        assert.equal(down?.stop, 'low-confidence');
        assert.equal(down?.last, 16);
        assert.equal(up?.last, 15);
      } else {
        assert.ok(covered.calls.length < full.calls.length, `${covered.calls.length} engine calls < ${full.calls.length}`);
        // t = (w - 2) / 15: the front from 2 is needed up to t = 0.75 (slice 13), the one from 17 down to 6.
        assert.equal(up?.stop, 'gap-covered');
        assert.equal(up?.last, 13);
        assert.equal(down?.stop, 'gap-covered');
        assert.equal(down?.last, 6);
      }
    }
  });

  it('fills a gap no front reached with the interpolation prior', async () => {
    const { engine } = scripted(() => ({ confidence: 0 }));
    const p = await run({ value: 1, keySlices: [keyMask(4, KEY), keyMask(8, disc(48, 48, 24, 24, 4))] }, engine);
    for (let w = 5; w <= 7; w++) {
      assert.equal(p.slices[w].source, 'interpolated');
      const a = areaOf(p, w);
      assert.ok(a > 0 && a < areaOf(p, 4), `slice ${w}: area ${a} between the key areas`);
    }
  });

  it('leaves a gap empty where both fronts found nothing of the object on their next slice', async () => {
    // Two lesions of one label, one above the other: each front ends at once (object-ended); bridging them with
    // the prior would draw a lesion where the image shows none. A front stopped for doubt still gets the prior.
    const keys = [keyMask(4, KEY), keyMask(8, disc(48, 48, 24, 24, 4))];
    const ended = await run({ value: 1, keySlices: keys }, scripted(() => ({ empty: true })).engine);
    assert.deepEqual(new Set(ended.fronts.map((f) => f.stop)), new Set(['object-ended']));
    assert.deepEqual([ended.slices[6].source, areaOf(ended, 6)], ['none', 0], 'slice 6');
    // Next to each key slice, the key mask's core is the lesion's tip: a quarter of it, inside it.
    for (const [w, key] of [[5, 4], [7, 8]]) {
      assert.deepEqual([ended.slices[w].source, ended.slices[w].from, ended.slices[w].confidence], ['propagated', [key], 0], `slice ${w}`);
      assert.equal(areaOf(ended, w), Math.floor(areaOf(ended, key) / 4), `slice ${w}: a quarter of key slice ${key}`);
      for (let i = 0; i < ended.nu * ended.nv; i++) {
        assert.ok(!ended.mask[w * ended.nu * ended.nv + i] || ended.mask[key * ended.nu * ended.nv + i], `slice ${w}: inside the key mask`);
      }
    }
    const oneDoubts = await run({ value: 1, keySlices: keys }, scripted((to, from) => (from < to ? { empty: true } : { confidence: 0 })).engine);
    for (let w = 5; w <= 7; w++) assert.equal(oneDoubts.slices[w].source, 'interpolated', `slice ${w}`);
  });

  it('leaves a long gap empty where both fronts stopped by themselves, more than twice the key masks\' width unseen', async () => {
    // Small sections near each other in the slice (not apart), 15 slices of 2 mm apart: the front from 2 finds
    // nothing on slice 3, the one from 17 is unsure of slice 16. 28 mm unseen against sections 4-5 mm wide: two
    // lesions, not one tube; the prior does not bridge them.
    const engine = scripted((to, from) => (from < to ? { empty: true } : { confidence: 0 })).engine;
    const small = await run({ value: 1, keySlices: [keyMask(2, disc(48, 48, 24, 24, 2)), keyMask(17, disc(48, 48, 26, 25, 2))] }, engine);
    const inGap = small.fronts.filter((f) => (f.from === 2 && f.direction === 1) || (f.from === 17 && f.direction === -1));
    assert.deepEqual(inGap.map((f) => f.stop), ['object-ended', 'low-confidence']);
    // The front from 2 leaves its key mask's core on slice 3 (it found nothing there); the one from 17 no tip.
    assert.deepEqual([small.slices[3].source, small.slices[3].from], ['propagated', [2]]);
    assert.ok(areaOf(small, 3) > 0 && areaOf(small, 3) < areaOf(small, 2));
    for (let w = 4; w <= 16; w++) assert.deepEqual([small.slices[w].source, areaOf(small, w)], ['none', 0], `slice ${w}`);
    // Sections 16 mm wide, as far apart: one object the fronts lost; the prior fills the gap.
    const wide = await run({ value: 1, keySlices: [keyMask(2, KEY), keyMask(17, disc(48, 48, 25, 24, 8))] }, engine);
    for (let w = 3; w <= 16; w++) assert.equal(wide.slices[w].source, 'interpolated', `slice ${w}`);
  });

  it('stops at a break in slice similarity, and reuses near-duplicate slices without running the engine', async () => {
    const b = makeBlob({ nz: 16, z0: 0, z1: 15, rmax: 10 });
    // Slices 11.. become unrelated noise: a break in similarity.
    const area = 48 * 48;
    for (let i = 11 * area; i < 16 * area; i++) b.image.data[i] = ((i * 7919) % 997) / 2 - 200;
    // Slices 3, 4 copy slice 5: near-duplicates.
    for (const w of [3, 4]) b.image.data.copyWithin(w * area, 5 * area, 6 * area);
    const gs = new SliceGeometry(b.image, 2);
    const { engine, steps } = scripted();
    const p = await propagateObject(b.image, gs, simulateLabel(b.truth, gs, 1, [5], 'mask'), engine, intensityWindow(b.image));
    assert.ok(p);
    const up = p.fronts.find((f) => f.direction === 1);
    assert.equal(up?.stop, 'similarity-break');
    assert.equal(up?.last, 10);
    assert.match(up?.detail ?? '', /ssim/);
    assert.equal(p.reused, 2);
    assert.ok(!steps.some((s) => s.to === 4 || s.to === 3), 'the engine did not run on the duplicates');
    assert.equal(p.slices[4].reused, true);
    assert.equal(areaOf(p, 4), areaOf(p, 5));
  });
});

describe('skipping redundant slices', () => {
  // A slowly changing object on thin, clean slices: every slice is what its neighbours predict.
  const b = makeBlob({ nz: 30, z0: 0, z1: 29, rmax: 14, noise: 0.5, dz: 1 });
  const gs = new SliceGeometry(b.image, 2);
  const win = intensityWindow(b.image);
  const label = simulateLabel(b.truth, gs, 1, [15], 'mask');
  const noDuplicates = { duplicateSsim: 2 };

  it('steps two slices at once where the object changes slowly, and interpolates the slice in between', async () => {
    const { engine, steps } = scripted();
    const p = await propagateObject(b.image, gs, label, engine, win, { stopRules: noDuplicates });
    assert.ok(p);
    const long = steps.filter((s) => Math.abs(s.to - s.from) === 2);
    assert.ok(long.length >= 5, `${long.length} two-slice steps`);
    assert.equal(p.skipped, long.length - p.skipsRejected);
    const skipped = p.slices.filter((s) => s.skipped);
    assert.equal(skipped.length, p.skipped);
    for (const s of skipped) {
      assert.equal(s.source, 'propagated');
      assert.ok(s.area > 0, `slice ${s.slice} filled`);
      assert.ok(!steps.some((x) => x.to === s.slice), `the engine never ran on skipped slice ${s.slice}`);
    }
    // Every slice from 0 to 29 is written, and engine calls + skipped slices cover them.
    for (let w = 0; w < 30; w++) assert.ok(areaOf(p, w) > 0, `slice ${w}`);
    assert.equal(p.engineCalls - p.skipsRejected + p.skipped, 29);
    const off = await propagateObject(b.image, gs, label, scripted().engine, win, { stopRules: { ...noDuplicates, skipPredictability: 2 } });
    assert.ok(off);
    assert.equal(off.skipped, 0);
    assert.equal(off.engineCalls, 29, 'without skipping every slice runs the engine');
  });

  it('keeps a two-slice step only when its mask agrees with the previous one; otherwise steps one slice', async () => {
    // The engine jumps sideways on two-slice steps: they disagree with the previous mask and are not kept.
    const steps: PropagationStep[] = [];
    const engine = engineOf('jumpy', (step) => {
      steps.push(step);
      if (Math.abs(step.to - step.from) === 1) return { mask: step.mask.slice(), confidence: 0.9 };
      const moved = new Uint8Array(step.mask.length);
      for (let i = 0; i < moved.length; i++) if (step.mask[i]) moved[i + (i % 48 < 40 ? 8 : 0)] = 1;
      return { mask: moved, confidence: 0.9 };
    });
    const p = await propagateObject(b.image, gs, label, engine, win, { stopRules: noDuplicates });
    assert.ok(p);
    assert.equal(p.skipped, 0);
    assert.ok(p.skipsRejected > 0);
    for (let w = 0; w < 30; w++) if (w !== 15) assert.equal(p.slices[w].skipped, undefined);
    assert.ok(steps.filter((s) => Math.abs(s.to - s.from) === 1).length >= 29, 'every slice was reached by a single step');
  });
});

describe('classic engine on a generated volume', () => {
  const b = makeBlob({ nz: 20, z0: 4, z1: 15, rmax: 12, noise: 10 });
  const gs = new SliceGeometry(b.image, 2);
  const mid = 10;

  it('from one key mask, follows the object and stops within a slice of its true ends', async () => {
    const label = simulateLabel(b.truth, gs, 1, [mid], 'mask');
    const { labels, report } = await segment(b.image, { axis: 2, labels: [label] });
    const d = dice(labels.data, b.truth);
    assert.ok(d > 0.85, `Dice ${d.toFixed(3)}`);
    const [first, last] = report.labels[0].extent ?? [-1, -1];
    assert.ok(Math.abs(first - 4) <= 1 && Math.abs(last - 15) <= 1, `extent ${first}..${last}, truth 4..15`);
    for (const f of report.labels[0].fronts) {
      assert.ok(['object-ended', 'low-confidence', 'area-collapse', 'area-regrowth', 'similarity-break'].includes(f.stop), f.stop);
    }
  });

  it('segments a key slice from a box, and from points', async () => {
    const truth = gs.maskOf(b.truth, mid, 1) as Uint8Array;
    const boxLabel = simulateLabel(b.truth, gs, 1, [mid], 'box');
    const { labels } = await segment(b.image, { axis: 2, labels: [boxLabel] }, { range: [mid, mid] });
    const fromBox = gs.maskOf(labels.data, mid, 1) as Uint8Array;
    assert.ok(dice(fromBox, truth) > 0.9, `box: Dice ${dice(fromBox, truth).toFixed(3)}`);
    const ks: KeySlice = { index: mid, empty: false, points: [[24, 24]], negativePoints: [[8, 8]] };
    const r = await segment(b.image, { axis: 2, labels: [{ value: 1, keySlices: [ks] }] }, { range: [mid, mid] });
    const fromPoints = gs.maskOf(r.labels.data, mid, 1) as Uint8Array;
    assert.ok(dice(fromPoints, truth) > 0.8, `points: Dice ${dice(fromPoints, truth).toFixed(3)}`);
  });

  it('between two key slices beats contour interpolation when the shape changes (image-guided)', async () => {
    const label = simulateLabel(b.truth, gs, 1, [5, 14], 'mask');
    const classic = await segment(b.image, { axis: 2, labels: [label] }, { range: [5, 14] });
    const interp = await segment(b.image, { axis: 2, labels: [label] }, { engine: 'interp' });
    const dc = dice(classic.labels.data, b.truth);
    const di = dice(interp.labels.data, b.truth);
    assert.ok(dc > di + 0.02, `classic ${dc.toFixed(3)} vs interp ${di.toFixed(3)}`);
  });
});

describe('classic engine: extra evidence in the cut (the hybrid engine\'s model term)', () => {
  // Texture with the same statistics everywhere: the intensity models cannot tell object from background, so
  // the shape prior and the guide decide.
  const n = 40;
  const flat = Float32Array.from({ length: n * n }, (_, i) => 100 + ((i * 7919) % 13) - 6);
  const img: RoiImage = { nu: n, nv: n, count: 3, du: 1, dv: 1, dw: 1, raw: () => flat, windowed: () => flat };
  const prev = disc(n, n, 20, 20, 8);
  const shifted = disc(n, n, 22, 20, 8);
  const logits = Float32Array.from(shifted, (x) => (x ? 6 : -6));
  const step: PropagationStep = { front: { key: 1, direction: 1, between: false }, from: 1, to: 2, mask: prev, prior: null, key: 1, keyMask: prev };

  it('moves the boundary towards the guide in proportion to its weight; weight 0 changes nothing', async () => {
    const s = new ClassicSession(img, DEFAULT_CLASSIC);
    s.learn([{ index: 1, mask: prev }]);
    const plain = (await s.propagate(step)).mask;
    const zero = (await s.propagate(step, { logits, weight: 0 })).mask;
    const strong = (await s.propagate(step, { logits, weight: 2 })).mask;
    assert.deepEqual(Array.from(zero), Array.from(plain));
    assert.ok(dice(plain, prev) > 0.95, 'without evidence the prior stays');
    assert.ok(dice(strong, shifted) > dice(plain, shifted) + 0.05, `guided ${dice(strong, shifted).toFixed(3)} vs ${dice(plain, shifted).toFixed(3)}`);
    // Nothing outside the band moves, however strong the guide.
    const far = Float32Array.from(prev, () => 6);
    const all = (await s.propagate(step, { logits: far, weight: 50 })).mask;
    assert.equal(all[0], 0, 'a pixel far outside the band stays background');
  });
});

describe('classic engine: a box is cut with the weakest ellipse pull that keeps the result spanning it', () => {
  const n = 48;
  // A crescent: a disc with a bite out of its right side, far from the ellipse inscribed in its box.
  const crescent = disc(n, n, 22, 24, 13);
  const bite = disc(n, n, 30, 24, 10);
  for (let i = 0; i < crescent.length; i++) if (bite[i]) crescent[i] = 0;
  const noise = (i: number): number => ((i * 7919) % 13) - 6;
  const image = (contrast: number): RoiImage => {
    const px = Float32Array.from(crescent, (x, i) => 100 + contrast * x + noise(i));
    return { nu: n, nv: n, count: 1, du: 1, dv: 1, dw: 1, raw: () => px, windowed: () => px };
  };
  let box: [number, number, number, number] = [n, n, -1, -1];
  for (let i = 0; i < crescent.length; i++) {
    if (!crescent[i]) continue;
    const u = i % n;
    const v = Math.floor(i / n);
    box = [Math.min(box[0], u), Math.min(box[1], v), Math.max(box[2], u), Math.max(box[3], v)];
  }
  const key: KeySlice = { index: 0, empty: false, box, points: [], negativePoints: [] };
  const cut = async (contrast: number, fitBox: boolean): Promise<Uint8Array> =>
    (await new ClassicSession(image(contrast), { ...DEFAULT_CLASSIC, fitBox }).segmentSlice(key)).mask;

  it('where the image shows the object, the result follows its shape', async () => {
    const fitted = await cut(60, true);
    assert.ok(dice(fitted, crescent) > 0.95, `Dice ${dice(fitted, crescent).toFixed(3)}`);
  });

  it('where the image shows no edge, the pull still holds the result to the box', async () => {
    const m = await cut(0, true);
    let b: number[] = [n, n, -1, -1];
    for (let i = 0; i < m.length; i++) {
      if (!m[i]) continue;
      const u = i % n;
      const v = Math.floor(i / n);
      b = [Math.min(b[0], u), Math.min(b[1], v), Math.max(b[2], u), Math.max(b[3], v)];
    }
    const w = box[2] - box[0] + 1;
    for (let s = 0; s < 4; s++) assert.ok(Math.abs(b[s] - box[s]) <= Math.max(1, 0.1 * w), `result box ${b} vs ${box}`);
  });
});

describe('classic engine: the boundary term does not shrink the prior where the image shows no edge', () => {
  // A textured image with no edge at all: only the shape prior and the boundary term act.
  const n = 40;
  const flat = Float32Array.from({ length: n * n }, (_, i) => 100 + ((i * 7919) % 13) - 6);
  const img: RoiImage = { nu: n, nv: n, count: 6, du: 1, dv: 1, dw: 1, raw: () => flat, windowed: () => flat };
  const key = disc(n, n, 20, 20, 6);
  const area = (m: Uint8Array): number => m.reduce((s, x) => s + x, 0);

  it('between key slices the shape keeps its size step after step; without compensation it shrinks', async () => {
    const chain = async (compensateCurvature: boolean): Promise<number[]> => {
      const s = new ClassicSession(img, { ...DEFAULT_CLASSIC, compensateCurvature });
      s.learn([{ index: 0, mask: key }]);
      let m = key;
      const areas = [area(key)];
      for (let w = 1; w <= 4; w++) {
        m = (await s.propagate({ front: { key: 0, direction: 1, between: true }, from: w - 1, to: w, mask: m, prior: key, key: 0, keyMask: key })).mask;
        areas.push(area(m));
      }
      return areas;
    };
    const kept = await chain(true);
    const shrunk = await chain(false);
    for (const a of kept) assert.ok(Math.abs(a - kept[0]) <= 0.1 * kept[0], `compensated areas ${kept}`);
    assert.ok(shrunk[4] < 0.85 * shrunk[0], `uncompensated areas ${shrunk}`);
  });

  it('beyond the outermost key slices (no prior) it is not compensated: an edge-free front shrinks and ends', async () => {
    const s = new ClassicSession(img, DEFAULT_CLASSIC);
    s.learn([{ index: 0, mask: key }]);
    const r = await s.propagate({ front: { key: 0, direction: 1, between: false }, from: 0, to: 1, mask: key, prior: null, key: 0, keyMask: key });
    assert.ok(area(r.mask) < area(key), `area ${area(r.mask)} vs ${area(key)}`);
  });
});

describe('classic engine on real scans', { skip: sharedDataSkip() }, () => {
  const cases = [
    { name: 'spleen CT, 5 mm slices', image: 'msd-spleen-crop/spleen_2_crop_ct.nii.gz', label: 'msd-spleen-crop/spleen_2_crop_label.nii.gz', value: 1 },
    { name: 'spinal cord T2w', image: 'spinegeneric-spinalcord/sub-unf01_T2w.nii.gz', label: 'spinegeneric-spinalcord/sub-unf01_T2w_seg-manual.nii.gz', value: 1 },
    { name: 'hippocampus T1 (posterior)', image: 'msd-hippocampus/images/hippocampus_003.nii.gz', label: 'msd-hippocampus/labels/hippocampus_003.nii.gz', value: 2 },
  ];
  for (const c of cases) {
    it(`${c.name}: one key mask gives most of the object; three beat contour interpolation`, async () => {
      const image = await readVolume(path.join(SHARED_DATA, c.image));
      const truth = await readLabelVolume(path.join(SHARED_DATA, c.label));
      const gs = new SliceGeometry(image, defaultSliceAxis(image.spacing));
      const areas = sliceAreas(truth.data, gs, c.value);
      const truthMask = Uint8Array.from(truth.data, (v) => (v === c.value ? 1 : 0));
      const score = async (k: number, engine: string) => {
        const label = simulateLabel(truth.data, gs, c.value, selectKeySlices(areas, k), 'mask');
        const { labels } = await segment(image, { axis: gs.axis, labels: [label] }, { engine });
        return dice(Uint8Array.from(labels.data, (v) => (v === c.value ? 1 : 0)), truthMask);
      };
      const one = await score(1, 'classic');
      assert.ok(one > 0.6, `k=1: Dice ${one.toFixed(3)}`);
      const three = await score(3, 'classic');
      const mci = await score(3, 'interp');
      assert.ok(three > mci, `k=3: classic ${three.toFixed(3)} vs interpolation ${mci.toFixed(3)}`);
    });
  }

  it('spleen CT: box key slices follow the organ better than with the full ellipse pull', async () => {
    const c = cases[0];
    const image = await readVolume(path.join(SHARED_DATA, c.image));
    const truth = await readLabelVolume(path.join(SHARED_DATA, c.label));
    const gs = new SliceGeometry(image, defaultSliceAxis(image.spacing));
    const keys = selectKeySlices(sliceAreas(truth.data, gs, c.value), 3);
    const label = simulateLabel(truth.data, gs, c.value, keys, 'box');
    const keyDice = async (fitBox: boolean): Promise<number> => {
      const engine = classicEngine({ fitBox });
      const { labels } = await segment(image, { axis: gs.axis, labels: [label] }, { engine, range: [keys[0], keys[keys.length - 1]], postprocess: { smooth: false } });
      let inter = 0;
      let sum = 0;
      for (const k of keys) {
        const t = gs.maskOf(truth.data, k, c.value) as Uint8Array;
        const p = gs.maskOf(labels.data, k, c.value) ?? new Uint8Array(gs.area);
        for (let i = 0; i < t.length; i++) {
          inter += t[i] & p[i];
          sum += t[i] + p[i];
        }
      }
      return (2 * inter) / sum;
    };
    const fitted = await keyDice(true);
    const pulled = await keyDice(false);
    assert.ok(fitted > pulled + 0.01, `key slices: fitted ${fitted.toFixed(3)} vs full pull ${pulled.toFixed(3)}`);
  });
});
