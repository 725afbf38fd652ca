/**
 * Image-free 2D masks from prompts, for methods that need a mask on every key slice but have no image model:
 * a box becomes the ellipse inscribed in it (the least-committal closed shape that touches all four sides),
 * positive points become small discs, negative points clear discs. Image-guided engines do better.
 */
import { keyBoxes, type KeySlice } from './types.js';

/** Radius (in voxels) of the disc drawn around a point prompt. */
export const POINT_DISC_RADIUS = 2;

function disc(mask: Uint8Array, nu: number, nv: number, ci: number, cj: number, r: number, value: number): void {
  for (let j = Math.max(0, cj - r); j <= Math.min(nv - 1, cj + r); j++) {
    for (let i = Math.max(0, ci - r); i <= Math.min(nu - 1, ci + r); i++) {
      if ((i - ci) ** 2 + (j - cj) ** 2 <= r * r) mask[i + nu * j] = value;
    }
  }
}

/** Filled ellipse inscribed in the inclusive box [i0, j0, i1, j1]. */
export function ellipseInBox(nu: number, nv: number, box: readonly number[]): Uint8Array {
  const mask = new Uint8Array(nu * nv);
  const [i0, j0, i1, j1] = box;
  const ci = (i0 + i1) / 2;
  const cj = (j0 + j1) / 2;
  const ri = (i1 - i0 + 1) / 2;
  const rj = (j1 - j0 + 1) / 2;
  for (let j = j0; j <= j1; j++) {
    for (let i = i0; i <= i1; i++) {
      if (((i - ci) / ri) ** 2 + ((j - cj) / rj) ** 2 <= 1) mask[i + nu * j] = 1;
    }
  }
  return mask;
}

/** Sets the pixels of the inclusive box [i0, j0, i1, j1] (clipped to the slice) in `mask`. */
export function fillBox(mask: Uint8Array, nu: number, nv: number, box: readonly number[]): Uint8Array {
  const [i0, j0, i1, j1] = box;
  for (let j = Math.max(0, j0); j <= Math.min(nv - 1, j1); j++) mask.fill(1, Math.max(0, i0) + nu * j, Math.min(nu - 1, i1) + 1 + nu * j);
  return mask;
}

/**
 * The 2D mask of a key slice without looking at the image: the drawn mask when there is one, else the union of
 * the boxes' ellipses and the point discs, minus the negative-point discs. `null` when the slice says "empty".
 */
export function promptMask(k: KeySlice, nu: number, nv: number): Uint8Array | null {
  if (k.empty) return null;
  if (k.mask) return k.mask;
  const boxes = keyBoxes(k);
  const mask = boxes.length > 0 ? ellipseInBox(nu, nv, boxes[0]) : new Uint8Array(nu * nv);
  for (const b of boxes.slice(1)) {
    const e = ellipseInBox(nu, nv, b);
    for (let i = 0; i < mask.length; i++) mask[i] |= e[i];
  }
  for (const [i, j] of k.points) disc(mask, nu, nv, i, j, POINT_DISC_RADIUS, 1);
  for (const [i, j] of k.negativePoints) disc(mask, nu, nv, i, j, POINT_DISC_RADIUS, 0);
  return mask;
}
