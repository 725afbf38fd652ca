/**
 * What one label's prompts say of the other labels on the same slice. Where several labels are prompted on one
 * slice, a positive click of one label says where another label is not (the convention of MONAI Label's
 * DeepEdit and of keyslice's MONAI Label endpoint), and so does a drawn mask, taken as given: each label's key
 * slice with a box or points takes the other labels' positive clicks on that slice as negative clicks and the
 * other labels' drawn masks there as pixels it excludes. A key slice that is itself a drawn mask or "absent" is
 * taken as given and gains nothing. A click that falls on or next to the label's own positive click (their
 * 3 x 3 seeds would touch) is left out, as the user's own click on the label wins; a drawn mask wins over any
 * click of another label (its pixels are excluded even under that label's own clicks).
 */
import type { KeySlice, Point } from './types.js';

/** Whether two clicks' 3 x 3 seeds touch (Chebyshev distance at most 2). */
function near(a: Point, b: Point): boolean {
  return Math.abs(a[0] - b[0]) <= 2 && Math.abs(a[1] - b[1]) <= 2;
}

/** What the labels say on one slice: each label's positive clicks and drawn mask there. */
interface OnSlice {
  value: number;
  points: Point[];
  mask?: Uint8Array;
}

/** The other labels' positive clicks a key slice does not have yet as negative clicks (see the module comment). */
function addedNegatives(k: KeySlice, others: readonly OnSlice[]): Point[] {
  const added: Point[] = [];
  for (const p of others.flatMap((o) => o.points)) {
    if (k.points.some((q) => near(p, q))) continue;
    if ([...k.negativePoints, ...added].some((q) => q[0] === p[0] && q[1] === p[1])) continue;
    added.push([p[0], p[1]]);
  }
  return added;
}

/** The union of the other labels' drawn masks on a key slice's slice; null where there is none. */
function excludedPixels(others: readonly OnSlice[]): Uint8Array | null {
  const masks = others.flatMap((o) => (o.mask ? [o.mask] : []));
  if (masks.length === 0) return null;
  const out = new Uint8Array(masks[0].length);
  for (const m of masks) for (let i = 0; i < out.length; i++) out[i] |= m[i];
  return out;
}

/**
 * The labels with each key slice that has a box or points given the other labels' positive clicks on its slice
 * as negative clicks (after its own, in label order, without repeats) and their drawn masks as `excluded`. A key
 * slice that gains nothing is returned as it is (the same object), and so is a label none of whose key slices
 * gains anything.
 */
export function withOtherLabels<L extends { value: number; keySlices: readonly KeySlice[] }>(labels: readonly L[]): L[] {
  const bySlice = new Map<number, OnSlice[]>();
  for (const l of labels) {
    for (const k of l.keySlices) {
      if (k.empty || (!k.mask && k.points.length === 0)) continue;
      let on = bySlice.get(k.index);
      if (!on) bySlice.set(k.index, (on = []));
      on.push(k.mask ? { value: l.value, points: [], mask: k.mask } : { value: l.value, points: k.points });
    }
  }
  return labels.map((l) => {
    let changed = false;
    const keySlices = l.keySlices.map((k): KeySlice => {
      if (k.empty || k.mask) return k;
      const others = (bySlice.get(k.index) ?? []).filter((o) => o.value !== l.value);
      const negatives = addedNegatives(k, others);
      const excluded = excludedPixels(others);
      if (negatives.length === 0 && !excluded) return k;
      changed = true;
      return { ...k, negativePoints: [...k.negativePoints, ...negatives], ...(excluded ? { excluded } : {}) };
    });
    return changed ? { ...l, keySlices } : l;
  });
}
