/**
 * Where a label ends on another label's territory. Beyond its outermost key slices nothing holds a label's
 * fronts but the image; where two labelled objects touch in the same tissue (the head and the body of one
 * structure, labelled apart), the image shows no end between them, and a front of one runs on through the other.
 * Walking outward from a label's outermost key slice, the label ends at the first slice where more than `share`
 * of its mask lies on the masks of other labels better founded there: on their key slices, inside their key-slice
 * span, or nearer their nearest key slice than this label's outermost one (a label whose key-slice span holds that
 * outermost key slice shares those slices with it and does not end it). Short of its end, a voxel of the label's
 * tail that a better-founded label holds is that label's. Decided on all labels' propagated masks at once, so the
 * order of labels does not matter there.
 *
 * Where a label tapers out beside another (see `meetingTips`), its front stops a slice short: the image shows no
 * end between the two, and the label's last few pixels fall below the least area a front slice may have.
 */
import type { SliceGeometry } from '../volume/volume.js';
import type { LabelRun } from './label-run.js';

/** Default share of a label's mask on a slice that, lying on better-founded labels, ends it there. */
export const TERRITORY_SHARE = 0.75;

/** A label's end on one side: its first slice given up (and every slice beyond), the label holding it, the share. */
export interface TerritoryEnd {
  side: -1 | 1;
  /** The label's outermost key slice on that side. */
  from: number;
  slice: number;
  by: number;
  share: number;
}

/** How well a label is founded on slice w, as the distance to its key slices (0 inside its key-slice span). */
function foundedDistance(keys: readonly number[], w: number): number {
  if (!keys.length) return Infinity;
  const lo = keys[0];
  const hi = keys[keys.length - 1];
  return w < lo ? lo - w : w > hi ? w - hi : 0;
}

/** Sorted key slices of each run. */
export function runKeys(runs: readonly LabelRun[]): number[][] {
  return runs.map((r) => [...new Set(r.label.keySlices.map((k) => k.index))].sort((a, b) => a - b));
}

/** The runs better founded than run i on slice w (none inside run i's key-slice span). */
export function betterFounded(runs: readonly LabelRun[], keysOf: readonly number[][], i: number, w: number): number[] {
  const own = foundedDistance(keysOf[i], w);
  if (own === 0) return [];
  return runs.flatMap((r, j) => (j !== i && r.propagation && foundedDistance(keysOf[j], w) < own ? [j] : []));
}

/** The ends of each run (same order; empty where a label runs through no other's territory). */
export function territoryEnds(sg: SliceGeometry, runs: readonly LabelRun[], share = TERRITORY_SHARE): TerritoryEnd[][] {
  const keysOf = runKeys(runs);
  return runs.map((run, i) => {
    const p = run.propagation;
    const keys = keysOf[i];
    if (!p || !keys.length || runs.length < 2) return [];
    const ends: TerritoryEnd[] = [];
    for (const side of [-1, 1] as const) {
      const from = side < 0 ? keys[0] : keys[keys.length - 1];
      for (let w = from + side; w >= 0 && w < sg.count; w += side) {
        // A label whose key-slice span holds this label's outermost key slice shares these slices with it.
        const others = betterFounded(runs, keysOf, i, w).filter((j) => foundedDistance(keysOf[j], from) > 0);
        if (!others.length) continue;
        const end = endOn(runs, i, others, w, share);
        if (end) {
          ends.push({ side, from, slice: w, ...end });
          break;
        }
      }
    }
    return ends;
  });
}

/** Whether run i's mask on slice w lies by more than `share` on the masks of runs `others`, and on whose most. */
function endOn(runs: readonly LabelRun[], i: number, others: number[], w: number, share: number): { by: number; share: number } | null {
  const p = runs[i].propagation!;
  const area = p.nu * p.nv;
  const s = p.mask.subarray(w * area, (w + 1) * area);
  const hits = new Array<number>(others.length).fill(0);
  let n = 0;
  let on = 0;
  for (let v = 0; v < p.nv; v++) {
    for (let u = 0; u < p.nu; u++) {
      if (!s[u + p.nu * v]) continue;
      n++;
      let any = false;
      others.forEach((j, k) => {
        if (covers(runs[j].propagation!, p.roi.u0 + u, p.roi.v0 + v, w)) {
          hits[k]++;
          any = true;
        }
      });
      if (any) on++;
    }
  }
  if (n === 0 || on <= share * n) return null;
  const best = hits.indexOf(Math.max(...hits));
  return { by: runs[others[best]].label.value, share: on / n };
}

/** Whether a run's ROI stack holds full-slice pixel (u, v) of slice w. */
export function covers(p: NonNullable<LabelRun['propagation']>, u: number, v: number, w: number): boolean {
  const x = u - p.roi.u0;
  const y = v - p.roi.v0;
  if (x < 0 || y < 0 || x >= p.nu || y >= p.nv) return false;
  return p.mask[x + p.nu * (y + p.nv * w)] !== 0;
}

/** Default: a label's last cross-section at most this share of another label's on that slice is a sliver beside it. */
export const SLIVER_SHARE = 0.5;

/** Default share of the last cross-section's area that its tip on the next slice holds (as the fronts' `tipRatio`). */
export const MEETING_TIP_SHARE = 0.25;

/** A label's tip beyond its last slice on one side, beside another label: full-slice pixels `[u, v]` on `slice`. */
export interface MeetingTip {
  side: -1 | 1;
  slice: number;
  /** The label beside which the tip lies. */
  by: number;
  pixels: [number, number][];
}

/** Whether run i keeps full-slice pixel (u, v) of slice w (default: where its ROI stack is set). */
export type Held = (i: number, u: number, v: number, w: number) => boolean;

/**
 * The tips of each run (same order) where it tapers out beside another label. Walking outward from a label's
 * outermost key slice over the slices it keeps (`spans`, after its territory ends), its last cross-section e is a
 * sliver beside label j when it holds at most `sliver` of j's pixels on e and touches j's mask on the next slice
 * (8-neighbours): the two are one structure there and the label ends against the other, a few pixels beyond e.
 * The tip is the pixels of e's cross-section nearest j's mask on the next slice (on it first, then next to it;
 * nearer e's centroid first), `tipShare` of e's area. None on a key slice, where the labels are drawn, nor where
 * the label's own stack holds pixels on the next slice (its front reached it). `held`
 * tells which pixels of the ROI stacks the labels keep (after the merge gave contested ones away).
 */
export function meetingTips(
  sg: SliceGeometry,
  runs: readonly LabelRun[],
  spans: readonly [number, number][],
  held: Held = (i, u, v, w) => covers(runs[i].propagation!, u, v, w),
  sliver = SLIVER_SHARE,
  tipShare = MEETING_TIP_SHARE,
): MeetingTip[][] {
  const keysOf = runKeys(runs);
  const drawn = new Set(keysOf.flat());
  const pixelsOf = (i: number, w: number): [number, number][] => (runs[i].propagation ? keptPixels(runs[i].propagation!, w, (u, v) => held(i, u, v, w)) : []);
  return runs.map((run, i) => {
    const keys = keysOf[i];
    if (!run.propagation || !keys.length || runs.length < 2) return [];
    const [lo, hi] = spans[i];
    const tips: MeetingTip[] = [];
    for (const side of [-1, 1] as const) {
      let e = side < 0 ? keys[0] : keys[keys.length - 1];
      while (e + side >= lo && e + side <= hi && anyKept(run.propagation, e + side, (u, v) => held(i, u, v, e + side))) e += side;
      const w = e + side;
      const last = pixelsOf(i, e);
      // Only where the label's own stack is empty: its front stopped there.
      if (w < lo || w > hi || drawn.has(w) || !last.length || anyKept(run.propagation, w, () => true)) continue;
      for (let j = 0; j < runs.length; j++) {
        const q = runs[j].propagation;
        if (j === i || !q || last.length > sliver * pixelsOf(j, e).length) continue;
        const pixels = tipPixels(last, (u, v) => held(j, u, v, w), Math.ceil(tipShare * last.length));
        if (pixels.length) {
          tips.push({ side, slice: w, by: runs[j].label.value, pixels });
          break;
        }
      }
    }
    return tips;
  });
}

/** Whether `keep` accepts a full-slice pixel of a run's ROI stack on slice w. */
function anyKept(p: NonNullable<LabelRun['propagation']>, w: number, keep: (u: number, v: number) => boolean): boolean {
  const area = p.nu * p.nv;
  for (let i = w * area; i < (w + 1) * area; i++) {
    const x = i - w * area;
    if (p.mask[i] && keep(p.roi.u0 + (x % p.nu), p.roi.v0 + Math.floor(x / p.nu))) return true;
  }
  return false;
}

/** Full-slice pixels of a run's ROI stack on slice w that `keep` accepts. */
function keptPixels(p: NonNullable<LabelRun['propagation']>, w: number, keep: (u: number, v: number) => boolean): [number, number][] {
  const area = p.nu * p.nv;
  const s = p.mask.subarray(w * area, (w + 1) * area);
  const out: [number, number][] = [];
  for (let v = 0; v < p.nv; v++) {
    for (let u = 0; u < p.nu; u++) if (s[u + p.nu * v] && keep(p.roi.u0 + u, p.roi.v0 + v)) out.push([p.roi.u0 + u, p.roi.v0 + v]);
  }
  return out;
}

/**
 * Up to n of the pixels `last` within one pixel (8-neighbours) of the other label's mask `other` on the next
 * slice: those on it first, then nearer the centroid of `last`.
 */
function tipPixels(last: readonly [number, number][], other: (u: number, v: number) => boolean, n: number): [number, number][] {
  const cu = last.reduce((a, [u]) => a + u, 0) / last.length;
  const cv = last.reduce((a, [, v]) => a + v, 0) / last.length;
  const near = last.flatMap(([u, v]) => (other(u, v) ? [{ u, v, gap: 0 }] : touches(other, u, v) ? [{ u, v, gap: 1 }] : []));
  const d2 = (a: { u: number; v: number }): number => (a.u - cu) ** 2 + (a.v - cv) ** 2;
  near.sort((a, b) => a.gap - b.gap || d2(a) - d2(b));
  return near.slice(0, n).map((x) => [x.u, x.v]);
}

/** Whether one of the 8 neighbours of pixel (u, v) is set in `mask`. */
function touches(mask: (u: number, v: number) => boolean, u: number, v: number): boolean {
  for (let dv = -1; dv <= 1; dv++) {
    for (let du = -1; du <= 1; du++) if ((du || dv) && mask(u + du, v + dv)) return true;
  }
  return false;
}
