/**
 * The propagation controller: from the key slices of one object to a mask on every slice, with any engine.
 *
 * Schedule, for one object:
 * 1. every key slice with a prompt is segmented (a drawn mask is taken as given) and never changed after;
 * 2. between two key slices that hold the object, a front runs from each end towards the other; where both
 *    reached a slice their masks are fused, weighted by distance, with the interpolation prior (shape-based
 *    interpolation of the key masks, or ITK morphological contour interpolation for engines that ask for it)
 *    as the third vote; a slice no front reached gets the prior;
 * 3. between a key slice holding the object and one saying "absent", a single front runs and stops before the
 *    "absent" slice;
 * 4. beyond the outermost key slices, fronts run outward until they stop by themselves (nothing found, area
 *    collapse, low confidence, similarity break) or meet the image's end, the user's range or the `extent`
 *    another engine's run found (model engines);
 * 5. no front ever crosses a key slice: a front that stopped inside a gap leaves the rest to the front coming
 *    from the other end.
 * Neighbouring slices that are near-duplicates (SSIM above a threshold) reuse the neighbour's mask.
 */
import type { KeySlice, LabelAnnotation } from '../annotations/types.js';
import { cropBox, histogramDistance, predictability, ssim } from '../analysis/similarity.js';
import type { IntensityWindow } from '../analysis/window.js';
import { interpolateKeyMasks } from '../interpolation/mci.js';
import { interpolateShapes } from '../interpolation/shape.js';
import { boundingBox2d, countNonZero } from '../morphology/binary.js';
import type { SliceGeometry, Volume } from '../volume/volume.js';
import { cropKeySlice, pasteSlice, roiImage, roiOfKeySlices, roiSize, type RoiBox } from './roi.js';
import type { FrontReport, Interpolation, ObjectSession, RoiImage, SliceEngine, SliceReport, SliceSource, StopReason } from './types.js';

export interface StopRules {
  /** A result below this confidence stops the front; that slice is not kept (default 0.5). */
  minConfidence: number;
  /** A result with less than this fraction of the previous slice's area stops the front after it (default 0.25). */
  collapseRatio: number;
  /** A result with less than this fraction of the key slice's area, or under 3 pixels, ends the object (default 0.02). */
  minAreaFraction: number;
  /** SSIM (windowed, around the object) below this between neighbouring slices is a break (default 0.1). */
  ssimBreak: number;
  /** Histogram distance above this between neighbouring slices is a break (default 0.5). */
  histogramBreak: number;
  /** SSIM at or above this makes the next slice a near-duplicate that reuses the mask (default 0.985). */
  duplicateSsim: number;
  /**
   * Beyond the outermost key slices: once a front's area has fallen below half the key slice's, an area above
   * this multiple of its smallest area so far stops it (that slice is not kept; default 1.3). Cross-sections
   * of an ending object shrink; regrowth means the front has slid onto a neighbouring structure.
   */
  regrowthRatio: number;
  /** Weight of the interpolation prior's vote when two fronts are fused (the fronts' weights sum to 1; default 0.5). */
  priorVote: number;
  /**
   * Skipping redundant slices: where the next slice is predicted by its two neighbours at least this well (see
   * `predictability`, default 0.85), a front steps two slices at once and fills the one in between by shape
   * interpolation of the masks on both sides. Set above 1 to turn skipping off.
   */
  skipPredictability: number;
  /** A two-slice step is kept only when its mask agrees with the previous one at least this well (Dice, default 0.9). */
  skipAgreement: number;
}

export const DEFAULT_STOP_RULES: StopRules = {
  minConfidence: 0.5,
  collapseRatio: 0.25,
  minAreaFraction: 0.02,
  ssimBreak: 0.1,
  histogramBreak: 0.5,
  duplicateSsim: 0.985,
  regrowthRatio: 1.3,
  priorVote: 0.5,
  skipPredictability: 0.85,
  skipAgreement: 0.9,
};

export interface PropagationOptions {
  /** Inclusive slice range [first, last] outside which nothing is propagated (key slices are kept anyway). */
  range?: [number, number];
  /**
   * Outer bounds [first, last] for the fronts beyond the outermost key slices, found by another engine's run
   * (see `SliceEngine.extentEngine`): an outward front stops there with reason `extent`.
   */
  extent?: [number, number];
  stopRules?: Partial<StopRules>;
  /** How the prior between key slices is interpolated (default: the engine's `interpolation`, else `shape`). */
  interpolation?: Interpolation;
  /** Called after each slice the engine propagates to, with its index (for progress). */
  onSlice?: (slice: number) => void;
}

export interface ObjectPropagation {
  /** ROI used, in full-slice coordinates. */
  roi: RoiBox;
  /** ROI stack `mask[u + nu * (v + nv * w)]` (ROI nu, nv; all slices). */
  mask: Uint8Array;
  nu: number;
  nv: number;
  /** Key slices (index → mask), ROI coordinates; null = absent. */
  keyMasks: Map<number, Uint8Array | null>;
  slices: SliceReport[];
  fronts: FrontReport[];
  /** Slices that reused a neighbour's mask instead of running the engine. */
  reused: number;
  /** Slices skipped (filled by interpolation inside a two-slice step), and two-slice steps tried but not kept. */
  skipped: number;
  skipsRejected: number;
  engineCalls: number;
}

interface FrontSlice {
  mask: Uint8Array;
  confidence: number;
  reused: boolean;
  skipped?: boolean;
  note?: string;
}

type Box = [number, number, number, number];

/** The box around `mask` where slices are compared: its bounding box widened by half its size, at least 8 px. */
function comparisonBox(img: RoiImage, mask: Uint8Array): Box {
  const { nu, nv } = img;
  const box = boundingBox2d(mask, nu, nv) ?? [0, 0, nu - 1, nv - 1];
  const mu = Math.max(8, Math.ceil(0.5 * (box[2] - box[0] + 1)));
  const mv = Math.max(8, Math.ceil(0.5 * (box[3] - box[1] + 1)));
  return [Math.max(0, box[0] - mu), Math.max(0, box[1] - mv), Math.min(nu - 1, box[2] + mu), Math.min(nv - 1, box[3] + mv)];
}

/** Similarity of slices a and b of the ROI inside `box` (around the object: see `comparisonBox`). */
function localSimilarity(img: RoiImage, a: number, b: number, box: Box): { ssim: number; hist: number } {
  const ca = cropBox(img.windowed(a), img.nu, box);
  const cb = cropBox(img.windowed(b), img.nu, box);
  return { ssim: ssim(ca, cb, box[2] - box[0] + 1, box[3] - box[1] + 1), hist: histogramDistance(ca, cb) };
}

/** How well slice `mid` is predicted by slices `prev` and `next` inside `box` (see `predictability`). */
function localPredictability(img: RoiImage, prev: number, mid: number, next: number, box: Box): number {
  const crop = (w: number): Float32Array => cropBox(img.windowed(w), img.nu, box);
  return predictability(crop(prev), crop(mid), crop(next), box[2] - box[0] + 1, box[3] - box[1] + 1);
}

/** Dice of two 2D masks (1 when both are empty). */
function maskDice(a: Uint8Array, b: Uint8Array): number {
  let both = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] && b[i]) both++;
    n += (a[i] ? 1 : 0) + (b[i] ? 1 : 0);
  }
  return n ? (2 * both) / n : 1;
}

const fmt = (x: number): string => x.toFixed(3);

/**
 * Runs the schedule for one object. Returns the ROI stack of masks and the per-slice and per-front reports.
 * Key slices with a mask prompt are taken as given; others are segmented by the engine.
 */
export async function propagateObject(
  image: Volume,
  sg: SliceGeometry,
  label: LabelAnnotation,
  engine: SliceEngine,
  window: IntensityWindow,
  options: PropagationOptions = {},
): Promise<ObjectPropagation | null> {
  const rules: StopRules = { ...DEFAULT_STOP_RULES, ...options.stopRules };
  const roi = roiOfKeySlices(label.keySlices, sg);
  if (!roi) return null;
  const img = roiImage(image, sg, roi, window);
  const { nu, nv } = roiSize(roi);
  const area = nu * nv;
  const count = sg.count;
  const lo = Math.max(0, options.range?.[0] ?? 0);
  const hi = Math.min(count - 1, options.range?.[1] ?? count - 1);

  const keys: KeySlice[] = [...label.keySlices].sort((a, b) => a.index - b.index).map((k) => cropKeySlice(k, sg, roi));
  const imageGuided = engine.imageGuided !== false;
  const session: ObjectSession = await engine.open(img);
  let engineCalls = 0;
  try {
    // 1. Key masks.
    const keyMasks = new Map<number, Uint8Array | null>();
    const keyConfidence = new Map<number, number>();
    const prompted: KeySlice[] = [];
    for (const k of keys) {
      if (k.empty) keyMasks.set(k.index, null);
      else if (k.mask) {
        keyMasks.set(k.index, k.mask);
        keyConfidence.set(k.index, 1);
      } else prompted.push(k);
    }
    for (const k of prompted) {
      const r = await session.segmentSlice(k);
      engineCalls++;
      keyMasks.set(k.index, r.mask);
      keyConfidence.set(k.index, r.confidence);
    }
    const objectKeys = keys.filter((k) => keyMasks.get(k.index));
    if (objectKeys.length === 0) {
      return emptyResult(roi, nu, nv, count, keyMasks, engineCalls);
    }
    await session.learn?.(objectKeys.map((k) => ({ index: k.index, mask: keyMasks.get(k.index) as Uint8Array })));

    // 2. Interpolation prior between key slices.
    const keyList = [...keyMasks].map(([index, mask]) => ({ index, mask }));
    const prior =
      (options.interpolation ?? engine.interpolation ?? 'shape') === 'mci'
        ? await interpolateKeyMasks({ nu, nv, count }, keyList)
        : interpolateShapes({ nu, nv, count }, keyList, { du: img.du, dv: img.dv });
    const priorOf = (w: number): Uint8Array => prior.subarray(w * area, (w + 1) * area);

    const fronts: FrontReport[] = [];
    let reused = 0;
    let skipped = 0;
    let skipsRejected = 0;

    /** Runs one front from key slice `start` one slice at a time in `dir` up to `limit` (inclusive). */
    const runFront = async (
      start: number,
      dir: 1 | -1,
      limit: number,
      endReason: StopReason,
      between: boolean,
    ): Promise<Map<number, FrontSlice>> => {
      const out = new Map<number, FrontSlice>();
      const keyMask = keyMasks.get(start) as Uint8Array;
      const keyArea = countNonZero(keyMask);
      const minArea = Math.max(3, rules.minAreaFraction * keyArea);
      let prev = keyMask;
      let prevArea = keyArea;
      let smallest = keyArea;
      let prevConf = keyConfidence.get(start) ?? 1;
      let from = start;
      let stop: StopReason = endReason;
      let detail: string | undefined;
      const inside = (w: number): boolean => (dir > 0 ? w <= limit : w >= limit);
      /** Why a result on slice w stops the front (before it is kept), or null. */
      const rejects = (w: number, r: FrontSlice, a: number): [StopReason, string] | null => {
        const note = r.note ? ` (${r.note})` : '';
        if (a < minArea) return ['object-ended', `slice ${w}: area ${a} px < ${fmt(minArea)}${note}`];
        if (r.confidence < rules.minConfidence) return ['low-confidence', `slice ${w}: confidence ${fmt(r.confidence)} < ${rules.minConfidence}${note}`];
        if (!between && smallest < 0.5 * keyArea && a > rules.regrowthRatio * smallest) {
          return ['area-regrowth', `slice ${w}: area ${a} px > ${rules.regrowthRatio} x ${smallest} px after shrinking`];
        }
        return null;
      };
      const step = async (to: number): Promise<FrontSlice> => {
        const res = await session.propagate({ from, to, mask: prev, prior: between ? priorOf(to) : null, key: start, keyMask });
        engineCalls++;
        options.onSlice?.(to);
        return { mask: res.mask, confidence: res.confidence, reused: false, ...(res.note ? { note: res.note } : {}) };
      };
      /** Dice between the last two masks of this front (0 until the front has made a single step). */
      let lastAgreement = 0;
      /** Single steps to make before the next two-slice step may be tried (after one that was not kept). */
      let backoff = 0;
      for (let w = start + dir; inside(w); ) {
        let duplicate = false;
        let redundant = false;
        if (imageGuided) {
          const box = comparisonBox(img, prev);
          const sim = localSimilarity(img, from, w, box);
          if (sim.ssim < rules.ssimBreak || sim.hist > rules.histogramBreak) {
            stop = 'similarity-break';
            detail = `slice ${from}→${w}: ssim ${fmt(sim.ssim)}, histogram distance ${fmt(sim.hist)}`;
            break;
          }
          duplicate = sim.ssim >= rules.duplicateSsim;
          // A two-slice step is tried where the object has been changing slowly (the last step's masks agree well
          // enough that two steps should still agree at skipAgreement) and the image at w is predicted by its
          // neighbours.
          redundant =
            !duplicate &&
            inside(w + dir) &&
            backoff === 0 &&
            lastAgreement >= 1 - 0.5 * (1 - rules.skipAgreement) &&
            localPredictability(img, from, w, w + dir, box) >= rules.skipPredictability;
        }
        if (redundant) {
          // Two slices at once; the one in between is interpolated. Kept only when nothing would stop the front on
          // either slice and the object changed little; otherwise the single step below runs.
          const w2 = w + dir;
          const far = await step(w2);
          const a2 = countNonZero(far.mask);
          if (!rejects(w2, far, a2) && a2 >= rules.collapseRatio * prevArea && maskDice(prev, far.mask) >= rules.skipAgreement) {
            const pair = interpolateShapes({ nu, nv, count: 3 }, [
              { index: 0, mask: prev },
              { index: 2, mask: far.mask },
            ], { du: img.du, dv: img.dv });
            const midMask = pair.slice(area, 2 * area);
            const mid: FrontSlice = { mask: midMask, confidence: 0.5 * (prevConf + far.confidence), reused: false, skipped: true };
            skipped++;
            out.set(w, mid);
            out.set(w2, far);
            smallest = Math.min(smallest, countNonZero(midMask), a2);
            lastAgreement = maskDice(midMask, far.mask);
            prev = far.mask;
            prevArea = a2;
            prevConf = far.confidence;
            from = w2;
            w = w2 + dir;
            continue;
          }
          skipsRejected++;
          backoff = 2;
        }
        let r: FrontSlice;
        if (duplicate) {
          r = { mask: prev, confidence: prevConf, reused: true };
          reused++;
        } else {
          r = await step(w);
        }
        const a = countNonZero(r.mask);
        const rejected = rejects(w, r, a);
        if (rejected) {
          [stop, detail] = rejected;
          break;
        }
        smallest = Math.min(smallest, a);
        out.set(w, r);
        if (a < rules.collapseRatio * prevArea) {
          stop = 'area-collapse';
          detail = `slice ${w}: area ${a} px < ${rules.collapseRatio} x ${prevArea} px`;
          break;
        }
        lastAgreement = r.reused ? 1 : maskDice(prev, r.mask);
        if (backoff > 0) backoff--;
        prev = r.mask;
        prevArea = a;
        prevConf = r.confidence;
        from = w;
        w += dir;
      }
      const written = [...out.keys()];
      fronts.push({
        from: start,
        direction: dir,
        last: written.length ? written[written.length - 1] : null,
        slices: written.length,
        stop,
        ...(detail ? { detail } : {}),
      });
      return out;
    };

    // Output stack and per-slice records.
    const mask = new Uint8Array(area * count);
    const records = new Map<number, { source: SliceSource; from: number[]; confidence: number; reused?: boolean; skipped?: boolean }>();
    const write = (w: number, m: Uint8Array): void => mask.set(m.subarray(0, area), w * area);
    for (const k of keys) {
      const m = keyMasks.get(k.index);
      if (m) write(k.index, m);
      records.set(k.index, { source: 'key', from: [k.index], confidence: m ? (keyConfidence.get(k.index) ?? 1) : 1 });
    }
    const take = (w: number, s: FrontSlice, from: number): void => {
      write(w, s.mask);
      records.set(w, {
        source: 'propagated',
        from: [from],
        confidence: s.confidence,
        ...(s.reused ? { reused: true } : {}),
        ...(s.skipped ? { skipped: true } : {}),
      });
    };

    // 4. Outward below the first key slice and above the last.
    const first = keys[0];
    const last = keys[keys.length - 1];
    const outLo = Math.max(lo, options.extent?.[0] ?? lo);
    const outHi = Math.min(hi, options.extent?.[1] ?? hi);
    const outerReason = (limit: number, bound: number, edge: number): StopReason =>
      limit !== bound ? 'extent' : bound !== edge ? 'range' : 'volume-edge';
    if (keyMasks.get(first.index) && first.index > outLo) {
      const f = await runFront(first.index, -1, outLo, outerReason(outLo, lo, 0), false);
      for (const [w, s] of f) take(w, s, first.index);
    }
    // 2-3. Gaps between consecutive key slices.
    for (let n = 0; n + 1 < keys.length; n++) {
      const a = keys[n].index;
      const b = keys[n + 1].index;
      if (b - a < 2) continue;
      const ma = keyMasks.get(a);
      const mb = keyMasks.get(b);
      const gLo = Math.max(a + 1, lo);
      const gHi = Math.min(b - 1, hi);
      if (gLo > gHi) continue;
      // A prior between an object key slice and an "absent" one exists where the interpolation tapers the object.
      const tapered = (!ma || !mb) && priorOf(Math.round((gLo + gHi) / 2)).some((x) => x);
      const fa = ma && gLo === a + 1 ? await runFront(a, 1, gHi, gHi === b - 1 ? (mb ? 'key-slice' : 'absent') : 'range', !!mb || tapered) : new Map<number, FrontSlice>();
      const fb = mb && gHi === b - 1 ? await runFront(b, -1, gLo, gLo === a + 1 ? (ma ? 'key-slice' : 'absent') : 'range', !!ma || tapered) : new Map<number, FrontSlice>();
      for (let w = gLo; w <= gHi; w++) {
        const sa = fa.get(w);
        const sb = fb.get(w);
        if (sa && sb) {
          const t = (w - a) / (b - a);
          const p = priorOf(w);
          const m = new Uint8Array(area);
          const wp = rules.priorVote;
          const norm = 1 / (1 + wp);
          for (let i = 0; i < area; i++) {
            const vote = ((1 - t) * sa.mask[i] + t * sb.mask[i] + wp * p[i]) * norm;
            m[i] = vote > 0.5 ? 1 : 0;
          }
          write(w, m);
          records.set(w, { source: 'fused', from: [a, b], confidence: (1 - t) * sa.confidence + t * sb.confidence });
        } else if (sa) take(w, sa, a);
        else if (sb) take(w, sb, b);
        else if (ma && mb && engine.gapFallback !== 'none') {
          write(w, priorOf(w));
          records.set(w, { source: 'interpolated', from: [a, b], confidence: 0 });
        }
      }
    }
    if (keyMasks.get(last.index) && last.index < outHi) {
      const f = await runFront(last.index, 1, outHi, outerReason(outHi, hi, count - 1), false);
      for (const [w, s] of f) take(w, s, last.index);
    }

    const slices: SliceReport[] = [];
    for (let w = 0; w < count; w++) {
      const r = records.get(w);
      const a = countNonZero(mask.subarray(w * area, (w + 1) * area));
      slices.push({
        slice: w,
        source: r?.source ?? 'none',
        from: r?.from ?? [],
        confidence: Math.round((r?.confidence ?? 0) * 1000) / 1000,
        area: a,
        ...(r?.reused ? { reused: true } : {}),
        ...(r?.skipped ? { skipped: true } : {}),
      });
    }
    return { roi, mask, nu, nv, keyMasks, slices, fronts, reused, skipped, skipsRejected, engineCalls };
  } finally {
    session.close?.();
  }
}

function emptyResult(
  roi: RoiBox,
  nu: number,
  nv: number,
  count: number,
  keyMasks: Map<number, Uint8Array | null>,
  engineCalls: number,
): ObjectPropagation {
  const slices: SliceReport[] = [];
  for (let w = 0; w < count; w++) {
    slices.push({ slice: w, source: keyMasks.has(w) ? 'key' : 'none', from: keyMasks.has(w) ? [w] : [], confidence: 1, area: 0 });
  }
  return { roi, mask: new Uint8Array(nu * nv * count), nu, nv, keyMasks, slices, fronts: [], reused: 0, skipped: 0, skipsRejected: 0, engineCalls };
}

/** Pastes an object's ROI stack into a full stack (`out[u + nu * (v + nv * w)]` over whole slices). */
export function pasteObject(p: ObjectPropagation, sg: SliceGeometry, out: Uint8Array): void {
  const area = p.nu * p.nv;
  const full = sg.area;
  for (let w = 0; w < sg.count; w++) {
    pasteSlice(p.mask.subarray(w * area, (w + 1) * area), p.roi, out.subarray(w * full, (w + 1) * full), sg.nu);
  }
}
