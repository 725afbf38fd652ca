/**
 * The similarity profile of a volume along its slice axis: for every pair of neighbouring slices, SSIM and
 * histogram distance of the windowed slices; for every inner slice, how well its two neighbours predict it;
 * from these, the runs of redundant slices and the change points. Over whole slices, and over a region of
 * interest (an annotated object's) when one is given.
 *
 * The measures are those the propagation controller uses (`src/analysis/similarity.ts`), with its thresholds:
 * a pair is a similarity break below SSIM {@link DEFAULT_STOP_RULES.ssimBreak} or above histogram distance
 * {@link DEFAULT_STOP_RULES.histogramBreak}; a slice is redundant at predictability
 * {@link DEFAULT_STOP_RULES.skipPredictability} or more. A change point is a break, or a pair whose
 * dissimilarity (1 - SSIM, or the histogram distance) stands out of the profile's own: above its median by more
 * than {@link OUTLIER_MADS} robust standard deviations (1.4826 x MAD), so that what counts as a change follows
 * the scan (thin clean slices differ little, thick noisy ones a lot).
 * Indices are 0-based slice indices along the slice axis; pair `w` is slices w and w + 1.
 */
import { DEFAULT_STOP_RULES } from '../propagation/controller.js';
import type { RoiBox } from '../propagation/roi.js';
import type { SliceGeometry, Volume } from '../volume/volume.js';
import { cropBox, histogramDistance, predictability, ssim } from './similarity.js';
import { applyWindow, type IntensityWindow } from './window.js';

/** Robust standard deviations above the median that make a pair a change point. */
export const OUTLIER_MADS = 4;

export interface PairMeasure {
  /** The pair's first slice (the pair is `slice`, `slice + 1`). */
  slice: number;
  ssim: number;
  histogram: number;
}

export interface ChangePoint {
  /** The pair's first slice. */
  slice: number;
  reason: 'similarity-break' | 'outlier';
  ssim: number;
  histogram: number;
}

export interface RegionProfile {
  /** The region, [u0, v0, u1, v1] inclusive in-plane voxel indices (the whole slice when no ROI). */
  box: [number, number, number, number];
  pairs: PairMeasure[];
  /** Per slice: how well its neighbours predict it (null for the first and last slice). */
  predictability: (number | null)[];
  /** Maximal runs [first, last] of consecutive redundant slices. */
  redundantRuns: [number, number][];
  /** Slices in redundant runs. */
  redundantSlices: number;
  changePoints: ChangePoint[];
}

export interface ProfileOptions {
  /** Thresholds (default: the controller's). */
  breakSsim?: number;
  breakHistogram?: number;
  redundantAt?: number;
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : 0.5 * (s[m - 1] + s[m]);
}

/** Values above median + OUTLIER_MADS robust standard deviations (a zero spread flags nothing). */
function outliers(values: number[]): boolean[] {
  const med = median(values);
  const sd = 1.4826 * median(values.map((x) => Math.abs(x - med)));
  return values.map((x) => sd > 0 && x > med + OUTLIER_MADS * sd);
}

/** Runs [first, last] of consecutive indices where `flags` is true. */
export function runsOf(flags: readonly boolean[]): [number, number][] {
  const runs: [number, number][] = [];
  let start = -1;
  for (let i = 0; i <= flags.length; i++) {
    if (i < flags.length && flags[i]) {
      if (start < 0) start = i;
    } else if (start >= 0) {
      runs.push([start, i - 1]);
      start = -1;
    }
  }
  return runs;
}

/** The profile of `image` along `sg`'s slice axis inside `box` (default: whole slices). */
export function regionProfile(
  image: Volume,
  sg: SliceGeometry,
  window: IntensityWindow,
  roi: RoiBox | null = null,
  options: ProfileOptions = {},
): RegionProfile {
  const breakSsim = options.breakSsim ?? DEFAULT_STOP_RULES.ssimBreak;
  const breakHistogram = options.breakHistogram ?? DEFAULT_STOP_RULES.histogramBreak;
  const redundantAt = options.redundantAt ?? DEFAULT_STOP_RULES.skipPredictability;
  const box: [number, number, number, number] = roi ? [roi.u0, roi.v0, roi.u1, roi.v1] : [0, 0, sg.nu - 1, sg.nv - 1];
  const w = box[2] - box[0] + 1;
  const h = box[3] - box[1] + 1;
  const raw = new Float32Array(sg.area);
  const windowed = new Float32Array(sg.area);
  const slice = (k: number): Float32Array => {
    sg.extract(image.data, k, raw);
    return cropBox(applyWindow(raw, window, windowed), sg.nu, box);
  };
  const pairs: PairMeasure[] = [];
  const pred: (number | null)[] = new Array<number | null>(sg.count).fill(null);
  let before: Float32Array | null = null;
  let cur = slice(0);
  for (let k = 0; k + 1 < sg.count; k++) {
    const next = slice(k + 1);
    pairs.push({ slice: k, ssim: ssim(cur, next, w, h), histogram: histogramDistance(cur, next) });
    if (before) pred[k] = predictability(before, cur, next, w, h);
    before = cur;
    cur = next;
  }
  const redundant = pred.map((p) => p !== null && p >= redundantAt);
  const redundantRuns = runsOf(redundant);
  const outSsim = outliers(pairs.map((p) => 1 - p.ssim));
  const outHist = outliers(pairs.map((p) => p.histogram));
  const changePoints: ChangePoint[] = [];
  pairs.forEach((p, i) => {
    const broken = p.ssim < breakSsim || p.histogram > breakHistogram;
    if (broken || outSsim[i] || outHist[i]) changePoints.push({ ...p, reason: broken ? 'similarity-break' : 'outlier' });
  });
  return {
    box,
    pairs,
    predictability: pred,
    redundantRuns,
    redundantSlices: redundant.filter(Boolean).length,
    changePoints,
  };
}

/** Windowed value (0..1) above which a voxel counts as tissue rather than air or background. */
export const TISSUE_LEVEL = 0.1;

/** Per slice, the voxels above {@link TISSUE_LEVEL}. */
export function tissueAreas(image: Volume, sg: SliceGeometry, window: IntensityWindow): number[] {
  const raw = new Float32Array(sg.area);
  const win = new Float32Array(sg.area);
  const out: number[] = [];
  for (let w = 0; w < sg.count; w++) {
    applyWindow(sg.extract(image.data, w, raw), window, win);
    let n = 0;
    for (let i = 0; i < win.length; i++) if (win[i] > TISSUE_LEVEL) n++;
    out.push(n);
  }
  return out;
}

/** The in-plane box holding every tissue voxel of every slice (whole slices when there is none). */
export function tissueBox(image: Volume, sg: SliceGeometry, window: IntensityWindow): RoiBox {
  const raw = new Float32Array(sg.area);
  const win = new Float32Array(sg.area);
  let u0 = sg.nu;
  let v0 = sg.nv;
  let u1 = -1;
  let v1 = -1;
  for (let w = 0; w < sg.count; w++) {
    applyWindow(sg.extract(image.data, w, raw), window, win);
    for (let v = 0; v < sg.nv; v++) {
      for (let u = 0; u < sg.nu; u++) {
        if (win[u + sg.nu * v] <= TISSUE_LEVEL) continue;
        if (u < u0) u0 = u;
        if (u > u1) u1 = u;
        if (v < v0) v0 = v;
        if (v > v1) v1 = v;
      }
    }
  }
  return u1 < 0 ? { u0: 0, v0: 0, u1: sg.nu - 1, v1: sg.nv - 1 } : { u0, v0, u1, v1 };
}
