/**
 * Resampling a stack of slices at irregular positions onto evenly spaced slices, by linear interpolation
 * between the two nearest slices along the stack. Used to accept a DICOM series with missing slices.
 */
import type { VoxelArray } from '../volume.js';

export interface ResampleSlicesResult<T extends VoxelArray> {
  data: T;
  /** Number of output slices. */
  count: number;
  /** Output slices that fall between input slices (interpolated rather than copied). */
  interpolated: number;
}

/**
 * `data` holds `positions.length` slices of `area` voxels each, slice k at `positions[k]` (ascending). Returns
 * slices at positions[0] + i * step for i = 0..count-1, count reaching the last position. Integer arrays are
 * rounded.
 */
export function resampleSlices<T extends VoxelArray>(data: T, area: number, positions: readonly number[], step: number): ResampleSlicesResult<T> {
  const first = positions[0];
  const last = positions[positions.length - 1];
  const count = Math.round((last - first) / step) + 1;
  const out = new (data.constructor as new (n: number) => T)(count * area);
  const round = !(data instanceof Float32Array || data instanceof Float64Array);
  let k = 0;
  let interpolated = 0;
  for (let i = 0; i < count; i++) {
    const p = Math.min(first + i * step, last);
    while (k < positions.length - 2 && positions[k + 1] <= p) k++;
    const span = positions[k + 1] - positions[k];
    const t = positions.length === 1 || span <= 0 ? 0 : Math.min(1, Math.max(0, (p - positions[k]) / span));
    const exact = t < 1e-6 || t > 1 - 1e-6;
    if (!exact) interpolated++;
    const a = k * area;
    const b = Math.min(k + 1, positions.length - 1) * area;
    const o = i * area;
    for (let j = 0; j < area; j++) {
      const v = data[a + j] * (1 - t) + data[b + j] * t;
      out[o + j] = round ? Math.round(v) : v;
    }
  }
  return { data: out, count, interpolated };
}
