/**
 * Separate objects of one label in a slice (lesions): whether two masks, or the parts of one mask, lie further
 * apart than one object moves between slices.
 */
import { connectedComponents, countNonZero, signedDistance2d } from '../morphology/binary.js';

/** A slice's size in pixels and their spacing (mm). */
export interface SliceGrid {
  nu: number;
  nv: number;
  du: number;
  dv: number;
}

/** How far (mm) two masks of `na` and `nb` pixels may lie and still be one object: the larger's equivalent radius. */
export function apartReach(na: number, nb: number, g: { du: number; dv: number }): number {
  return Math.sqrt((Math.max(na, nb) * g.du * g.dv) / Math.PI);
}

/**
 * The parts of a mask (`ids` and `sizes` of its 8-connected components) that are not apart from a mask of
 * `nearArea` pixels whose signed distance map is `sd`: a pixel of the part lies within `apartReach` of it. One
 * flag per part (index 0 unused).
 */
function partsWithinReach(ids: Int32Array, sizes: readonly number[], sd: Float32Array, nearArea: number, g: SliceGrid): Uint8Array {
  const kept = new Uint8Array(sizes.length);
  for (let i = 0; i < ids.length; i++) {
    const c = ids[i];
    if (c && !kept[c] && sd[i] <= apartReach(nearArea, sizes[c], g)) kept[c] = 1;
  }
  return kept;
}

/**
 * Whether two key masks (slices of `nu x nv` pixels of `du x dv` mm) show different objects: both hold the
 * object, and no pixel of one lies within the other's equivalent radius of it. One object seen on two slices
 * moves in the slice by less than its size; lesions apart in the slice are further from each other than that.
 */
export function keyMasksApart(a: Uint8Array | null, b: Uint8Array | null, g: SliceGrid): boolean {
  if (!a || !b) return false;
  const na = countNonZero(a);
  const nb = countNonZero(b);
  if (na === 0 || nb === 0) return false;
  const reach = apartReach(na, nb, g);
  const sd = signedDistance2d(a, g.nu, g.nv, g.du, g.dv);
  for (let i = 0; i < b.length; i++) if (b[i] && sd[i] <= reach) return false;
  return true;
}

/**
 * Whether a mask shows several objects: one of its parts (8-connected) lies apart from its largest part (see
 * `keyMasksApart`). A fragment beside an object is not another object; a lesion across the slice is.
 */
export function holdsObjectsApart(mask: Uint8Array, g: SliceGrid): boolean {
  const { ids, sizes } = connectedComponents(mask, g.nu, g.nv, 1);
  if (sizes.length < 3) return false;
  let largest = 1;
  for (let c = 2; c < sizes.length; c++) if (sizes[c] > sizes[largest]) largest = c;
  const big = new Uint8Array(mask.length);
  for (let i = 0; i < ids.length; i++) if (ids[i] === largest) big[i] = 1;
  const kept = partsWithinReach(ids, sizes, signedDistance2d(big, g.nu, g.nv, g.du, g.dv), sizes[largest], g);
  return kept.some((k, c) => c > 0 && !k);
}

/**
 * The connected parts (8-connected) of a key mask that are not apart from `near` (see `keyMasksApart`), or null
 * where none is: on a slice with several lesions, those of the lesion in a box, not the others. The distances
 * to `near` are computed once, for every mask asked.
 */
export function partsNear(near: Uint8Array, g: SliceGrid): (mask: Uint8Array) => Uint8Array | null {
  const sd = signedDistance2d(near, g.nu, g.nv, g.du, g.dv);
  const area = countNonZero(near);
  return (mask) => {
    const { ids, sizes } = connectedComponents(mask, g.nu, g.nv, 1);
    const kept = partsWithinReach(ids, sizes, sd, area, g);
    if (!kept.some((x) => x)) return null;
    const out = new Uint8Array(mask.length);
    for (let i = 0; i < ids.length; i++) if (kept[ids[i]]) out[i] = 1;
    return out;
  };
}
