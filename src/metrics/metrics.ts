/**
 * Segmentation metrics, spacing-aware, for one binary object at a time.
 *
 * Surface distances are measured between the centres of border voxels (mask voxels with a face neighbour
 * outside the mask or outside the volume), with an exact Euclidean distance transform in mm, as MONAI and
 * most challenge tooling do.
 * - Dice, IoU: overlap of the masks.
 * - HD95: the larger of the two directed 95th percentiles of border-to-border distance (linear interpolation
 *   between order statistics, as numpy's default percentile).
 * - ASSD: mean of all border-to-border distances, both directions pooled.
 * - NSD at tolerance τ mm: the fraction of border voxels of both masks lying within τ of the other border.
 * - Volume difference: (|pred| - |truth|) in mL.
 * When both masks are empty: Dice = IoU = NSD = 1 and distances 0. When only one is empty: Dice = IoU = NSD = 0
 * and distances are `null` (infinite).
 */
import { squaredDistanceTransform } from './edt.js';
import type { Vec3 } from '../volume/volume.js';

export interface ObjectMetrics {
  dice: number;
  iou: number;
  /** mm, null when exactly one mask is empty. */
  hd95: number | null;
  /** mm, null when exactly one mask is empty. */
  assd: number | null;
  /** Normalised surface Dice at `nsdToleranceMm`. */
  nsd: number;
  nsdToleranceMm: number;
  /** mL, prediction minus truth. */
  volumeDiffMl: number;
  predVolumeMl: number;
  truthVolumeMl: number;
}

export interface MetricOptions {
  /** NSD tolerance in mm (default 2). */
  nsdToleranceMm?: number;
}

type Mask = ArrayLike<number>;

interface Box3 {
  lo: Vec3;
  hi: Vec3;
}

function boundsOf(masks: Mask[], size: Vec3): Box3 | null {
  const [nx, ny] = size;
  const lo: Vec3 = [Infinity, Infinity, Infinity];
  const hi: Vec3 = [-1, -1, -1];
  for (const m of masks) {
    for (let i = 0; i < m.length; i++) {
      if (!m[i]) continue;
      const x = i % nx;
      const y = Math.floor(i / nx) % ny;
      const z = Math.floor(i / (nx * ny));
      if (x < lo[0]) lo[0] = x;
      if (y < lo[1]) lo[1] = y;
      if (z < lo[2]) lo[2] = z;
      if (x > hi[0]) hi[0] = x;
      if (y > hi[1]) hi[1] = y;
      if (z > hi[2]) hi[2] = z;
    }
  }
  return hi[0] < 0 ? null : { lo, hi };
}

/** Copies the box (grown by one voxel, clipped) of a mask into a compact 0/1 array. */
function crop(m: Mask, size: Vec3, box: Box3): Uint8Array {
  const [nx, ny] = size;
  const cx = box.hi[0] - box.lo[0] + 1;
  const cy = box.hi[1] - box.lo[1] + 1;
  const cz = box.hi[2] - box.lo[2] + 1;
  const out = new Uint8Array(cx * cy * cz);
  for (let z = 0; z < cz; z++) {
    for (let y = 0; y < cy; y++) {
      const src = box.lo[0] + nx * (box.lo[1] + y + ny * (box.lo[2] + z));
      const dst = cx * (y + cy * z);
      for (let x = 0; x < cx; x++) out[dst + x] = m[src + x] ? 1 : 0;
    }
  }
  return out;
}

/**
 * Border voxels of a cropped mask. The crop holds the whole mask plus a one-voxel margin wherever the volume
 * allows, so a neighbour outside the crop is background (or outside the volume).
 */
function border(m: Uint8Array, c: Vec3): Uint8Array {
  const [cx, cy, cz] = c;
  const out = new Uint8Array(m.length);
  const sxy = cx * cy;
  for (let z = 0; z < cz; z++) {
    for (let y = 0; y < cy; y++) {
      for (let x = 0; x < cx; x++) {
        const i = x + cx * (y + cy * z);
        if (!m[i]) continue;
        if (
          x === 0 || x === cx - 1 || y === 0 || y === cy - 1 || z === 0 || z === cz - 1 ||
          !m[i - 1] || !m[i + 1] || !m[i - cx] || !m[i + cx] || !m[i - sxy] || !m[i + sxy]
        ) {
          out[i] = 1;
        }
      }
    }
  }
  return out;
}

/** Linear-interpolated percentile (numpy's default) of unsorted values. */
export function percentile(values: Float64Array, p: number): number {
  if (values.length === 0) return NaN;
  const s = Float64Array.from(values).sort();
  const pos = (p / 100) * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

/** Distances (mm) from each border voxel of `from` to the nearest border voxel of `to`. */
function directed(fromBorder: Uint8Array, toDist2: Float64Array): Float64Array {
  let n = 0;
  for (let i = 0; i < fromBorder.length; i++) if (fromBorder[i]) n++;
  const out = new Float64Array(n);
  let k = 0;
  for (let i = 0; i < fromBorder.length; i++) if (fromBorder[i]) out[k++] = Math.sqrt(toDist2[i]);
  return out;
}

/** Metrics of one binary object (non-zero = inside) on a grid of `size` voxels of `spacing` mm. */
export function objectMetrics(pred: Mask, truth: Mask, size: Vec3, spacing: Vec3, options: MetricOptions = {}): ObjectMetrics {
  const tol = options.nsdToleranceMm ?? 2;
  if (pred.length !== truth.length) throw new Error('prediction and truth differ in length');
  const voxelMl = (spacing[0] * spacing[1] * spacing[2]) / 1000;
  let np = 0;
  let nt = 0;
  let inter = 0;
  for (let i = 0; i < pred.length; i++) {
    const p = pred[i] ? 1 : 0;
    const t = truth[i] ? 1 : 0;
    np += p;
    nt += t;
    inter += p & t;
  }
  const base = {
    nsdToleranceMm: tol,
    volumeDiffMl: (np - nt) * voxelMl,
    predVolumeMl: np * voxelMl,
    truthVolumeMl: nt * voxelMl,
  };
  if (np === 0 && nt === 0) return { dice: 1, iou: 1, hd95: 0, assd: 0, nsd: 1, ...base };
  const dice = (2 * inter) / (np + nt);
  const iou = inter / (np + nt - inter);
  if (np === 0 || nt === 0) return { dice, iou, hd95: null, assd: null, nsd: 0, ...base };

  const b = boundsOf([pred, truth], size) as Box3;
  for (let a = 0; a < 3; a++) {
    b.lo[a] = Math.max(0, b.lo[a] - 1);
    b.hi[a] = Math.min(size[a] - 1, b.hi[a] + 1);
  }
  const c: Vec3 = [b.hi[0] - b.lo[0] + 1, b.hi[1] - b.lo[1] + 1, b.hi[2] - b.lo[2] + 1];
  const bp = border(crop(pred, size, b), c);
  const bt = border(crop(truth, size, b), c);
  const dp = squaredDistanceTransform(bp, c, spacing);
  const dt = squaredDistanceTransform(bt, c, spacing);
  const pToT = directed(bp, dt);
  const tToP = directed(bt, dp);
  let sum = 0;
  let within = 0;
  for (const d of pToT) {
    sum += d;
    if (d <= tol) within++;
  }
  for (const d of tToP) {
    sum += d;
    if (d <= tol) within++;
  }
  const total = pToT.length + tToP.length;
  return {
    dice,
    iou,
    hd95: Math.max(percentile(pToT, 95), percentile(tToP, 95)),
    assd: sum / total,
    nsd: within / total,
    ...base,
  };
}

/** Binary mask of one label value. */
export function maskOf(labels: ArrayLike<number>, value: number): Uint8Array {
  const out = new Uint8Array(labels.length);
  for (let i = 0; i < labels.length; i++) out[i] = labels[i] === value ? 1 : 0;
  return out;
}
