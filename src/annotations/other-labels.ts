/**
 * Clicks of one label are background for the others. Where several labels are prompted on the same slice, a
 * positive click of one label says where another label is not (the convention of MONAI Label's DeepEdit and of
 * keyslice's MONAI Label endpoint): each label's prompted key slice takes the other labels' positive clicks on
 * that slice as negative clicks. Drawn masks and "absent" key slices are taken as given and change nothing; a
 * click that falls on or next to the label's own positive click (their 3 x 3 seeds would touch) is left out, as
 * the user's own click on the label wins.
 */
import type { KeySlice, Point } from './types.js';

/** Whether two clicks' 3 x 3 seeds touch (Chebyshev distance at most 2). */
function near(a: Point, b: Point): boolean {
  return Math.abs(a[0] - b[0]) <= 2 && Math.abs(a[1] - b[1]) <= 2;
}

/**
 * The labels with each prompted key slice given the other labels' positive clicks on its slice as negative
 * clicks (after its own, in label order, without repeats). A key slice that gains nothing is returned as it is
 * (the same object), and so is a label none of whose key slices gains anything.
 */
export function withOtherLabelsClicks<L extends { value: number; keySlices: readonly KeySlice[] }>(labels: readonly L[]): L[] {
  // Positive clicks by slice and label.
  const clicks = new Map<number, { value: number; points: Point[] }[]>();
  for (const l of labels) {
    for (const k of l.keySlices) {
      if (k.empty || k.mask || k.points.length === 0) continue;
      let on = clicks.get(k.index);
      if (!on) clicks.set(k.index, (on = []));
      on.push({ value: l.value, points: k.points });
    }
  }
  return labels.map((l) => {
    let changed = false;
    const keySlices = l.keySlices.map((k): KeySlice => {
      if (k.empty || k.mask) return k;
      const others = (clicks.get(k.index) ?? []).filter((c) => c.value !== l.value).flatMap((c) => c.points);
      const added: Point[] = [];
      for (const p of others) {
        if (k.points.some((q) => near(p, q))) continue;
        if ([...k.negativePoints, ...added].some((q) => q[0] === p[0] && q[1] === p[1])) continue;
        added.push([p[0], p[1]]);
      }
      if (added.length === 0) return k;
      changed = true;
      return { ...k, negativePoints: [...k.negativePoints, ...added] };
    });
    return changed ? { ...l, keySlices } : l;
  });
}
