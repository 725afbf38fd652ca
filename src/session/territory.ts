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
