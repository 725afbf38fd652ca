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

/** The radius (mm) of a disc of `pixels` pixels of `du x dv` mm. */
function equivalentRadius(pixels: number, g: { du: number; dv: number }): number {
  return Math.sqrt((pixels * g.du * g.dv) / Math.PI);
}

/** How far (mm) two masks of `na` and `nb` pixels may lie and still be one object: the larger's equivalent radius. */
export function apartReach(na: number, nb: number, g: { du: number; dv: number }): number {
  return equivalentRadius(Math.max(na, nb), g);
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
  const sd = signedDistance2d(big, g.nu, g.nv, g.du, g.dv);
  // A part is near the largest where one of its pixels lies within the largest's radius of it.
  const reach = equivalentRadius(sizes[largest], g);
  const near = new Uint8Array(sizes.length);
  for (let i = 0; i < ids.length; i++) if (ids[i] && sd[i] <= reach) near[ids[i]] = 1;
  for (let c = 1; c < sizes.length; c++) if (!near[c]) return true;
  return false;
}
