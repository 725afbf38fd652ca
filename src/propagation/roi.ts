/**
 * The region of interest (ROI) of one object: an in-plane box around everything its key slices say, widened
 * so the object may grow away from its key slices, applied to every slice. Working inside it keeps large
 * volumes fast.
 */
import { keyBoxes, type Box, type KeySlice } from '../annotations/types.js';
import { applyWindow, type IntensityWindow } from '../analysis/window.js';
import { boundingBox2d } from '../morphology/binary.js';
import type { SliceGeometry, Volume } from '../volume/volume.js';
import type { RoiImage, SliceDerived } from './types.js';

/** Inclusive in-plane box in full-slice coordinates. */
export interface RoiBox {
  u0: number;
  v0: number;
  u1: number;
  v1: number;
}

export interface RoiOptions {
  /** Margin on each side as a fraction of the prompts' extent (default 0.5). */
  relativeMargin?: number;
  /** Least margin on each side, mm (default 15). */
  marginMm?: number;
}

/**
 * The ROI of one label's key slices (`roiOfKeySlices`), the one its propagation, its interactive session and
 * `keyslice analyze` work in: clicks alone say where the object is but not how far it reaches (a click protocol
 * spreads them over about half the object), so where no key slice has a mask or a box the prompts' box is widened
 * by its own size on each side instead of half of it.
 */
export function roiOfLabel(keys: readonly KeySlice[], sg: SliceGeometry): RoiBox | null {
  const clicksOnly = !keys.some((k) => !k.empty && (k.mask || keyBoxes(k).length > 0));
  return roiOfKeySlices(keys, sg, clicksOnly ? { relativeMargin: 1 } : {});
}

/** The ROI of a set of key slices, or null when none of them says where the object is. */
export function roiOfKeySlices(keys: readonly KeySlice[], sg: SliceGeometry, options: RoiOptions = {}): RoiBox | null {
  let u0 = Infinity;
  let v0 = Infinity;
  let u1 = -Infinity;
  let v1 = -Infinity;
  const add = (a: number, b: number, c: number, d: number): void => {
    u0 = Math.min(u0, a);
    v0 = Math.min(v0, b);
    u1 = Math.max(u1, c);
    v1 = Math.max(v1, d);
  };
  for (const k of keys) {
    if (k.empty) continue;
    if (k.mask) {
      const b = boundingBox2d(k.mask, sg.nu, sg.nv);
      if (b) add(...b);
    }
    for (const b of keyBoxes(k)) add(...b);
    for (const [i, j] of k.points) add(i, j, i, j);
  }
  if (!Number.isFinite(u0)) return null;
  const rel = options.relativeMargin ?? 0.5;
  const mm = options.marginMm ?? 15;
  const mu = Math.ceil(Math.max(rel * (u1 - u0 + 1), mm / sg.du));
  const mv = Math.ceil(Math.max(rel * (v1 - v0 + 1), mm / sg.dv));
  return {
    u0: Math.max(0, u0 - mu),
    v0: Math.max(0, v0 - mv),
    u1: Math.min(sg.nu - 1, u1 + mu),
    v1: Math.min(sg.nv - 1, v1 + mv),
  };
}

export function roiSize(roi: RoiBox): { nu: number; nv: number } {
  return { nu: roi.u1 - roi.u0 + 1, nv: roi.v1 - roi.v0 + 1 };
}

/** Cuts the ROI out of a full 2D slice. */
export function cropSlice<T extends Uint8Array | Float32Array>(full: ArrayLike<number>, fullNu: number, roi: RoiBox, out: T): T {
  const { nu, nv } = roiSize(roi);
  for (let v = 0; v < nv; v++) {
    const src = roi.u0 + fullNu * (roi.v0 + v);
    for (let u = 0; u < nu; u++) out[u + nu * v] = full[src + u];
  }
  return out;
}

/** Writes an ROI 2D array into a full slice (zero outside the ROI is left as it is). */
export function pasteSlice(roiData: ArrayLike<number>, roi: RoiBox, full: Uint8Array, fullNu: number): void {
  const { nu, nv } = roiSize(roi);
  for (let v = 0; v < nv; v++) {
    const dst = roi.u0 + fullNu * (roi.v0 + v);
    for (let u = 0; u < nu; u++) full[dst + u] = roiData[u + nu * v];
  }
}

/** A key slice in ROI coordinates. */
export function cropKeySlice(k: KeySlice, sg: SliceGeometry, roi: RoiBox): KeySlice {
  const { nu, nv } = roiSize(roi);
  const clampU = (i: number): number => Math.min(nu - 1, Math.max(0, i - roi.u0));
  const clampV = (j: number): number => Math.min(nv - 1, Math.max(0, j - roi.v0));
  const out: KeySlice = {
    index: k.index,
    empty: k.empty,
    points: k.points.map(([i, j]) => [clampU(i), clampV(j)]),
    negativePoints: k.negativePoints
      .filter(([i, j]) => i >= roi.u0 && i <= roi.u1 && j >= roi.v0 && j <= roi.v1)
      .map(([i, j]) => [i - roi.u0, j - roi.v0]),
  };
  if (k.mask) out.mask = cropSlice(k.mask, sg.nu, roi, new Uint8Array(nu * nv));
  if (k.excluded) out.excluded = cropSlice(k.excluded, sg.nu, roi, new Uint8Array(nu * nv));
  const crop = (b: Box): Box => [clampU(b[0]), clampV(b[1]), clampU(b[2]), clampV(b[3])];
  if (k.box) out.box = crop(k.box);
  if (k.boxes) out.boxes = k.boxes.map(crop);
  return out;
}

/** Slices of each kind an ROI view keeps at a time (the most recently used). */
export const ROI_CACHED_SLICES = 8;

/** A small map that keeps the `size` most recently used entries. */
class RecentSlices {
  private readonly map = new Map<number, Float32Array>();
  constructor(private readonly size: number) {}
  get(w: number, make: () => Float32Array): Float32Array {
    let r = this.map.get(w);
    if (r) {
      this.map.delete(w);
    } else {
      r = make();
      if (this.map.size >= this.size) this.map.delete(this.map.keys().next().value as number);
    }
    this.map.set(w, r);
    return r;
  }
}

/**
 * The ROI view of an image: slices cut (and windowed) on use. The few most recently used slices of each kind are
 * kept (fronts walk from slice to slice and look at their neighbours), not the whole stack: a view of a large
 * scan costs a few slices of memory, and cutting a slice again is cheap next to anything done with it. A caller
 * that keeps slices across runs (`kept`, for this ROI: an interactive session) keeps the windowed ones.
 */
export function roiImage(image: Volume, sg: SliceGeometry, roi: RoiBox, window: IntensityWindow, kept?: SliceDerived): RoiImage {
  const { nu, nv } = roiSize(roi);
  const raw = new RecentSlices(ROI_CACHED_SLICES);
  const win = new RecentSlices(ROI_CACHED_SLICES);
  const getRaw = (w: number): Float32Array => raw.get(w, () => sg.extractBox(image.data, w, roi, new Float32Array(nu * nv)));
  const windowed = (w: number): Float32Array => applyWindow(getRaw(w), window);
  const what = `windowed|${window.low}|${window.high}`;
  return {
    nu,
    nv,
    count: sg.count,
    du: sg.du,
    dv: sg.dv,
    dw: sg.dw,
    origin: [roi.u0, roi.v0],
    raw: getRaw,
    windowed: (w) => win.get(w, () => (kept ? kept.get({ what, slice: w }, () => windowed(w), (x) => 4 * x.length) : windowed(w))),
  };
}
