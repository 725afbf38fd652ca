/**
 * The front runner: carries the mask of one key slice from slice to slice in one direction, as a planned front
 * says (see `plan.ts`). Its state lives in one record ({@link FrontState}) that each step replaces; the stop
 * decision is `stop.ts`'s. Neighbouring slices that are near-duplicates reuse the mask; where the next slice is
 * redundant (predicted by its neighbours) and the object changes slowly, a two-slice step is tried and the slice
 * in between is interpolated.
 */
import { blockMeans, histogramDistance, predictability, ssim, ssimStride, SSIM_SAMPLES } from '../analysis/similarity.js';
import { interpolateShapes } from '../interpolation/shape.js';
import { boundingBox2d, connectedComponents, countNonZero, signedDistance2d } from '../morphology/binary.js';
import { holdsObjectsApart } from './apart.js';
import type { FrontPlan } from './plan.js';
import type { StopRules } from './rules.js';
import { collapses, endsOnKeyTip, endsOnPartTips, keepsNearKey, keepsSkip, keepsTip, lastKept, minAreaOf, rejects, similarityBreak, triesSkip, type StopState } from './stop.js';
import type { FrontInfo, FrontReport, ObjectSession, PropagationStep, RoiImage, SliceResult, StopReason } from './types.js';

/** One slice a front wrote. */
export interface FrontSlice {
  mask: Uint8Array;
  confidence: number;
  /** The mask of the previous slice, reused (a near-duplicate slice: no engine call). */
  reused: boolean;
  /** Interpolated inside a two-slice step (no engine call). */
  skipped?: boolean;
  note?: string;
}

/** What a front needs besides its plan. */
export interface FrontContext {
  img: RoiImage;
  session: ObjectSession;
  rules: StopRules;
  /** Whether slice similarity is checked (breaks, near-duplicates, redundant slices). */
  imageGuided: boolean;
  /** The mask of the key slice the front starts from, and the confidence it was drawn or segmented with. */
  keyMask: Uint8Array;
  keyConfidence: number;
  /**
   * Whether the object's key slices show several objects apart in the slice (lesions, see `holdsObjectsApart`):
   * each one the front loses then leaves its tip (see `partTips`), whatever the front's own key slice shows.
   * Default: whether the front's own key mask does.
   */
  severalObjects?: boolean;
  /** The interpolation prior on slice w (read only for fronts between key slices). */
  priorOf(w: number): Uint8Array;
  /** Called after each engine call, with the slice it was for (progress). */
  onStep?(slice: number): void;
  /** Stops the front between engine calls. */
  signal?: AbortSignal;
  /** Hears each slice as the front keeps it. */
  onSlice?(w: number, s: FrontSlice): void;
  /** Keeps comparisons of slices across runs on the same image and ROI (see {@link SliceComparisons}). */
  comparisons?: SliceComparisons;
}

/**
 * Keeps the comparisons of slices a front makes (similarity, predictability), which depend on the ROI's image
 * alone: `key` names the slices, the box and the measure; `compute` is called only when nothing is kept.
 */
export interface SliceComparisons {
  get<T>(key: string, compute: () => T): T;
}

/** The state of a front between two steps. */
export interface FrontState extends StopState {
  /** The last slice written (the key slice at first) and its mask and confidence. */
  from: number;
  prev: Uint8Array;
  prevConf: number;
  /** Dice between the last two masks of this front (0 until the front has made a single step). */
  lastAgreement: number;
  /** Single steps to make before the next two-slice step may be tried (after one that was not kept). */
  backoff: number;
}

/** What one front did: the slices it wrote, how it ended, and its counts. */
export interface FrontOutcome {
  slices: Map<number, FrontSlice>;
  report: FrontReport;
  engineCalls: number;
  reused: number;
  skipped: number;
  skipsRejected: number;
}

type Box = [number, number, number, number];

/** The box around `mask` where slices are compared: its bounding box widened by half its size, at least 8 px. */
export function comparisonBox(img: Pick<RoiImage, 'nu' | 'nv'>, mask: Uint8Array): Box {
  const { nu, nv } = img;
  const box = boundingBox2d(mask, nu, nv) ?? [0, 0, nu - 1, nv - 1];
  const mu = Math.max(8, Math.ceil(0.5 * (box[2] - box[0] + 1)));
  const mv = Math.max(8, Math.ceil(0.5 * (box[3] - box[1] + 1)));
  return [Math.max(0, box[0] - mu), Math.max(0, box[1] - mv), Math.min(nu - 1, box[2] + mu), Math.min(nv - 1, box[3] + mv)];
}

/**
 * The block size (pixels along each axis) at which slices are compared inside `box`: 1 (every pixel) below four
 * times `SSIM_SAMPLES` pixels (256 x 256), else the averages of blocks of the size whose grid holds the number of
 * samples nearest `SSIM_SAMPLES` (0.64 to 1.8 times as many). A large object's comparisons then cost what a
 * small one's do, and the averaging is the denoising a coarser grid needs; the windows of SSIM and the
 * predictability's denoising grow with the block.
 */
export function comparisonBlock(box: Box): number {
  const w = box[2] - box[0] + 1;
  const h = box[3] - box[1] + 1;
  return ssimStride(w, h) < 2 ? 1 : Math.round(Math.sqrt((w * h) / SSIM_SAMPLES));
}

/** A slice of the ROI inside a comparison box, at the box's block size (see `comparisonBlock`). */
type BoxCrop = (w: number) => ReturnType<typeof blockMeans>;

/**
 * The slices' crops inside `box`, each made once while the box stays the same: a step compares the slice it
 * comes from with the next (and the one after), and the next step, where the object's box has not changed,
 * compares the same slices again.
 */
function boxCrops(img: RoiImage): (box: Box) => BoxCrop {
  let key = '';
  let kept = new Map<number, ReturnType<typeof blockMeans>>();
  return (box) => {
    const k = box.join(',');
    if (k !== key) {
      key = k;
      kept = new Map();
    }
    const f = comparisonBlock(box);
    const made = kept;
    return (w) => {
      let c = made.get(w);
      if (!c) {
        c = blockMeans(img.windowed(w), img.nu, box, f);
        made.set(w, c);
      }
      return c;
    };
  };
}

/** Similarity of slices a and b of the ROI inside a box (around the object: see `comparisonBox`). */
function localSimilarity(crop: BoxCrop, a: number, b: number): { ssim: number; hist: number } {
  const ca = crop(a);
  const cb = crop(b);
  return { ssim: ssim(ca.data, cb.data, ca.nu, ca.nv), hist: histogramDistance(ca.data, cb.data) };
}

/** How well slice `mid` is predicted by slices `prev` and `next` inside a box (see `predictability`). */
function localPredictability(crop: BoxCrop, prev: number, mid: number, next: number): number {
  const m = crop(mid);
  return predictability(crop(prev).data, m.data, crop(next).data, m.nu, m.nv);
}

/** Dice of two 2D masks (1 when both are empty). */
export function maskDice(a: Uint8Array, b: Uint8Array): number {
  let both = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] && b[i]) both++;
    n += (a[i] ? 1 : 0) + (b[i] ? 1 : 0);
  }
  return n ? (2 * both) / n : 1;
}

/**
 * The tip of an object beyond its key slice: the deepest `share` of the key mask's pixels (its core), or null
 * where that leaves no pixel.
 */
export function keyTip(keyMask: Uint8Array, g: Pick<RoiImage, 'nu' | 'nv' | 'du' | 'dv'>, share: number): Uint8Array | null {
  const n = Math.floor(share * countNonZero(keyMask));
  if (n < 1) return null;
  const sd = signedDistance2d(keyMask, g.nu, g.nv, g.du, g.dv);
  const depths: number[] = [];
  for (let i = 0; i < keyMask.length; i++) if (keyMask[i]) depths.push(sd[i]);
  depths.sort((a, b) => a - b);
  const cut = depths[n - 1];
  const tip = new Uint8Array(keyMask.length);
  let kept = 0;
  for (let i = 0; i < keyMask.length && kept < n; i++) {
    if (keyMask[i] && sd[i] <= cut) {
      tip[i] = 1;
      kept++;
    }
  }
  return tip;
}

/**
 * The tips of the parts (8-connected) of `prev` that `next` does not touch: each part's core, its deepest `share`
 * of pixels (see `keyTip`), together; null where no part was lost or none gave a pixel. On a front that carries
 * several objects (lesions), one that ends leaves its tip on the slice where the front lost it.
 */
export function partTips(prev: Uint8Array, next: Uint8Array, g: Pick<RoiImage, 'nu' | 'nv' | 'du' | 'dv'>, share: number): Uint8Array | null {
  const { ids, sizes } = connectedComponents(prev, g.nu, g.nv, 1);
  const touched = new Uint8Array(sizes.length);
  for (let i = 0; i < prev.length; i++) if (ids[i] && next[i]) touched[ids[i]] = 1;
  let tips: Uint8Array | null = null;
  for (let c = 1; c < sizes.length; c++) {
    if (touched[c] || Math.floor(share * sizes[c]) < 1) continue;
    const part = new Uint8Array(prev.length);
    for (let i = 0; i < prev.length; i++) if (ids[i] === c) part[i] = 1;
    const tip = keyTip(part, g, share);
    if (!tip) continue;
    tips ??= new Uint8Array(prev.length);
    for (let i = 0; i < tip.length; i++) tips[i] |= tip[i];
  }
  return tips;
}

/** `s` with the tips of the parts the front lost on its slice (see `partTips`) added to its mask. */
function withPartTips(s: FrontSlice, tips: Uint8Array | null): FrontSlice {
  if (!tips) return s;
  const mask = Uint8Array.from(s.mask);
  for (let i = 0; i < mask.length; i++) mask[i] |= tips[i];
  return { ...s, mask, note: s.note ? `${s.note}; part tips` : 'part tips' };
}

/** The state of a front standing on its key slice. */
export function initialState(plan: FrontPlan, keyMask: Uint8Array, keyConfidence: number, rules: StopRules, severalObjects = false): FrontState {
  const keyArea = countNonZero(keyMask);
  return {
    between: plan.between,
    severalObjects,
    keyArea,
    minArea: minAreaOf(keyArea, rules),
    prevArea: keyArea,
    smallest: keyArea,
    smallestAt: plan.key,
    shrinking: true,
    firstConfidence: null,
    leastConfidence: 1,
    leastConfidenceAt: plan.key,
    leastConfidenceArea: keyArea,
    from: plan.key,
    prev: keyMask,
    prevConf: keyConfidence,
    lastAgreement: 0,
    backoff: 0,
  };
}

/**
 * The confidence figures of the state after the engine's result for slice w (confidence `confidence`, area
 * `area`). A reused or interpolated slice's confidence is its neighbours' and does not count.
 */
function confidenceAfter(st: FrontState, w: number, confidence: number, area: number): Pick<FrontState, 'firstConfidence' | 'leastConfidence' | 'leastConfidenceAt' | 'leastConfidenceArea'> {
  const least = confidence < st.leastConfidence;
  return {
    firstConfidence: st.firstConfidence ?? confidence,
    leastConfidence: least ? confidence : st.leastConfidence,
    leastConfidenceAt: least ? w : st.leastConfidenceAt,
    leastConfidenceArea: least ? area : st.leastConfidenceArea,
  };
}

/** The state after slice w was written with `s` (area `area`) by a single step. */
export function afterStep(st: FrontState, w: number, s: FrontSlice, area: number): FrontState {
  return {
    ...st,
    ...(s.reused ? {} : confidenceAfter(st, w, s.confidence, area)),
    smallest: Math.min(st.smallest, area),
    smallestAt: area < st.smallest ? w : st.smallestAt,
    shrinking: area < st.prevArea,
    lastAgreement: s.reused ? 1 : maskDice(st.prev, s.mask),
    backoff: st.backoff > 0 ? st.backoff - 1 : 0,
    prev: s.mask,
    prevArea: area,
    prevConf: s.confidence,
    from: w,
  };
}

/** Runs one planned front. */
export async function runFront(ctx: FrontContext, plan: FrontPlan): Promise<FrontOutcome> {
  const { img, session, rules, imageGuided } = ctx;
  const { nu, nv } = img;
  const area = nu * nv;
  const dir = plan.direction;
  const out = new Map<number, FrontSlice>();
  let engineCalls = 0;
  let reused = 0;
  let skipped = 0;
  let skipsRejected = 0;
  let stop: StopReason = plan.endReason;
  let detail: string | undefined;
  let keyScore: number | undefined;
  const inside = (w: number): boolean => (dir > 0 ? w <= plan.limit : w >= plan.limit);
  const cover = plan.cover ?? plan.limit;
  const needed = (w: number): boolean => (dir > 0 ? w <= cover : w >= cover);
  const keep = (w: number, s: FrontSlice): void => {
    out.set(w, s);
    ctx.onSlice?.(w, s);
  };
  const front: FrontInfo = { key: plan.key, direction: plan.direction, between: plan.between };
  const store = ctx.comparisons;
  const kept = <T>(key: string, compute: () => T): T => (store ? store.get(key, compute) : compute());
  /** The engine's prediction for slice `to` (kept by the engine only once `commit` is called). */
  const step = async (to: number): Promise<{ slice: FrontSlice; step: PropagationStep; result: SliceResult }> => {
    ctx.signal?.throwIfAborted();
    const s: PropagationStep = { front, from: st.from, to, mask: st.prev, prior: plan.between ? ctx.priorOf(to) : null, key: plan.key, keyMask: ctx.keyMask };
    const res = await session.propagate(s);
    engineCalls++;
    ctx.onStep?.(to);
    return { slice: { mask: res.mask, confidence: res.confidence, reused: false, ...(res.note ? { note: res.note } : {}) }, step: s, result: res };
  };
  const commit = async (p: { step: PropagationStep; result: SliceResult }): Promise<void> => {
    await session.commit?.(p.step, p.result);
  };
  const crops = boxCrops(img);
  // Several objects apart (lesions): each one the front loses leaves its tip (see `partTips`); the state holds the flag.
  let st = initialState(plan, ctx.keyMask, ctx.keyConfidence, rules, imageGuided && (ctx.severalObjects ?? holdsObjectsApart(ctx.keyMask, img)));
  let w = st.from + dir;
  for (; inside(w) && needed(w); ) {
    let duplicate = false;
    let redundant = false;
    if (imageGuided) {
      const box = comparisonBox(img, st.prev);
      const crop = crops(box);
      const sim = kept(`s${st.from}:${w}:${box.join(',')}`, () => localSimilarity(crop, st.from, w));
      const broken = similarityBreak(st.from, w, sim, rules);
      if (broken) {
        [stop, detail] = broken;
        break;
      }
      duplicate = sim.ssim >= rules.duplicateSsim;
      const from = st.from;
      redundant = !duplicate && inside(w + dir) && triesSkip(st.lastAgreement, st.backoff, () => kept(`p${from}:${w}:${w + dir}:${box.join(',')}`, () => localPredictability(crop, from, w, w + dir)), rules);
    }
    if (redundant) {
      // Two slices at once; the one in between is interpolated. Kept only when nothing would stop the front on
      // either slice and the object changed little; otherwise the single step below runs.
      const w2 = w + dir;
      const predicted = await step(w2);
      const far = predicted.slice;
      const a2 = countNonZero(far.mask);
      if (keepsSkip(st, w2, far, a2, maskDice(st.prev, far.mask), rules)) {
        const pair = interpolateShapes({ nu, nv, count: 3 }, [
          { index: 0, mask: st.prev },
          { index: 2, mask: far.mask },
        ], { du: img.du, dv: img.dv });
        const midMask = pair.slice(area, 2 * area);
        const mid: FrontSlice = { mask: midMask, confidence: 0.5 * (st.prevConf + far.confidence), reused: false, skipped: true };
        await commit(predicted);
        skipped++;
        keep(w, mid);
        keep(w2, far);
        const aMid = countNonZero(midMask);
        st = {
          ...st,
          ...confidenceAfter(st, w2, far.confidence, a2),
          smallest: Math.min(st.smallest, aMid, a2),
          smallestAt: a2 < Math.min(st.smallest, aMid) ? w2 : aMid < st.smallest ? w : st.smallestAt,
          shrinking: a2 < aMid,
          lastAgreement: maskDice(midMask, far.mask),
          prev: far.mask,
          prevArea: a2,
          prevConf: far.confidence,
          from: w2,
        };
        w = w2 + dir;
        continue;
      }
      skipsRejected++;
      st = { ...st, backoff: 2 };
    }
    let r: FrontSlice;
    let predicted: { step: PropagationStep; result: SliceResult } | null = null;
    if (duplicate) {
      r = { mask: st.prev, confidence: st.prevConf, reused: true };
      reused++;
    } else {
      const p = await step(w);
      r = p.slice;
      predicted = p;
    }
    const a = countNonZero(r.mask);
    const rejected = rejects(st, w, r, a, rules);
    if (rejected) {
      [stop, detail] = rejected;
      if (keepsTip(st, r, a, stop, rules)) {
        // The object's tapering tip: the slice is kept and the front ends on it.
        if (predicted) await commit(predicted);
        keep(w, r);
        detail = `${detail}; kept as the object's tip`;
        break;
      }
      if (stop === 'low-confidence' && !st.between && session.keyScore) {
        keyScore ??= session.keyScore(front, ctx.keyMask);
        if (keepsNearKey(st, r, stop, keyScore, rules)) {
          // The engine is about as sure of this slice as of the key mask itself: the front ends on it.
          if (predicted) await commit(predicted);
          keep(w, r);
          detail = `${detail}; kept: the key mask scores ${keyScore.toFixed(3)}`;
          break;
        }
      }
      if (endsOnKeyTip(st, st.from, plan.key, stop, imageGuided)) {
        const tip = keyTip(ctx.keyMask, img, rules.tipRatio);
        if (tip) {
          keep(w, { mask: tip, confidence: 0, reused: false, note: 'key tip' });
          detail = `${detail}; kept the key mask's core as the object's tip`;
          break;
        }
      }
      // After a regrowth, the slices written since the smallest or least confident one are not the object's (see `lastKept`).
      const end = lastKept(st, stop, st.from);
      for (let x = end + dir; x !== w; x += dir) out.delete(x);
      if (endsOnPartTips(st.severalObjects, st.from, plan.key, stop)) {
        const tips = partTips(st.prev, new Uint8Array(st.prev.length), img, rules.tipRatio);
        if (tips) {
          keep(w, { mask: tips, confidence: 0, reused: false, note: 'part tips' });
          detail = `${detail}; kept the cores of its objects as their tips`;
        }
      }
      break;
    }
    if (predicted) await commit(predicted);
    // The next step goes on from the engine's mask; the slice also holds the tips of the objects lost on it.
    keep(w, st.severalObjects && !r.reused ? withPartTips(r, partTips(st.prev, r.mask, img, rules.tipRatio)) : r);
    const collapsed = collapses(st, w, a, rules);
    if (collapsed) {
      [stop, detail] = collapsed;
      break;
    }
    st = afterStep(st, w, r, a);
    w += dir;
  }
  // Every slice the front was needed for is written; the other front decides the rest.
  if (stop === plan.endReason && !detail && inside(w)) stop = 'gap-covered';
  const written = [...out.keys()];
  const report: FrontReport = {
    from: plan.key,
    direction: dir,
    last: written.length ? written[written.length - 1] : null,
    slices: written.length,
    stop,
    ...(detail ? { detail } : {}),
  };
  return { slices: out, report, engineCalls, reused, skipped, skipsRejected };
}
