/**
 * Whether a label is one object or several scattered ones (lesions), read off its propagated stack: the separate
 * objects its key slices touch, and how far apart they lie. An organ cut by a slice in two places is one object
 * (its parts join on other slices), and two parts of one structure lie close together; a label of lesions shows
 * small objects far apart, and more of them may lie where no key slice looks.
 */
import { connectedComponents } from '../morphology/binary.js';
import type { PlanInput } from './plan.js';

/**
 * Objects whose boxes fill less than this share of the box around them all are scattered (default 0.5): two
 * objects side by side (a gap of their size between them) fill two thirds of it, two objects three times their
 * size apart two fifths, farther apart less still.
 */
export const SCATTERED_FILL = 0.5;

/** Parts of fewer voxels are specks, not objects (a 2 x 2 x 2 cube holds this many; default 8). */
export const MIN_OBJECT_VOXELS = 8;

/** The separate objects of a label a key slice touches, and whether they lie scattered. */
export interface KeyObjects {
  /** 26-connected parts of the stack with a voxel on a key slice (specks of fewer than `MIN_OBJECT_VOXELS` aside). */
  count: number;
  /** Whether there are at least two and their boxes fill less than `SCATTERED_FILL` of the box around them all. */
  scattered: boolean;
}

/**
 * The objects (26-connected parts of at least `MIN_OBJECT_VOXELS`) of a binary stack
 * `stack[u + nu * (v + nv * w)]` that hold a voxel on one of `keySlices`, and whether they lie scattered (see
 * {@link KeyObjects}).
 */
export function keyObjects(stack: ArrayLike<number>, nu: number, nv: number, count: number, keySlices: readonly number[], fill = SCATTERED_FILL): KeyObjects {
  const area = nu * nv;
  const keys = keySlices.filter((w) => w >= 0 && w < count);
  if (keys.length === 0) return { count: 0, scattered: false };
  const { ids, sizes } = connectedComponents(stack, nu, nv, count, true);
  const touched = new Set<number>();
  for (const w of keys) {
    const end = (w + 1) * area;
    for (let i = w * area; i < end; i++) if (ids[i] > 0 && sizes[ids[i]] >= MIN_OBJECT_VOXELS) touched.add(ids[i]);
  }
  if (touched.size < 2) return { count: touched.size, scattered: false };
  // Each touched object's box [u0, v0, w0, u1, v1, w1], and the box around them all.
  const boxes = new Map<number, number[]>();
  for (const id of touched) boxes.set(id, [Infinity, Infinity, Infinity, -Infinity, -Infinity, -Infinity]);
  for (let i = 0; i < ids.length; i++) {
    const b = ids[i] > 0 ? boxes.get(ids[i]) : undefined;
    if (!b) continue;
    const u = i % nu;
    const v = Math.floor(i / nu) % nv;
    const w = Math.floor(i / area);
    b[0] = Math.min(b[0], u);
    b[1] = Math.min(b[1], v);
    b[2] = Math.min(b[2], w);
    b[3] = Math.max(b[3], u);
    b[4] = Math.max(b[4], v);
    b[5] = Math.max(b[5], w);
  }
  const all = [Infinity, Infinity, Infinity, -Infinity, -Infinity, -Infinity];
  let filled = 0;
  const volume = (b: number[]): number => (b[3] - b[0] + 1) * (b[4] - b[1] + 1) * (b[5] - b[2] + 1);
  for (const b of boxes.values()) {
    for (let k = 0; k < 3; k++) {
      all[k] = Math.min(all[k], b[k]);
      all[k + 3] = Math.max(all[k + 3], b[k + 3]);
    }
    filled += volume(b);
  }
  return { count: touched.size, scattered: filled < fill * volume(all) };
}

/**
 * The unseen-object risk of a scattered label for the plan (see `PlanInput.unseen`): its objects on the key
 * slices, its mean cross-section over the slices that hold it (`areas`, pixels per slice) and the tissue on each
 * slice (`tissue`, pixels), which weighs where unseen objects may lie. Undefined where the label is not scattered.
 */
export function unseenRisk(objects: KeyObjects, areas: readonly number[], tissue: readonly number[]): PlanInput['unseen'] {
  if (!objects.scattered) return undefined;
  const held = areas.filter((a) => a > 0);
  const most = Math.max(0, ...tissue);
  if (held.length === 0 || most === 0) return undefined;
  const mean = held.reduce((a, b) => a + b, 0) / held.length;
  return { objects: objects.count, areas: tissue.map((n) => (mean * n) / most) };
}
