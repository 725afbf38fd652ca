/**
 * A simulated annotator: picks key slices of a known object and draws the prompts a person would, from the
 * truth. Used by the demo and the benchmark so both follow one protocol.
 */
import type { Box, KeySlice, LabelAnnotation, Point } from '../annotations/types.js';
import { emptyKeySlice } from '../annotations/types.js';
import { boundingBox2d, connectedComponents, signedDistance2d } from '../morphology/binary.js';
import type { SliceGeometry } from '../volume/volume.js';

export type PromptKind = 'mask' | 'box' | 'points';

export const PROMPT_KINDS: readonly PromptKind[] = ['mask', 'box', 'points'];

/** Per-slice voxel count of `value` along the slice axis. */
export function sliceAreas(labels: ArrayLike<number>, sg: SliceGeometry, value: number): number[] {
  const areas: number[] = [];
  for (let w = 0; w < sg.count; w++) areas.push(sg.countEqual(labels, w, value));
  return areas;
}

/** The slices holding the object (zmin..zmax) and the one of largest area (ties: lowest index); null when absent. */
function objectExtent(areas: readonly number[], k: number): { zmin: number; zmax: number; best: number } | null {
  if (!Number.isInteger(k) || k < 1) throw new Error(`budget must be a whole number >= 1, got ${k}`);
  let zmin = -1;
  let zmax = -1;
  let best = -1;
  for (let z = 0; z < areas.length; z++) {
    if (areas[z] <= 0) continue;
    if (zmin < 0) zmin = z;
    zmax = z;
    if (best < 0 || areas[z] > areas[best]) best = z;
  }
  return zmin < 0 ? null : { zmin, zmax, best };
}

/**
 * Key slices for a budget of k, from the object's per-slice areas:
 * - k = 1: the slice of largest area (ties: lowest index);
 * - k >= 2: floor(zmin + (i + 0.5) * (zmax - zmin + 1) / k) for i = 0..k-1, duplicates dropped, where
 *   zmin..zmax are the slices holding the object. The object's ends are not given, as with a real annotator.
 * Returns [] when the object is absent.
 */
export function selectKeySlices(areas: readonly number[], k: number): number[] {
  const e = objectExtent(areas, k);
  if (!e) return [];
  const { zmin, zmax, best } = e;
  if (k === 1) return [best];
  const n = zmax - zmin + 1;
  const out = new Set<number>();
  for (let i = 0; i < k; i++) out.add(Math.floor(zmin + ((i + 0.5) * n) / k));
  return [...out].sort((a, b) => a - b);
}

/**
 * Nested key slices for a budget of k: each budget's slices are those of the budget below plus more, so a larger
 * budget only adds annotations. k = 1 is the slice of largest area (ties: lowest index); each next slice is the one
 * of zmin..zmax farthest from the slices taken, where an end of the object's extent (half a slice beyond zmin and
 * zmax) counts at twice its distance, as the even spread of `selectKeySlices` puts its outer slices half a step in
 * from the ends (ties: lowest index). Returns [] when the object is absent.
 */
export function nestedKeySlices(areas: readonly number[], k: number): number[] {
  const e = objectExtent(areas, k);
  if (!e) return [];
  const { zmin, zmax } = e;
  const keys = [e.best];
  while (keys.length < k) {
    let best = -1;
    let bestScore = 0;
    for (let z = zmin; z <= zmax; z++) {
      let score = 2 * Math.min(z - zmin + 0.5, zmax + 0.5 - z);
      for (const key of keys) score = Math.min(score, Math.abs(z - key));
      if (score > bestScore) {
        bestScore = score;
        best = z;
      }
    }
    if (best < 0) break;
    keys.push(best);
  }
  return keys.sort((a, b) => a - b);
}

/** Tight inclusive 2D box of the non-zero values of a slice, or null when empty. */
export function tightBox(mask: ArrayLike<number>, nu: number, nv: number): Box | null {
  return boundingBox2d(mask, nu, nv);
}

/** Margin (pixels) around each instance's box: boxes that overlap or touch with it are one instance. */
export const INSTANCE_BOX_MARGIN = 2;

function boxesTouch(a: Box, b: Box, margin: number): boolean {
  const reach = 2 * margin + 1;
  return a[0] <= b[2] + reach && b[0] <= a[2] + reach && a[1] <= b[3] + reach && b[1] <= a[3] + reach;
}

/**
 * The boxes a user draws around the instances of an object on a slice: one tight box per 8-connected component
 * of the mask, where boxes that overlap or touch once each has a `margin`-pixel margin are merged (repeatedly),
 * so an object cut in two by a thin gap stays one box. Sorted by (j0, i0); [] when the mask is empty.
 */
export function instanceBoxes(mask: ArrayLike<number>, nu: number, nv: number, margin = INSTANCE_BOX_MARGIN): Box[] {
  const { ids, sizes } = connectedComponents(mask, nu, nv, 1, true);
  let boxes: Box[] = sizes.slice(1).map(() => [Infinity, Infinity, -Infinity, -Infinity] as Box);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (id === 0) continue;
    const u = i % nu;
    const v = (i - u) / nu;
    const b = boxes[id - 1];
    b[0] = Math.min(b[0], u);
    b[1] = Math.min(b[1], v);
    b[2] = Math.max(b[2], u);
    b[3] = Math.max(b[3], v);
  }
  for (let merged = true; merged; ) {
    merged = false;
    const out: Box[] = [];
    for (const b of boxes) {
      const hit = out.find((o) => boxesTouch(o, b, margin));
      if (!hit) {
        out.push([...b] as Box);
        continue;
      }
      hit[0] = Math.min(hit[0], b[0]);
      hit[1] = Math.min(hit[1], b[1]);
      hit[2] = Math.max(hit[2], b[2]);
      hit[3] = Math.max(hit[3], b[3]);
      merged = true;
    }
    boxes = out;
  }
  return boxes.sort((a, b) => a[1] - b[1] || a[0] - b[0]);
}

/** Mean of the 3 x 3 neighbourhood of every pixel (clamped at the slice's edges). */
function localMean(image: ArrayLike<number>, nu: number, nv: number): Float32Array {
  const out = new Float32Array(nu * nv);
  for (let v = 0; v < nv; v++) {
    for (let u = 0; u < nu; u++) {
      let s = 0;
      let n = 0;
      for (let j = Math.max(0, v - 1); j <= Math.min(nv - 1, v + 1); j++) {
        for (let i = Math.max(0, u - 1); i <= Math.min(nu - 1, u + 1); i++) {
          s += image[i + nu * j];
          n++;
        }
      }
      out[u + nu * v] = s / n;
    }
  }
  return out;
}

/**
 * The clicks a simulated user makes on one slice of an object (the protocol of click-based interactive
 * segmentation studies), deterministic:
 * - `positives` clicks inside the mask, spread: the first at the maximum of the distance to the mask's border,
 *   each next one at the maximum of the smaller of the distance to the border and the distance to the earlier
 *   clicks (ties: lowest index); fewer when the mask has no room left;
 * - one negative click just outside the border (1 to 3 pixels out) where the image (3 x 3 mean) is closest to
 *   the object's median intensity: the place a region grown from the positive clicks would leak first.
 */
export function simulateClicks(
  mask: Uint8Array,
  image: ArrayLike<number>,
  g: { nu: number; nv: number; du: number; dv: number },
  positives = 3,
): { points: Point[]; negativePoints: Point[] } {
  const { nu, nv, du, dv } = g;
  const sd = signedDistance2d(mask, nu, nv, du, dv);
  const points: Point[] = [];
  const score = Float64Array.from(sd, (d, i) => (mask[i] ? -d : -Infinity));
  for (let c = 0; c < positives; c++) {
    let best = -1;
    for (let i = 0; i < score.length; i++) if (score[i] > 0 && (best < 0 || score[i] > score[best])) best = i;
    if (best < 0) break;
    const bu = best % nu;
    const bv = (best - bu) / nu;
    points.push([bu, bv]);
    for (let i = 0; i < score.length; i++) {
      if (!mask[i]) continue;
      const u = i % nu;
      const v = (i - u) / nu;
      score[i] = Math.min(score[i], Math.hypot((u - bu) * du, (v - bv) * dv));
    }
  }
  const inside: number[] = [];
  for (let i = 0; i < mask.length; i++) if (mask[i]) inside.push(image[i]);
  inside.sort((a, b) => a - b);
  const negativePoints: Point[] = [];
  if (inside.length > 0) {
    const median = inside[Math.floor((inside.length - 1) / 2)];
    const mean = localMean(image, nu, nv);
    const px = Math.max(du, dv);
    let best = -1;
    for (let i = 0; i < sd.length; i++) {
      if (mask[i] || sd[i] < 0.5 * px || sd[i] > 3 * px) continue;
      if (best < 0 || Math.abs(mean[i] - median) < Math.abs(mean[best] - median)) best = i;
    }
    if (best >= 0) negativePoints.push([best % nu, Math.floor(best / nu)]);
  }
  return { points, negativePoints };
}

/**
 * The annotation a simulated user gives for one object on the chosen key slices: the truth mask (kind 'mask'),
 * a tight box per instance (kind 'box', see {@link instanceBoxes}; one box as `box`, several as `boxes`) or clicks (kind 'points', see {@link simulateClicks}; needs the image); a key
 * slice where the object is absent says "empty".
 */
export function simulateLabel(
  truth: ArrayLike<number>,
  sg: SliceGeometry,
  value: number,
  keySlices: readonly number[],
  kind: PromptKind,
  image?: ArrayLike<number>,
): LabelAnnotation {
  if (kind === 'points' && !image) throw new Error('simulated points need the image');
  const keys: KeySlice[] = keySlices.map((w) => {
    const mask = sg.maskOf(truth, w, value);
    const k = emptyKeySlice(w);
    if (mask === null) k.empty = true;
    else if (kind === 'mask') k.mask = mask;
    else if (kind === 'box') {
      const boxes = instanceBoxes(mask, sg.nu, sg.nv);
      if (boxes.length === 1) k.box = boxes[0];
      else k.boxes = boxes;
    }
    else {
      const clicks = simulateClicks(mask, sg.extract(image as ArrayLike<number>, w, new Float32Array(sg.area)), sg);
      k.points = clicks.points;
      k.negativePoints = clicks.negativePoints;
    }
    return k;
  });
  return { value, keySlices: keys };
}
