import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { holdsObjectsApart, keyMasksApart } from '../src/propagation/apart.js';
import { frontGuide, gapCovers, gapTips, interpolationPrior, orPromptMask, type PriorStore } from '../src/propagation/controller.js';
import { decidingFront, fuseSlice } from '../src/propagation/fuse.js';
import { interpolateShapes } from '../src/interpolation/shape.js';
import { afterStep, initialState, keyTip, partTips, runFront } from '../src/propagation/front.js';
import { frontsInOrder, planFronts, type FrontPlan } from '../src/propagation/plan.js';
import { DEFAULT_STOP_RULES } from '../src/propagation/rules.js';
import { boundingBox2d } from '../src/morphology/binary.js';
import type { KeySlice } from '../src/annotations/types.js';
import { segment } from '../src/pipeline/segment.js';
import { IDENTITY_DIRECTION, type Volume } from '../src/volume/volume.js';
import { rng as seededRng } from '../src/demo/phantom.js';
import { collapses, endsOnKeyTip, endsOnPartTips, keepsNearKey, keepsSkip, keepsTip, lastKept, rejects, similarityBreak, triesSkip } from '../src/propagation/stop.js';
import type { FrontReport, ObjectSession, RoiImage } from '../src/propagation/types.js';

const rules = DEFAULT_STOP_RULES;
const keysOf = (...ks: [number, boolean][]) => ks.map(([index, present]) => ({ index, present }));

describe('front planner', () => {
  it('plans outward fronts at both ends and two fronts per gap, in the order they run', () => {
    const s = planFronts({ keys: keysOf([3, true], [8, true], [9, true], [14, true]), count: 20, priorHolds: () => true, priorFallback: true });
    assert.deepEqual(
      frontsInOrder(s).map((f) => `${f.key}${f.direction > 0 ? '+' : '-'}${f.between ? 'b' : 'o'}..${f.limit}:${f.endReason}`),
      ['3-o..0:volume-edge', '3+b..7:key-slice', '8-b..4:key-slice', '9+b..13:key-slice', '14-b..10:key-slice', '14+o..19:volume-edge'],
    );
    assert.deepEqual(s.gaps.map((g) => [g.a, g.b, g.lo, g.hi, g.priorFallback]), [[3, 8, 4, 7, true], [9, 14, 10, 13, true]], 'adjacent key slices leave no gap');
  });

  it('next to an absent key slice: one front, between key slices only where the prior tapers; no prior fallback', () => {
    const asked: number[] = [];
    const tapered = planFronts({ keys: keysOf([4, true], [12, false]), count: 16, priorHolds: (w) => (asked.push(w), true), priorFallback: true });
    assert.deepEqual(asked, [8], 'asked at the middle of the gap');
    assert.deepEqual(frontsInOrder(tapered).map((f) => [f.key, f.direction, f.between, f.limit, f.endReason]), [[4, -1, false, 0, 'volume-edge'], [4, 1, true, 11, 'absent']]);
    assert.equal(tapered.gaps[0].priorFallback, false);
    assert.equal(tapered.above, null, 'nothing runs outward from an absent key slice');
    const flat = planFronts({ keys: keysOf([4, true], [12, false]), count: 16, priorHolds: () => false, priorFallback: true });
    assert.equal(flat.gaps[0].up?.between, false);
  });

  it('gives no prior fallback to a gap between key slices that show different objects', () => {
    const apart = (a: number, b: number) => a === 8 && b === 20;
    const s = planFronts({ keys: keysOf([3, true], [8, true], [20, true]), count: 24, priorHolds: () => true, priorFallback: true, apart });
    assert.deepEqual(s.gaps.map((g) => [g.a, g.b, g.priorFallback]), [[3, 8, true], [8, 20, false]]);
    assert.deepEqual(frontsInOrder(s).map((f) => `${f.key}${f.direction > 0 ? '+' : '-'}`), ['3-', '3+', '8-', '8+', '20-', '20+'], 'the fronts still run');
  });

  it('cuts fronts to the range and the extent, naming why each ends', () => {
    const s = planFronts({ keys: keysOf([5, true], [15, true]), count: 30, range: [2, 12], extent: [4, 25], priorHolds: () => true, priorFallback: false });
    assert.deepEqual([s.below?.limit, s.below?.endReason], [4, 'extent']);
    assert.equal(s.above, null, 'the last key slice lies beyond the range');
    assert.deepEqual([s.gaps[0].lo, s.gaps[0].hi, s.gaps[0].up?.endReason, s.gaps[0].down, s.gaps[0].priorFallback], [6, 12, 'range', null, false]);
    const r = planFronts({ keys: keysOf([5, true]), count: 30, range: [2, 20], priorHolds: () => true, priorFallback: true });
    assert.deepEqual([r.below?.endReason, r.above?.endReason, r.above?.limit], ['range', 'range', 20]);
  });
});

describe('stop decision', () => {
  const st = initialState({ key: 5, direction: 1, between: false, limit: 19, endReason: 'volume-edge' }, new Uint8Array(100).fill(1), 1, rules);
  it('rejects nothing found, low confidence and regrowth after shrinking, in that order', () => {
    assert.equal(rejects(st, 6, { confidence: 0.9 }, 2, rules)?.[0], 'object-ended');
    assert.equal(rejects(st, 6, { confidence: 0.4, note: 'n' }, 50, rules)?.[0], 'low-confidence');
    assert.match(rejects(st, 6, { confidence: 0.4, note: 'why' }, 50, rules)?.[1] ?? '', /\(why\)/);
    assert.equal(rejects(st, 6, { confidence: 0.9 }, 50, rules), null);
    const shrunk = { ...st, smallest: 40 };
    assert.equal(rejects(shrunk, 9, { confidence: 0.9 }, 53, rules)?.[0], 'area-regrowth');
    assert.equal(rejects(shrunk, 9, { confidence: 0.9 }, 52, rules), null, '1.3 x 40 = 52 is allowed');
    assert.equal(rejects({ ...shrunk, between: true }, 9, { confidence: 0.9 }, 90, rules), null, 'no regrowth rule between key slices');
    assert.equal(lastKept({ smallestAt: 7, leastConfidenceAt: 6 }, 'area-regrowth', 8), 7, 'a regrowth ends on the smallest slice');
    assert.equal(lastKept({ smallestAt: 7, leastConfidenceAt: 6 }, 'confidence-regrowth', 8), 6, 'a confidence regrowth ends on the least confident slice');
    assert.equal(lastKept({ smallestAt: 7, leastConfidenceAt: 6 }, 'low-confidence', 8), 8);
  });
  it('rejects a confidence regrowth after a fall where the object had shrunk, beyond the key slices only', () => {
    // First step 0.7; least 0.6 (0.1 below) on slice 8, where the area was 30 of the key's 100.
    const fell = { ...st, firstConfidence: 0.7, leastConfidence: 0.6, leastConfidenceAt: 8, leastConfidenceArea: 30 };
    const up = rejects(fell, 10, { confidence: 0.64 }, 30, rules);
    assert.equal(up?.[0], 'confidence-regrowth');
    assert.match(up?.[1] ?? '', /slice 8/);
    assert.equal(rejects(fell, 10, { confidence: 0.62 }, 30, rules), null, 'a rise of 0.02 is noise');
    assert.equal(rejects({ ...fell, leastConfidence: 0.63 }, 10, { confidence: 0.7 }, 30, rules), null, 'a fall of 0.07 is not a fall');
    assert.equal(rejects({ ...fell, leastConfidenceArea: 74 }, 10, { confidence: 0.7 }, 30, rules)?.[0], 'confidence-regrowth', 'tapering: under 3/4 of the key');
    assert.equal(rejects({ ...fell, leastConfidenceArea: 75 }, 10, { confidence: 0.7 }, 30, rules), null, 'the object had not shrunk below 3/4 of the key');
    // A model's score that fell 0.29 as a large organ tapered (0.99 to 0.70) and wobbles back by 0.07.
    const steep = { ...fell, firstConfidence: 0.99, leastConfidence: 0.7 };
    assert.equal(rejects(steep, 10, { confidence: 0.77 }, 30, rules), null, 'a rise of less than a third of the fall is a wobble');
    assert.equal(rejects(steep, 10, { confidence: 0.8 }, 30, rules)?.[0], 'confidence-regrowth', 'a third of the fall regained');
    assert.equal(rejects({ ...fell, between: true }, 10, { confidence: 0.7 }, 30, rules), null, 'not between key slices');
    assert.equal(rejects({ ...fell, firstConfidence: null }, 10, { confidence: 0.7 }, 30, rules), null);
  });
  it('a collapse keeps the slice and ends the front; breaks and skips follow their thresholds', () => {
    assert.equal(collapses(st, 6, 24, rules)?.[0], 'area-collapse');
    assert.equal(collapses(st, 6, 25, rules), null);
    assert.equal(similarityBreak(3, 4, { ssim: 0.05, hist: 0 }, rules)?.[0], 'similarity-break');
    assert.equal(similarityBreak(3, 4, { ssim: 0.5, hist: 0.6 }, rules)?.[0], 'similarity-break');
    assert.equal(similarityBreak(3, 4, { ssim: 0.5, hist: 0.4 }, rules), null);
    assert.equal(triesSkip(0.95, 0, () => 0.9, rules), true);
    assert.equal(triesSkip(0.94, 0, () => 0.9, rules), false, 'needs agreement 1 - (1 - 0.9) / 2');
    assert.equal(triesSkip(0.99, 1, () => 0.9, rules), false, 'backing off');
    assert.equal(triesSkip(0.99, 0, () => 0.8, rules), false);
    assert.equal(keepsSkip(st, 7, { confidence: 0.9 }, 80, 0.95, rules), true);
    assert.equal(keepsSkip(st, 7, { confidence: 0.9 }, 80, 0.85, rules), false);
  });
  it("keeps a tapering front's low-confidence tip: small against the last slice, not too doubtful, beyond the key slices", () => {
    const tapering = { ...st, prevArea: 40, shrinking: true };
    assert.equal(keepsTip(tapering, { confidence: 0.3 }, 10, 'low-confidence', rules), true, '10 px <= 0.25 x 40 px');
    assert.equal(keepsTip(tapering, { confidence: 0.3 }, 11, 'low-confidence', rules), false, 'not small enough: the front may have slid onto a neighbour');
    assert.equal(keepsTip(tapering, { confidence: 0.1 }, 8, 'low-confidence', rules), false, 'too doubtful');
    assert.equal(keepsTip({ ...tapering, shrinking: false }, { confidence: 0.3 }, 8, 'low-confidence', rules), false, 'the area grew on the last step');
    assert.equal(keepsTip({ ...tapering, between: true }, { confidence: 0.3 }, 8, 'low-confidence', rules), false, 'between key slices');
    assert.equal(keepsTip(tapering, { confidence: 0.9 }, 2, 'object-ended', rules), false, 'only a low-confidence stop');
    assert.equal(afterStep(st, 6, { mask: st.prev, confidence: 1, reused: true }, 100).shrinking, false);
    assert.equal(afterStep(st, 6, { mask: st.prev, confidence: 1, reused: true }, 99).shrinking, true);
  });
  it('a front ends on the tip it keeps, and one slice short without it', async () => {
    const nu = 10;
    const img = { nu, nv: nu, count: 12, du: 1, dv: 1, dw: 1 } as unknown as RoiImage;
    const disc = (n: number): Uint8Array => new Uint8Array(nu * nu).fill(1, 0, n);
    const run = async (tip: { area: number; confidence: number }) => {
      const script = new Map([[6, { area: 40, confidence: 0.7 }], [7, tip], [8, { area: 3, confidence: 0.3 }]]);
      const session: ObjectSession = {
        segmentSlice: () => Promise.reject(new Error('not used')),
        propagate: async (step) => {
          const s = script.get(step.to) ?? { area: 0, confidence: 0 };
          return { mask: disc(s.area), confidence: s.confidence };
        },
      };
      const plan = { key: 5, direction: 1 as const, between: false, limit: 11, endReason: 'volume-edge' as const };
      return runFront({ img, session, rules, imageGuided: false, keyMask: disc(60), keyConfidence: 1, priorOf: () => disc(0) }, plan);
    };
    const kept = await run({ area: 8, confidence: 0.3 });
    assert.deepEqual([[...kept.slices.keys()], kept.report.last, kept.report.stop], [[6, 7], 7, 'low-confidence']);
    assert.match(kept.report.detail ?? '', /tip/);
    const dropped = await run({ area: 12, confidence: 0.3 });
    assert.deepEqual([[...dropped.slices.keys()], dropped.report.last], [[6], 6]);
  });
  it("keeps the key mask's core as the tip where an outward front finds nothing on the slice next to its key slice", async () => {
    assert.equal(endsOnKeyTip({ between: false }, 5, 5, 'object-ended', true), true);
    assert.equal(endsOnKeyTip({ between: true }, 5, 5, 'object-ended', true), false, 'between key slices: the gap rules decide');
    assert.equal(endsOnKeyTip({ between: false }, 6, 5, 'object-ended', true), false, 'after a step the front ends where it is');
    assert.equal(endsOnKeyTip({ between: false }, 5, 5, 'low-confidence', true), false, 'only where nothing was found');
    assert.equal(endsOnKeyTip({ between: false }, 5, 5, 'object-ended', false), false, 'an engine blind to the image extrapolates nothing');
    // The core: the deepest quarter of a 9 x 9 square is the 3 x 3 (and more) around its centre, inside the key mask.
    const nu = 15;
    const square = new Uint8Array(nu * nu);
    for (let v = 3; v <= 11; v++) for (let u = 3; u <= 11; u++) square[u + nu * v] = 1;
    const g = { nu, nv: nu, du: 1, dv: 1 };
    const tip = keyTip(square, g, 0.25);
    assert.ok(tip);
    assert.equal(tip.reduce((a, b) => a + b, 0), 20, 'a quarter of 81 pixels');
    for (let v = 6; v <= 8; v++) for (let u = 6; u <= 8; u++) assert.equal(tip[u + nu * v], 1, `(${u}, ${v}) in the core`);
    for (let i = 0; i < tip.length; i++) assert.ok(!tip[i] || square[i], 'inside the key mask');
    assert.equal(keyTip(Uint8Array.from(square, (x, i) => (i === 3 + nu * 3 ? x : 0)), g, 0.25), null, 'one pixel has no quarter');
    // A front whose first step finds nothing writes the tip and ends; between key slices it writes nothing.
    // An image-guided front (slices compared, never alike enough to reuse or skip, never a break).
    const noise = (w: number): Float32Array => Float32Array.from({ length: nu * nu }, (_, i) => ((i * 7919 + w * 104729) % 97) / 97);
    const img = { nu, nv: nu, count: 12, du: 1, dv: 1, dw: 1, windowed: noise } as unknown as RoiImage;
    const session: ObjectSession = {
      segmentSlice: () => Promise.reject(new Error('not used')),
      propagate: async () => ({ mask: new Uint8Array(nu * nu), confidence: 0.9 }),
    };
    const guided = { ...rules, ssimBreak: -1, histogramBreak: 2, duplicateSsim: 2, skipPredictability: 2 };
    const ctx = { img, session, rules: guided, imageGuided: true, keyMask: square, keyConfidence: 1, priorOf: () => new Uint8Array(nu * nu) };
    const out = await runFront(ctx, { key: 5, direction: 1, between: false, limit: 11, endReason: 'volume-edge' });
    assert.deepEqual([[...out.slices.keys()], out.report.last, out.report.stop], [[6], 6, 'object-ended']);
    assert.deepEqual(Array.from(out.slices.get(6)?.mask ?? []), Array.from(tip));
    assert.match(out.report.detail ?? '', /core as the object's tip/);
    const between = await runFront(ctx, { key: 5, direction: 1, between: true, limit: 8, endReason: 'key-slice' });
    assert.deepEqual([...between.slices.keys()], []);
    const blind = await runFront({ ...ctx, imageGuided: false }, { key: 5, direction: 1, between: false, limit: 11, endReason: 'volume-edge' });
    assert.deepEqual([...blind.slices.keys()], []);
  });
  it("keeps a doubtful result the engine scores about as well as the front's own key mask, beyond the key slices only", () => {
    const outward = { between: false };
    assert.equal(keepsNearKey(outward, { confidence: 0.45 }, 'low-confidence', 0.52, rules), true, '0.45 >= 0.52 - 0.1');
    assert.equal(keepsNearKey(outward, { confidence: 0.4 }, 'low-confidence', 0.52, rules), false, 'more than the margin below the key mask');
    assert.equal(keepsNearKey(outward, { confidence: 0.45 }, 'low-confidence', 0.9, rules), false, 'a key mask the engine is sure of');
    assert.equal(keepsNearKey({ between: true }, { confidence: 0.45 }, 'low-confidence', 0.52, rules), false, 'between key slices');
    assert.equal(keepsNearKey(outward, { confidence: 0.45 }, 'object-ended', 0.52, rules), false, 'only a low-confidence stop');
  });
  it("a front ends on a doubtful slice scored near its key mask, asking the engine once, and not beyond it", async () => {
    const nu = 10;
    const img = { nu, nv: nu, count: 12, du: 1, dv: 1, dw: 1 } as unknown as RoiImage;
    const disc = (n: number): Uint8Array => new Uint8Array(nu * nu).fill(1, 0, n);
    const run = async (keyScore: number | undefined) => {
      // Areas hold (no tip): only the key mask's score decides whether slice 7 is kept.
      const script = new Map([[6, { area: 50, confidence: 0.55 }], [7, { area: 45, confidence: 0.46 }], [8, { area: 40, confidence: 0.45 }]]);
      let asked = 0;
      const session: ObjectSession = {
        segmentSlice: () => Promise.reject(new Error('not used')),
        propagate: async (step) => {
          const s = script.get(step.to) ?? { area: 0, confidence: 0 };
          return { mask: disc(s.area), confidence: s.confidence };
        },
        ...(keyScore === undefined ? {} : { keyScore: () => (asked++, keyScore) }),
      };
      const plan = { key: 5, direction: 1 as const, between: false, limit: 11, endReason: 'volume-edge' as const };
      const out = await runFront({ img, session, rules, imageGuided: false, keyMask: disc(60), keyConfidence: 1, priorOf: () => disc(0) }, plan);
      return { out, asked };
    };
    const near = await run(0.52);
    assert.deepEqual([[...near.out.slices.keys()], near.out.report.stop, near.asked], [[6, 7], 'low-confidence', 1]);
    assert.match(near.out.report.detail ?? '', /key mask scores 0\.520/);
    const sure = await run(0.8);
    assert.deepEqual([...sure.out.slices.keys()], [6], 'a key mask scored 0.8: the front stops one slice earlier');
    const silent = await run(undefined);
    assert.deepEqual([...silent.out.slices.keys()], [6], 'an engine without keyScore: the plain rule');
  });
  it('a front whose confidence falls as the object shrinks and rises again ends on its least confident slice', async () => {
    const nu = 10;
    const img = { nu, nv: nu, count: 14, du: 1, dv: 1, dw: 1 } as unknown as RoiImage;
    const disc = (n: number): Uint8Array => new Uint8Array(nu * nu).fill(1, 0, n);
    const run = async (after: number, between = false) => {
      // The object shrinks to its end on slice 8 (least confidence 0.6), then the front finds a neighbour it fits.
      const script = new Map([
        [6, { area: 50, confidence: 0.7 }],
        [7, { area: 35, confidence: 0.65 }],
        [8, { area: 25, confidence: 0.6 }],
        [9, { area: 25, confidence: after }],
        [10, { area: 24, confidence: after }],
      ]);
      const session: ObjectSession = {
        segmentSlice: () => Promise.reject(new Error('not used')),
        propagate: async (step) => {
          const s = script.get(step.to) ?? { area: 0, confidence: 0 };
          return { mask: disc(s.area), confidence: s.confidence };
        },
      };
      const plan = { key: 5, direction: 1 as const, between, limit: 13, endReason: 'volume-edge' as const };
      return runFront({ img, session, rules, imageGuided: false, keyMask: disc(60), keyConfidence: 1, priorOf: () => disc(0) }, plan);
    };
    const slid = await run(0.68);
    assert.deepEqual([[...slid.slices.keys()], slid.report.last, slid.report.stop], [[6, 7, 8], 8, 'confidence-regrowth']);
    assert.match(slid.report.detail ?? '', /slice 9: confidence 0\.680 after 0\.600 on slice 8/);
    const flat = await run(0.61);
    assert.deepEqual([[...flat.slices.keys()], flat.report.stop], [[6, 7, 8, 9, 10], 'object-ended'], 'a rise within noise: the front goes on');
    const inGap = await run(0.68, true);
    assert.equal(inGap.report.last, 10, 'between key slices no regrowth rule applies');
  });
  it('counts the confidence of the engine\'s results only, not of a reused slice', () => {
    const m = new Uint8Array(100).fill(1, 0, 40);
    const first = afterStep(st, 6, { mask: m, confidence: 0.7, reused: false }, 40);
    assert.deepEqual([first.firstConfidence, first.leastConfidence, first.leastConfidenceAt, first.leastConfidenceArea], [0.7, 0.7, 6, 40]);
    const lower = afterStep(first, 7, { mask: m, confidence: 0.6, reused: false }, 30);
    assert.deepEqual([lower.firstConfidence, lower.leastConfidence, lower.leastConfidenceAt, lower.leastConfidenceArea], [0.7, 0.6, 7, 30]);
    const reused = afterStep(st, 6, { mask: st.prev, confidence: 1, reused: true }, 100);
    assert.equal(reused.firstConfidence, null, "a reused slice carries the key's confidence");
  });
  it('each step replaces the state record: smallest area, agreement, back-off', () => {
    const m = new Uint8Array(100);
    m.fill(1, 0, 60);
    const next = afterStep({ ...st, backoff: 2 }, 6, { mask: m, confidence: 0.7, reused: false }, 60);
    assert.deepEqual([next.from, next.prevArea, next.smallest, next.prevConf, next.backoff], [6, 60, 60, 0.7, 1]);
    assert.equal(next.lastAgreement, 120 / 160);
    assert.equal(st.from, 5, 'the old record is unchanged');
    assert.equal(afterStep(st, 6, { mask: st.prev, confidence: 1, reused: true }, 100).lastAgreement, 1);
  });
});

describe('gap fusion', () => {
  it('votes by distance with the prior as third vote, and weights the confidence the same way', () => {
    const a = { mask: Uint8Array.from([1, 1, 0, 0]), confidence: 1 };
    const b = { mask: Uint8Array.from([0, 1, 1, 0]), confidence: 0.5 };
    const prior = Uint8Array.from([0, 0, 1, 1]);
    const near = fuseSlice(a, b, prior, 0.25, 0.5);
    assert.deepEqual([...near.mask], [0, 1, 0, 0], 'pixel 0: 0.75 / 1.5 and pixel 2: (0.25 + 0.5) / 1.5 are exactly half: not the object');
    assert.deepEqual([...fuseSlice(a, b, prior, 0.2, 0.5).mask], [1, 1, 0, 0], 'pixel 0: 0.8 / 1.5 > 0.5');
    assert.equal(near.confidence, 0.875);
    assert.deepEqual([...fuseSlice(a, b, prior, 0.5, 0).mask], [0, 1, 0, 0], 'without the prior, a tie is not the object');
  });
});

describe('a front that carries several objects apart (lesions)', () => {
  const nu = 40;
  const g = { nu, nv: nu, du: 1, dv: 1 };
  /** Discs [u, v, r] in one mask. */
  const discs = (...list: [number, number, number][]): Uint8Array => {
    const m = new Uint8Array(nu * nu);
    for (const [cu, cv, r] of list) for (let v = 0; v < nu; v++) for (let u = 0; u < nu; u++) if ((u - cu) ** 2 + (v - cv) ** 2 <= r * r) m[u + nu * v] = 1;
    return m;
  };
  const count = (m: Uint8Array): number => m.reduce((a, b) => a + b, 0);
  const A: [number, number, number] = [8, 8, 3];
  const B: [number, number, number] = [30, 30, 4];

  it('tells several objects in one mask from one object with a fragment beside it', () => {
    assert.equal(holdsObjectsApart(discs(A, B), g), true, 'two lesions across the slice');
    assert.equal(holdsObjectsApart(discs(B), g), false, 'one object');
    assert.equal(holdsObjectsApart(discs(B, [30, 37, 1]), g), false, 'a fragment within the object\'s radius of it');
    assert.equal(holdsObjectsApart(new Uint8Array(nu * nu), g), false, 'nothing');
  });

  it('gives the core of each part the next mask lost, and nothing where it lost none', () => {
    const prev = discs(A, B);
    const tips = partTips(prev, discs(B), g, 0.25);
    assert.ok(tips);
    const lost = discs(A);
    assert.equal(count(tips), Math.floor(count(lost) / 4), 'a quarter of the lost part');
    assert.deepEqual(Array.from(tips), Array.from(keyTip(lost, g, 0.25) ?? []), "the lost part's own core");
    assert.equal(partTips(prev, discs([8, 9, 2], [31, 30, 3]), g, 0.25), null, 'both parts go on (smaller, moved)');
    assert.equal(partTips(discs([8, 8, 0], B), discs(B), g, 0.25), null, 'a one-pixel part has no quarter');
    const both = partTips(prev, new Uint8Array(nu * nu), g, 0.25);
    assert.equal(count(both ?? new Uint8Array(0)), Math.floor(count(discs(A)) / 4) + Math.floor(count(discs(B)) / 4), 'all lost: each its own core');
  });

  it('writes each lost object its tip on the slice where the front lost it, and goes on from the engine\'s mask', async () => {
    assert.equal(endsOnPartTips(true, 7, 5, 'object-ended'), true);
    assert.equal(endsOnPartTips(true, 5, 5, 'object-ended'), false, 'the first step: the key tip or the gap decides');
    assert.equal(endsOnPartTips(true, 7, 5, 'low-confidence'), false, 'a front stopped for doubt');
    assert.equal(endsOnPartTips(false, 7, 5, 'object-ended'), false, 'one object');
    // Key slice 5 holds lesions A and B; A ends after slice 6 (the engine loses it on 7), B after slice 8.
    const noise = (w: number): Float32Array => Float32Array.from({ length: nu * nu }, (_, i) => ((i * 7919 + w * 104729) % 97) / 97);
    const img = { nu, nv: nu, count: 14, du: 1, dv: 1, dw: 1, windowed: noise } as unknown as RoiImage;
    const from: number[] = [];
    const session: ObjectSession = {
      segmentSlice: () => Promise.reject(new Error('not used')),
      propagate: async (step) => {
        from.push(count(step.mask));
        return { mask: step.to <= 6 ? discs(A, B) : step.to <= 8 ? discs(B) : new Uint8Array(nu * nu), confidence: 0.9 };
      },
    };
    const guided = { ...rules, ssimBreak: -1, histogramBreak: 2, duplicateSsim: 2, skipPredictability: 2 };
    const ctx = { img, session, rules: guided, imageGuided: true, keyMask: discs(A, B), keyConfidence: 1, priorOf: () => new Uint8Array(nu * nu) };
    const out = await runFront(ctx, { key: 5, direction: 1, between: false, limit: 13, endReason: 'volume-edge' });
    const tipA = keyTip(discs(A), g, 0.25) ?? new Uint8Array(0);
    const tipB = keyTip(discs(B), g, 0.25) ?? new Uint8Array(0);
    const or = (a: Uint8Array, b: Uint8Array): number[] => Array.from(a, (x, i) => x | b[i]);
    assert.deepEqual([...out.slices.keys()], [6, 7, 8, 9]);
    assert.deepEqual(Array.from(out.slices.get(7)?.mask ?? []), or(discs(B), tipA), "slice 7: B and A's tip");
    assert.deepEqual(Array.from(out.slices.get(8)?.mask ?? []), Array.from(discs(B)), 'slice 8: B alone (A ended)');
    assert.deepEqual(Array.from(out.slices.get(9)?.mask ?? []), Array.from(tipB), "slice 9: B's tip, and the front ends");
    assert.equal(out.report.stop, 'object-ended');
    assert.match(out.report.detail ?? '', /cores of its objects as their tips/);
    assert.deepEqual(from.slice(2), [count(discs(B)), count(discs(B))], 'the steps after 7 go on from B alone, not from the tip');
    // One object (B with a fragment beside it): a lost fragment leaves nothing.
    const one = await runFront({ ...ctx, keyMask: discs(B, [30, 36, 1]) }, { key: 5, direction: 1, between: false, limit: 13, endReason: 'volume-edge' });
    assert.deepEqual(Array.from(one.slices.get(7)?.mask ?? []), Array.from(discs(B)), 'no tip of a fragment');
    assert.deepEqual([...one.slices.keys()], [6, 7, 8]);
    // Told that the object's key slices show lesions apart, a front from one lesion keeps the tips too.
    const told = await runFront({ ...ctx, keyMask: discs(B), severalObjects: true }, { key: 5, direction: 1, between: false, limit: 13, endReason: 'volume-edge' });
    assert.deepEqual(Array.from(told.slices.get(9)?.mask ?? []), Array.from(tipB), "slice 9: B's tip");
  });
});

describe('tips in a gap left empty', () => {
  const nu = 9;
  const g = { nu, nv: nu, du: 1, dv: 1 };
  const square = (c: number): Uint8Array => Uint8Array.from({ length: nu * nu }, (_, i) => (Math.abs((i % nu) - c) <= 2 && Math.abs(Math.floor(i / nu) - c) <= 2 ? 1 : 0));
  const front = (key: number, direction: 1 | -1, limit: number): FrontPlan => ({ key, direction, between: true, limit, endReason: 'gap-covered' });
  const report = (stop: FrontReport['stop'], last: number | null): FrontReport => ({ from: 0, direction: 1, last, slices: last === null ? 0 : 1, stop });
  const gapOf = (a: number, b: number) => ({ a, b, lo: a + 1, hi: b - 1, up: front(a, 1, b - 1), down: front(b, -1, a + 1) });

  it("leaves the key mask's core next to a key slice whose front found nothing there, and nothing otherwise", () => {
    const masks = new Map<number, Uint8Array | null>([[2, square(3)], [8, square(5)]]);
    const gap = gapOf(2, 8);
    const reports = (up: FrontReport, down: FrontReport) => (p: FrontPlan | null) => (p === gap.up ? up : p === gap.down ? down : undefined);
    const both = gapTips(gap, g, masks, reports(report('object-ended', null), report('object-ended', null)), 0.25);
    assert.deepEqual([...both.keys()], [3, 7]);
    for (const [w, key] of [[3, 2], [7, 8]] as const) {
      const tip = both.get(w)?.tip.mask as Uint8Array;
      assert.equal(tip.reduce((x, y) => x + y, 0), 6, `slice ${w}: a quarter of 25 pixels`);
      for (let i = 0; i < tip.length; i++) assert.ok(!tip[i] || masks.get(key)?.[i], `slice ${w}: inside key mask ${key}`);
      assert.deepEqual([both.get(w)?.tip.confidence, both.get(w)?.from], [0, key]);
    }
    // A front that wrote slices, or stopped for doubt, leaves no tip.
    assert.deepEqual([...gapTips(gap, g, masks, reports(report('object-ended', 4), report('low-confidence', null)), 0.25).keys()], []);
  });

  it('puts both tips on the one slice between key slices two apart', () => {
    const masks = new Map<number, Uint8Array | null>([[2, square(3)], [4, square(5)]]);
    const tips = gapTips(gapOf(2, 4), g, masks, () => report('object-ended', null), 0.25);
    const tip = tips.get(3)?.tip.mask as Uint8Array;
    assert.equal(tip[3 + nu * 3], 1, "the first key mask's centre");
    assert.equal(tip[5 + nu * 5], 1, "the second key mask's centre");
    assert.equal(tips.size, 1);
  });
});

describe('interpolation prior gap by gap', () => {
  const nu = 40;
  const nv = 36;
  const disc = (cu: number, cv: number, r: number, extra?: [number, number, number]): Uint8Array => {
    const m = new Uint8Array(nu * nv);
    for (let v = 0; v < nv; v++) {
      for (let u = 0; u < nu; u++) {
        if ((u - cu) ** 2 + (v - cv) ** 2 <= r * r) m[u + nu * v] = 1;
        if (extra && (u - extra[0]) ** 2 + (v - extra[1]) ** 2 <= extra[2] ** 2) m[u + nu * v] = 1;
      }
    }
    return m;
  };
  const keys = new Map<number, Uint8Array | null>([
    [1, null],
    [4, disc(12, 14, 5)],
    [9, disc(18, 16, 9)],
    [11, disc(20, 18, 8, [33, 30, 2])],
    [17, disc(22, 20, 4)],
    [18, new Uint8Array(nu * nv)],
    [24, disc(15, 15, 6)],
    [29, null],
  ]);
  const img = { nu, nv, count: 32, du: 0.8, dv: 1.1 };
  it('equals the interpolation of the whole stack, and a store answers unchanged gaps without computing them', async () => {
    const whole = interpolateShapes(img, [...keys].map(([index, mask]) => ({ index, mask })), img);
    const direct = await interpolationPrior(img, keys, 'shape');
    assert.ok(Buffer.from(direct).equals(Buffer.from(whole)), 'gap by gap = whole stack');
    assert.ok(whole.some((x, i) => x && i >= 5 * nu * nv && i < 9 * nu * nv), 'a gap was filled');
    let computed = 0;
    const kept = new Map<string, Uint8Array>();
    const store: PriorStore = {
      gap: ({ near, start }, compute) => {
        const k = `${start}|${near.map((n) => `${n.index}:${n.mask ? Buffer.from(n.mask).toString('base64') : '-'}`).join(',')}`;
        let g = kept.get(k);
        if (!g) {
          computed++;
          g = compute();
          kept.set(k, g);
        }
        return g;
      },
    };
    const first = await interpolationPrior(img, keys, 'shape', store);
    assert.ok(Buffer.from(first).equals(Buffer.from(whole)));
    const gaps = computed;
    // A new key slice at 27 changes the gaps within two key slices of it, not those further away.
    const more = new Map(keys).set(27, disc(14, 14, 3));
    computed = 0;
    const second = await interpolationPrior(img, more, 'shape', store);
    const wholeMore = interpolateShapes(img, [...more].map(([index, mask]) => ({ index, mask })), img);
    assert.ok(Buffer.from(second).equals(Buffer.from(wholeMore)));
    assert.ok(computed > 0 && computed < gaps, `only the gaps near the new key slice computed (${computed} of ${gaps + 1})`);
  });

  it('guides the fronts of each gap with the interpolation of its own two key slices', async () => {
    const prior = await interpolationPrior(img, keys, 'shape');
    const guide = await frontGuide(img, keys, 'shape', prior);
    const list = [...keys].map(([index, mask]) => ({ index, mask })).sort((a, b) => a.index - b.index);
    const area = nu * nv;
    let differs = false;
    for (let i = 0; i + 1 < list.length; i++) {
      const pair = interpolateShapes(img, [list[i], list[i + 1]], img);
      for (let w = list[i].index; w <= list[i + 1].index; w++) {
        const at = (a: Uint8Array) => Buffer.from(a.subarray(w * area, (w + 1) * area));
        assert.ok(at(guide).equals(at(pair)), `slice ${w}: the gap's own two key slices`);
        differs ||= !at(guide).equals(at(prior));
      }
    }
    assert.ok(differs, 'the prior bends through the neighbouring key slices where the guide does not');
    assert.equal(await frontGuide(img, keys, 'mci', prior), prior, 'contour interpolation guides with the prior itself');
  });

  it('tells key masks of different objects (apart by more than their size) from one object that moved', () => {
    const g = { nu, nv, du: img.du, dv: img.dv };
    assert.equal(keyMasksApart(disc(8, 8, 3), disc(30, 28, 3), g), true, 'two lesions far apart');
    assert.equal(keyMasksApart(disc(30, 28, 3), disc(8, 8, 3), g), true);
    assert.equal(keyMasksApart(disc(10, 10, 4), disc(14, 10, 4), g), false, 'overlapping');
    assert.equal(keyMasksApart(disc(10, 10, 4), disc(19, 10, 4), g), false, 'not touching, but nearer than the object is wide');
    assert.equal(keyMasksApart(disc(10, 10, 4, [30, 28, 3]), disc(30, 27, 2), g), false, 'one of several lesions goes on');
    assert.equal(keyMasksApart(disc(10, 10, 4), null, g), false, 'an absent key slice');
    assert.equal(keyMasksApart(disc(10, 10, 4), new Uint8Array(nu * nv), g), false, 'an empty mask');
  });

  it('leaves no guide for the fronts between key masks of different objects; the prior still fills the gap', async () => {
    const apart = new Map<number, Uint8Array | null>([
      [2, disc(8, 8, 4)],
      [8, disc(30, 28, 4)],
      [12, disc(31, 27, 5)],
    ]);
    const prior = await interpolationPrior(img, apart, 'shape');
    const guide = await frontGuide(img, apart, 'shape', prior);
    const area = nu * nv;
    const holds = (a: Uint8Array, w0: number, w1: number) => a.subarray(w0 * area, (w1 + 1) * area).some((x) => x);
    assert.ok(holds(prior, 3, 7), 'the prior interpolates the gap');
    assert.equal(holds(guide, 3, 7), false, 'no guide between lesions apart');
    assert.ok(holds(guide, 9, 11), 'the guide of a gap between two views of one lesion');
    assert.ok(Buffer.from(guide.subarray(2 * area, 3 * area)).equals(Buffer.from(apart.get(2) as Uint8Array)), 'key slices as they are');
  });
});

describe('two lesions on far key slices', () => {
  // Lesion A (radius 4) on slices 2..6 around (10, 10), lesion B on slices 15..19 around (34, 30); nothing in
  // between: a mask on slice 4 and one on slice 17.
  const [nx, ny, nz] = [44, 40, 22];
  const rng = seededRng(5);
  const data = new Float32Array(nx * ny * nz);
  const inA = (x: number, y: number, z: number) => z >= 2 && z <= 6 && (x - 10) ** 2 + (y - 10) ** 2 <= 16;
  const inB = (x: number, y: number, z: number) => z >= 15 && z <= 19 && (x - 34) ** 2 + (y - 30) ** 2 <= 16;
  for (let z = 0; z < nz; z++) for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++) {
    data[x + nx * (y + ny * z)] = (inA(x, y, z) || inB(x, y, z) ? 100 : 30) + 8 * (rng() - 0.5);
  }
  const image: Volume<Float32Array> = { size: [nx, ny, nz], spacing: [1, 1, 1], origin: [0, 0, 0], direction: IDENTITY_DIRECTION, data };
  const maskAt = (z: number) => Uint8Array.from({ length: nx * ny }, (_, i) => (inA(i % nx, Math.floor(i / nx), z) || inB(i % nx, Math.floor(i / nx), z) ? 1 : 0));
  it('leaves the slices between them that no front reached empty, rather than moving one lesion into the other', async () => {
    const keySlices: KeySlice[] = [4, 17].map((index) => ({ index, empty: false, mask: maskAt(index), points: [], negativePoints: [] }));
    const { labels, report } = await segment(image, { axis: 2, labels: [{ value: 1, keySlices }] }, { engine: 'classic' });
    const areaOf = (z: number) => {
      let n = 0;
      for (let i = z * nx * ny; i < (z + 1) * nx * ny; i++) if (labels.data[i] === 1) n++;
      return n;
    };
    const slices = report.labels[0].slices;
    for (let z = 8; z <= 13; z++) {
      const source = slices.find((r) => r.slice === z)?.source;
      assert.equal(areaOf(z), 0, `slice ${z}: ${source}`);
      assert.notEqual(source, 'interpolated');
    }
    for (const z of [3, 5, 16, 18]) assert.ok(areaOf(z) > 20, `slice ${z}: each lesion followed (${areaOf(z)} px)`);
  });
});

describe('key slices with boxes', () => {
  const nu = 20;
  const nv = 16;
  const key = (over: Partial<KeySlice>): KeySlice => ({ index: 3, empty: false, points: [], negativePoints: [], ...over });
  it('a box whose cut found nothing stands for the object by its inscribed ellipse, confidence 0', () => {
    const empty = { mask: new Uint8Array(nu * nv), confidence: 0.7 };
    const r = orPromptMask(empty, key({ box: [4, 3, 10, 9], negativePoints: [[7, 6]] }), nu);
    assert.equal(r.confidence, 0);
    assert.deepEqual(boundingBox2d(r.mask, nu, nv), [4, 3, 10, 9]);
    assert.equal(r.mask[7 + nu * 6], 0, 'a negative click stays out');
    const two = orPromptMask(empty, key({ boxes: [[1, 1, 3, 3], [12, 8, 16, 12]] }), nu);
    assert.ok(two.mask[2 + nu * 2] && two.mask[14 + nu * 10], 'every box');
  });

  it('leaves a cut that found something, and prompts without a box, as they are', () => {
    const found = { mask: new Uint8Array(nu * nv), confidence: 0.8 };
    found.mask[5 + nu * 5] = 1;
    assert.equal(orPromptMask(found, key({ box: [4, 3, 10, 9] }), nu), found);
    const none = { mask: new Uint8Array(nu * nv), confidence: 0 };
    assert.equal(orPromptMask(none, key({ points: [[5, 5]] }), nu), none);
  });
});

describe('gap fusion: where one front decides alone', () => {
  it('names the front whose mask is the fused mask whatever the other front and the prior say', () => {
    assert.equal(decidingFront(0.2, 0.5), 'a');
    assert.equal(decidingFront(0.25, 0.5), null, 'at t = 0.25 the other front and the prior together make 0.75: not over');
    assert.equal(decidingFront(0.5, 0.5), null);
    assert.equal(decidingFront(0.75, 0.5), null);
    assert.equal(decidingFront(0.8, 0.5), 'b');
    assert.equal(decidingFront(0.05, 1), null, 'a prior as strong as the fronts: no front decides alone');
    assert.equal(decidingFront(0.3, 0), 'a', 'without a prior the heavier front decides');
    // Wherever a front decides, fusing any masks gives that front's mask.
    const masks = [0, 1, 2, 3, 4, 5, 6, 7].map((x) => Uint8Array.from([x & 1, (x >> 1) & 1, (x >> 2) & 1]));
    for (const pv of [0, 0.3, 0.5, 0.9]) {
      for (let t = 0.01; t < 1; t += 0.01) {
        const d = decidingFront(t, pv);
        if (!d) continue;
        for (const a of masks) {
          for (const b of masks) {
            for (const p of masks) {
              const f = fuseSlice({ mask: a, confidence: 1 }, { mask: b, confidence: 1 }, p, t, pv).mask;
              assert.deepEqual([...f], [...(d === 'a' ? a : b)], `t ${t}, prior vote ${pv}`);
            }
          }
        }
      }
    }
  });

  it('covers: each front of a gap runs to the last slice where the other does not decide alone', () => {
    // t = (w - 10) / 10: the front from 10 decides below t = 0.25 (slices 11, 12), the one from 20 above 0.75.
    assert.deepEqual(gapCovers({ a: 10, b: 20, lo: 11, hi: 19 }, 0.5), { up: 17, down: 13 });
    // A gap cut by the range keeps the same covers inside it.
    assert.deepEqual(gapCovers({ a: 10, b: 20, lo: 14, hi: 19 }, 0.5), { up: 17, down: 14 });
    // A prior vote of 1 or more: no front decides alone, both run through the gap.
    assert.deepEqual(gapCovers({ a: 10, b: 20, lo: 11, hi: 19 }, 1), { up: 19, down: 11 });
    // A short gap: t = 1/3, 2/3 on its two slices; neither front decides alone.
    assert.deepEqual(gapCovers({ a: 4, b: 7, lo: 5, hi: 6 }, 0.5), { up: 6, down: 5 });
  });
});
