/**
 * Placing a label volume on an image grid by geometry. A label volume whose grid differs from the image's but
 * lies on the same lattice (same spacing and direction, origin shifted by whole voxels: a crop, or a padded
 * volume, as 3D Slicer writes segmentations cropped to their extent) is copied voxel by voxel to where it
 * belongs; any other grid is refused with a message naming both grids.
 */
import { KeysliceError } from '../util/errors.js';
import { allocLabels, gridDifference, type Geometry, type LabelArray, type Vec3, type Volume } from './volume.js';

/** Tolerance on the voxel offset between two lattices, in voxels (float32 headers). */
const OFFSET_TOLERANCE = 1e-3;

/** A one-line description of a grid: size, spacing, origin, direction. */
export function describeGrid(g: Geometry): string {
  const f = (v: readonly number[]) => v.map((x) => +x.toPrecision(6)).join(', ');
  return `size ${g.size.join('x')}, spacing [${f(g.spacing)}] mm, origin [${f(g.origin)}] mm, direction [${f(g.direction)}]`;
}

/**
 * The whole-voxel offset of grid `b` within grid `a` (index in `a` of `b`'s voxel 0), or null when the two are
 * not on one lattice (spacing or direction differ, or the origins are not whole voxels apart).
 */
export function latticeOffset(a: Geometry, b: Geometry): Vec3 | null {
  const same = gridDifference(a, { ...b, size: a.size, origin: a.origin });
  if (same !== null) return null;
  const d = [b.origin[0] - a.origin[0], b.origin[1] - a.origin[1], b.origin[2] - a.origin[2]];
  const off: number[] = [];
  for (let c = 0; c < 3; c++) {
    // index offset along axis c: (direction column c · d) / spacing c (direction is orthonormal)
    const x = (a.direction[c] * d[0] + a.direction[3 + c] * d[1] + a.direction[6 + c] * d[2]) / a.spacing[c];
    const r = Math.round(x);
    if (Math.abs(x - r) > OFFSET_TOLERANCE) return null;
    off.push(r);
  }
  return off as Vec3;
}

export interface PlaceResult<T extends LabelArray> {
  volume: Volume<T>;
  /** Index in the image grid of the label volume's voxel 0. */
  offset: Vec3;
  /** Non-zero label voxels that fell outside the image grid (dropped). */
  outside: number;
}

/**
 * Copies `labels` onto the grid `target` when both lie on one lattice. Throws GRID_MISMATCH naming both grids
 * otherwise. `file` and `targetFile` name the two inputs in messages.
 */
export function placeOnGrid<T extends LabelArray>(labels: Volume<T>, target: Geometry, file: string, targetFile = 'the image'): PlaceResult<T> {
  const offset = latticeOffset(target, labels);
  if (offset === null) {
    throw new KeysliceError(
      'GRID_MISMATCH',
      `annotation grid does not match the image ${targetFile}: ${gridDifference(target, labels)}, and it is not on the image's ` +
        `voxel lattice (same spacing and direction, origin whole voxels away): labels: ${describeGrid(labels)}; ` +
        `${targetFile}: ${describeGrid(target)}. Resample the labels onto the image grid first.`,
      file,
    );
  }
  const [nx, ny, nz] = target.size;
  const [mx, my, mz] = labels.size;
  let max = 0;
  for (let i = 0; i < labels.data.length; i++) if (labels.data[i] > max) max = labels.data[i];
  const out = allocLabels(nx * ny * nz, max) as T;
  let outside = 0;
  for (let z = 0; z < mz; z++) {
    const tz = z + offset[2];
    for (let y = 0; y < my; y++) {
      const ty = y + offset[1];
      const row = mx * (y + my * z);
      const rowInside = tz >= 0 && tz < nz && ty >= 0 && ty < ny;
      for (let x = 0; x < mx; x++) {
        const v = labels.data[row + x];
        if (v === 0) continue;
        const tx = x + offset[0];
        if (rowInside && tx >= 0 && tx < nx) out[tx + nx * (ty + ny * tz)] = v;
        else outside++;
      }
    }
  }
  return {
    volume: { size: [...target.size] as Vec3, spacing: [...target.spacing] as Vec3, origin: [...target.origin] as Vec3, direction: [...target.direction], data: out },
    offset,
    outside,
  };
}
