/**
 * Shape-based interpolation of one object's key masks along the slice axis: each key mask becomes a signed
 * distance map (mm, negative inside); between two key slices the maps are blended by a cubic Hermite spline
 * along the slice axis, after shifting each map so that the masks' centroids follow their own spline, and the
 * blend's zero level is the interpolated mask.
 *
 * - The tangents are centred differences over the neighbouring key slices (Catmull-Rom on a non-uniform
 *   grid), one-sided at the first and last key slice of a run: with two key slices the blend is linear, with
 *   more it follows the object's curvature along the slice axis (a bulge between two key slices, a tapering
 *   end) instead of shrinking towards the smaller key mask, as linear blends and morphological interpolation do.
 * - The blend gives the shape, not the size: blending the distance maps of two shapes that differ loses area
 *   where one is inside and the other outside by similar distances. The interpolated mask is the blend's sublevel
 *   set holding the number of pixels that the same spline gives from the key masks' areas.
 * - The centroid alignment carries a shape that moves from slice to slice (a vessel or a cord at an angle to
 *   the slice axis) instead of fading it out in one place and in at another. It applies where the key masks
 *   involved are each essentially one piece: the centroid of scattered pieces (lesions) says nothing about where
 *   each goes.
 * - Runs of key slices holding the object are interpolated separately: an "absent" key slice (mask `null`) or
 *   an empty mask breaks the run, and nothing is written across it. Between a key slice holding the object and
 *   a neighbouring "absent" one the object tapers: it is eroded in proportion to the distance, shrinking to its
 *   deepest point and vanishing at the absent slice.
 * Key slices are written exactly as given; slices outside the first and last key slice of a run stay empty.
 *
 * Reference: Herman, Zheng, Bucholtz, "Shape-based interpolation", IEEE CG&A 1992, and its centroid-aligned and
 * higher-order variants.
 */
import { OrderStatistics } from '../analysis/window.js';
import { boundingBox2d, connectedComponents, countNonZero, signedDistance2d } from '../morphology/binary.js';
import { stackKeyMasks, type KeyMask, type StackShape } from './mci.js';

export interface ShapeSpacing {
  /** In-plane spacing (mm) along u and v. */
  du: number;
  dv: number;
}

interface ShapeKey {
  index: number;
  sd: Float32Array;
  /** Pixels in the mask. */
  area: number;
  /** The mask is essentially one piece: its largest 8-connected component holds 90 % of it (only such masks are
   * aligned by their centroids). */
  single: boolean;
  /** Centroid, pixels. */
  cu: number;
  cv: number;
}

/** Cubic Hermite basis at t in [0, 1]: weights of p0, m0 (times h), p1, m1 (times h). */
function hermite(t: number): [number, number, number, number] {
  const t2 = t * t;
  const t3 = t2 * t;
  return [2 * t3 - 3 * t2 + 1, t3 - 2 * t2 + t, -2 * t3 + 3 * t2, t3 - t2];
}

/** Centroid of a mask, in the coordinates of the slice it was cut from at `origin`. */
function centroid(mask: Uint8Array, nu: number, nv: number, origin: Origin): [number, number] | null {
  let su = 0;
  let sv = 0;
  let n = 0;
  for (let v = 0; v < nv; v++) {
    for (let u = 0; u < nu; u++) {
      if (!mask[u + nu * v]) continue;
      su += u + origin[0];
      sv += v + origin[1];
      n++;
    }
  }
  return n > 0 ? [su / n, sv / n] : null;
}

/** Runs of consecutive key slices holding the object (an absent or empty key slice ends a run). */
function objectRuns(keys: KeyMask[], nu: number, nv: number, distances: Distances, origin: Origin): ShapeKey[][] {
  const runs: ShapeKey[][] = [];
  let run: ShapeKey[] = [];
  for (const k of [...keys].sort((a, b) => a.index - b.index)) {
    const c = k.mask ? centroid(k.mask, nu, nv, origin) : null;
    if (!k.mask || !c) {
      if (run.length) runs.push(run);
      run = [];
      continue;
    }
    const area = countNonZero(k.mask);
    const single = connectedComponents(k.mask, nu, nv, 1, true).sizes.reduce((m, x) => Math.max(m, x), 0) >= 0.9 * area;
    run.push({ index: k.index, sd: distances(k.mask), area, single, cu: c[0], cv: c[1] });
  }
  if (run.length) runs.push(run);
  return runs;
}

export interface ShapeOptions {
  /** Work in a window around the key masks (default true; the same result, see `interpolateShapes`). */
  inWindow?: boolean;
  /**
   * The signed distance map (mm, `signedDistance2d`) of a key mask over the whole slice, for a caller that keeps
   * them across calls (default: computed, in the window where one is used). A window's part of a slice's map is
   * the window's own map to the last bit (it holds the mask and the nearest pixels of the other side).
   */
  distances?: Distances;
}

/** The signed distance map of a mask of the slices worked on (see `ShapeOptions.distances`). */
export type Distances = (mask: Uint8Array) => Float32Array;

/** Least margin (mm, and at least {@link WINDOW_MARGIN_PX} pixels) of the window the interpolation is solved in. */
export const WINDOW_MARGIN_MM = 10;
export const WINDOW_MARGIN_PX = 8;

/**
 * Interpolates between key masks; returns a stack of `count` slices (`out[u + nu * (v + nv * w)]`, 1 = object),
 * the key slices as given. `within` (optional, [first, last] key slice): only the gaps inside it are filled.
 *
 * The work is done in a window around the key masks (their joint bounding box with a margin of
 * {@link WINDOW_MARGIN_MM}), so that its cost follows the object's size rather than the slice's: the distances
 * there are those of the whole slice, and the interpolated masks lie well inside it. Should one reach the
 * window's edge inside the slice, the whole slice is interpolated instead.
 */
export function interpolateShapes(
  shape: StackShape,
  keys: KeyMask[],
  spacing: ShapeSpacing,
  within?: [number, number],
  options: ShapeOptions = {},
): Uint8Array {
  const { nu, nv, count } = shape;
  const whole: Distances = options.distances ?? ((m) => signedDistance2d(m, nu, nv, spacing.du, spacing.dv));
  const win = (options.inWindow ?? true) ? keyWindow(shape, keys, spacing) : null;
  if (!win) return interpolateInPlane(shape, keys, spacing, [0, 0], within, whole);
  const inner: StackShape = { nu: win.u1 - win.u0 + 1, nv: win.v1 - win.v0 + 1, count };
  const original = new Map<Uint8Array, Uint8Array>();
  const cropped = keys.map((k) => {
    const mask = k.mask ? cropMask(k.mask, nu, win, inner) : null;
    if (mask && k.mask) original.set(mask, k.mask);
    return { index: k.index, mask };
  });
  const given = options.distances;
  const inWindow: Distances = given
    ? (m) => cropMask(given(original.get(m) ?? m), nu, win, inner)
    : (m) => signedDistance2d(m, inner.nu, inner.nv, spacing.du, spacing.dv, [win.u0, win.v0]);
  const part = interpolateInPlane(inner, cropped, spacing, [win.u0, win.v0], within, inWindow);
  const innerArea = inner.nu * inner.nv;
  const keySlices = new Set(keys.map((k) => k.index));
  for (let w = 0; w < count; w++) {
    if (!keySlices.has(w) && touchesInnerEdge(part.subarray(w * innerArea, (w + 1) * innerArea), inner, win, shape)) {
      return interpolateInPlane(shape, keys, spacing, [0, 0], within, whole);
    }
  }
  const out = stackKeyMasks(shape, keys);
  const area = nu * nv;
  for (let w = 0; w < count; w++) {
    if (keySlices.has(w)) continue;
    for (let v = 0; v < inner.nv; v++) {
      const from = w * innerArea + v * inner.nu;
      out.set(part.subarray(from, from + inner.nu), w * area + (win.v0 + v) * nu + win.u0);
    }
  }
  return out;
}

interface Window {
  u0: number;
  v0: number;
  u1: number;
  v1: number;
}

/**
 * The window around the key masks (see `interpolateShapes`): their joint bounding box, grown by the least margin
 * plus how far the masks' centroids lie apart (a key's distance map is read shifted by up to that much, with
 * room for the spline's overshoot); null when it would be most of the slice or there is no mask.
 */
function keyWindow(shape: StackShape, keys: KeyMask[], spacing: ShapeSpacing): Window | null {
  const { nu, nv } = shape;
  let u0 = nu;
  let v0 = nv;
  let u1 = -1;
  let v1 = -1;
  const cu: number[] = [];
  const cv: number[] = [];
  for (const k of keys) {
    const b = k.mask ? boundingBox2d(k.mask, nu, nv) : null;
    const c = k.mask ? centroid(k.mask, nu, nv, [0, 0]) : null;
    if (!b || !c) continue;
    u0 = Math.min(u0, b[0]);
    v0 = Math.min(v0, b[1]);
    u1 = Math.max(u1, b[2]);
    v1 = Math.max(v1, b[3]);
    cu.push(c[0]);
    cv.push(c[1]);
  }
  if (u1 < 0) return null;
  const spread = (x: number[]): number => Math.ceil(1.5 * (Math.max(...x) - Math.min(...x))) + 1;
  const mu = Math.max(WINDOW_MARGIN_PX, Math.ceil(WINDOW_MARGIN_MM / spacing.du)) + spread(cu);
  const mv = Math.max(WINDOW_MARGIN_PX, Math.ceil(WINDOW_MARGIN_MM / spacing.dv)) + spread(cv);
  const win = { u0: Math.max(0, u0 - mu), v0: Math.max(0, v0 - mv), u1: Math.min(nu - 1, u1 + mu), v1: Math.min(nv - 1, v1 + mv) };
  return (win.u1 - win.u0 + 1) * (win.v1 - win.v0 + 1) > 0.75 * nu * nv ? null : win;
}

function cropMask<T extends Uint8Array | Float32Array>(mask: T, nu: number, win: Window, inner: StackShape): T {
  const out = (mask instanceof Float32Array ? new Float32Array(inner.nu * inner.nv) : new Uint8Array(inner.nu * inner.nv)) as T;
  for (let v = 0; v < inner.nv; v++) {
    const from = (win.v0 + v) * nu + win.u0;
    out.set(mask.subarray(from, from + inner.nu), v * inner.nu);
  }
  return out;
}

/** Whether a window's mask holds a pixel on a side of the window that lies inside the slice. */
function touchesInnerEdge(mask: Uint8Array, inner: StackShape, win: Window, shape: StackShape): boolean {
  const { nu, nv } = inner;
  const sides: [boolean, number, number, number, number][] = [
    [win.u0 > 0, 0, 0, 0, nv - 1],
    [win.u1 < shape.nu - 1, nu - 1, 0, nu - 1, nv - 1],
    [win.v0 > 0, 0, 0, nu - 1, 0],
    [win.v1 < shape.nv - 1, 0, nv - 1, nu - 1, nv - 1],
  ];
  for (const [inside, a0, b0, a1, b1] of sides) {
    if (!inside) continue;
    for (let v = b0; v <= b1; v++) for (let u = a0; u <= a1; u++) if (mask[u + nu * v]) return true;
  }
  return false;
}

/** Where a part of a slice starts in the slice, [u, v]. */
type Origin = [number, number];

/**
 * `interpolateShapes` on the whole of the given slices, which start at `origin` of the slices the keys come
 * from: centroids and shifts are reckoned in those slices' coordinates, so that a part gives to the last bit
 * the values of the whole.
 */
function interpolateInPlane(
  shape: StackShape,
  keys: KeyMask[],
  spacing: ShapeSpacing,
  origin: Origin,
  within: [number, number] | undefined,
  distances: Distances,
): Uint8Array {
  const { nu, nv } = shape;
  const area = nu * nv;
  const out = stackKeyMasks(shape, keys);
  const wanted = (a: number, b: number): boolean => !within || (a >= within[0] && b <= within[1]);
  // One slice's blend, and the copy of it the order statistics reorder, reused from slice to slice.
  const blend = new Float32Array(area);
  const values = new Float64Array(area);
  for (const run of objectRuns(keys, nu, nv, distances, origin)) {
    const n = run.length;
    for (let g = 0; g + 1 < n; g++) {
      const k0 = run[g];
      const k1 = run[g + 1];
      const h = k1.index - k0.index;
      if (h < 2 || !wanted(k0.index, k1.index)) continue;
      // The neighbouring keys whose differences give the tangents at k0 and k1 (k0 and k1 themselves at a run's end).
      const a = run[Math.max(0, g - 1)];
      const b = run[Math.min(n - 1, g + 2)];
      const align = a.single && k0.single && k1.single && b.single;
      for (let w = k0.index + 1; w < k1.index; w++) {
        const [p0, m0, p1, m1] = hermite((w - k0.index) / h);
        /** The spline through values at k0 and k1, tangents from the values at a and b. */
        const spline = (v0: number, v1: number, va: number, vb: number): number => {
          const t0 = (v1 - va) / (k1.index - a.index);
          const t1 = (vb - v0) / (b.index - k0.index);
          return p0 * v0 + m0 * h * t0 + p1 * v1 + m1 * h * t1;
        };
        const pu = spline(k0.cu, k1.cu, a.cu, b.cu);
        const pv = spline(k0.cv, k1.cv, a.cv, b.cv);
        blendSlice(blend, { nu, nv }, origin, [pu, pv], align, [a, k0, k1, b], [p0, m0 * h, p1, m1 * h], [k1.index - a.index, b.index - k0.index]);
        // The blend's shape, at the area interpolated by the same spline: the `target` pixels of lowest value.
        const target = Math.min(area, Math.round(spline(k0.area, k1.area, a.area, b.area)));
        if (target <= 0) continue;
        values.set(blend);
        const level = new OrderStatistics(values).at(target - 1);
        const dst = out.subarray(w * area, (w + 1) * area);
        for (let i = 0; i < area; i++) dst[i] = blend[i] <= level ? 1 : 0;
      }
    }
  }
  taperToAbsent(out, shape, keys, wanted, distances);
  return out;
}

/**
 * The spline's blend of the keys' distance maps on one slice (see `interpolateInPlane`), written into `blend`:
 * `keys` = [a, k0, k1, b] (a = k0 and b = k1 at a run's ends), `weights` the Hermite weights of the values at k0
 * and k1 and of the tangents (times the gap), `spans` the index differences the tangents divide by. With `align`
 * each key's map is read shifted so that its centroid sits on the interpolated path `centre` (bilinear, the
 * map's edge extended). Per pixel the same arithmetic, in the same order, as the spline written out with
 * `bilinearClamped`, in one loop over the slice.
 */
function blendSlice(
  blend: Float32Array,
  shape: { nu: number; nv: number },
  origin: Origin,
  centre: [number, number],
  align: boolean,
  keys: [ShapeKey, ShapeKey, ShapeKey, ShapeKey],
  weights: [number, number, number, number],
  spans: [number, number],
): void {
  const { nu, nv } = shape;
  const [ou, ov] = origin;
  const [pu, pv] = centre;
  const [a, k0, k1, b] = keys;
  const [p0, m0h, p1, m1h] = weights;
  const [da, db] = spans;
  const withA = a !== k0;
  const withB = b !== k1;
  const [d0, d1, dA, dB] = [k0.sd, k1.sd, a.sd, b.sd];
  const r0 = new ShiftedRow();
  const r1 = new ShiftedRow();
  const ra = new ShiftedRow();
  const rb = new ShiftedRow();
  for (let v = 0; v < nv; v++) {
    if (align) {
      r0.at(v + ov - pv + k0.cv - ov, nu, nv);
      r1.at(v + ov - pv + k1.cv - ov, nu, nv);
      ra.at(v + ov - pv + a.cv - ov, nu, nv);
      rb.at(v + ov - pv + b.cv - ov, nu, nv);
    }
    for (let u = 0; u < nu; u++) {
      const i = u + nu * v;
      let s0: number;
      let s1: number;
      let sa: number;
      let sb: number;
      if (align) {
        const x = u + ou - pu;
        s0 = r0.sample(d0, nu, x + k0.cu - ou);
        s1 = r1.sample(d1, nu, x + k1.cu - ou);
        sa = withA ? ra.sample(dA, nu, x + a.cu - ou) : s0;
        sb = withB ? rb.sample(dB, nu, x + b.cu - ou) : s1;
      } else {
        s0 = d0[i];
        s1 = d1[i];
        sa = withA ? dA[i] : s0;
        sb = withB ? dB[i] : s1;
      }
      const t0 = (s1 - sa) / da;
      const t1 = (sb - s0) / db;
      blend[i] = p0 * s0 + m0h * t0 + p1 * s1 + m1h * t1;
    }
  }
}

/**
 * `bilinearClamped` of a map along one row position y: the row's part (clamping, the two rows read and their
 * weight) worked out once, each sample along the row then the same arithmetic as `bilinearClamped`.
 */
class ShiftedRow {
  private row0 = 0;
  private row1 = 0;
  private fy = 0;

  at(y: number, nu: number, nv: number): void {
    const yc = Math.min(Math.max(y, 0), nv - 1);
    const y0 = Math.floor(yc);
    const y1 = Math.min(y0 + 1, nv - 1);
    this.row0 = nu * y0;
    this.row1 = nu * y1;
    this.fy = yc - y0;
  }

  sample(src: Float32Array, nu: number, x: number): number {
    const xc = Math.min(Math.max(x, 0), nu - 1);
    const x0 = Math.floor(xc);
    const x1 = Math.min(x0 + 1, nu - 1);
    const fx = xc - x0;
    const fy = this.fy;
    const a = src[x0 + this.row0] * (1 - fx) + src[x1 + this.row0] * fx;
    const b = src[x0 + this.row1] * (1 - fx) + src[x1 + this.row1] * fx;
    return a * (1 - fy) + b * fy;
  }
}

/**
 * The interpolation between two consecutive key slices `keys[i]` and `keys[i + 1]` (sorted by index) alone:
 * slices `keys[i].index + 1` to `keys[i + 1].index - 1`, as {@link interpolateShapes} gives them from all the key
 * slices. It depends on the key slices `i - 1` to `i + 2` only (the spline's tangents), which is what a caller
 * keeping results across edits keys them by (see {@link gapKeys}).
 */
export function interpolateGap(nu: number, nv: number, keys: KeyMask[], i: number, spacing: ShapeSpacing, distances?: Distances): Uint8Array {
  const near = gapKeys(keys, i);
  const base = near[0].index;
  const local = near.map((k) => ({ index: k.index - base, mask: k.mask }));
  const a = keys[i].index - base;
  const b = keys[i + 1].index - base;
  const stack = interpolateShapes({ nu, nv, count: local[local.length - 1].index + 1 }, local, spacing, [a, b], distances ? { distances } : {});
  return stack.slice((a + 1) * nu * nv, b * nu * nv);
}

/** The key slices the gap after `keys[i]` depends on (see {@link interpolateGap}). */
export function gapKeys(keys: KeyMask[], i: number): KeyMask[] {
  return keys.slice(Math.max(0, i - 1), Math.min(keys.length, i + 3));
}

/**
 * Between a key slice holding the object and a neighbouring key slice saying it is absent, the object tapers:
 * at a fraction t of the way, the key mask eroded by t times its greatest depth (it shrinks to its deepest point
 * and vanishes at the absent slice).
 */
function taperToAbsent(
  out: Uint8Array,
  shape: StackShape,
  keys: KeyMask[],
  wanted: (a: number, b: number) => boolean,
  distances: Distances,
): void {
  const { nu, nv } = shape;
  const area = nu * nv;
  const sorted = [...keys].sort((a, b) => a.index - b.index);
  for (let n = 0; n + 1 < sorted.length; n++) {
    const a = sorted[n];
    const b = sorted[n + 1];
    const full = a.mask && !b.mask ? a : b.mask && !a.mask ? b : null;
    if (!full?.mask || Math.abs(b.index - a.index) < 2 || !wanted(a.index, b.index)) continue;
    const other = full === a ? b : a;
    const sd = distances(full.mask);
    let depth = 0;
    for (let i = 0; i < area; i++) if (Number.isFinite(sd[i])) depth = Math.max(depth, -sd[i]);
    if (depth <= 0) continue;
    const span = Math.abs(other.index - full.index);
    for (let w = Math.min(a.index, b.index) + 1; w < Math.max(a.index, b.index); w++) {
      const level = (-Math.abs(w - full.index) / span) * depth;
      const dst = out.subarray(w * area, (w + 1) * area);
      for (let i = 0; i < area; i++) dst[i] = sd[i] <= level ? 1 : 0;
    }
  }
}
