/**
 * A rectangle of a slice that a band-limited cut can be solved in without changing its result: it holds the
 * masks the cut starts from with a margin wider than the band, so that every pixel the cut decides, every
 * neighbour of one and every tap of the filters evaluated there lies inside it (or at the slice's own edge,
 * where the full-slice filters clamp the same way).
 */
import { gaussianBlur2d } from '../../analysis/similarity.js';
import { boundingBox2d } from '../../morphology/binary.js';

export interface SliceWindow {
  /** First column and row of the window in the slice. */
  u0: number;
  v0: number;
  /** Width and height of the window. */
  nu: number;
  nv: number;
}

/** The whole slice as a window. */
export function fullWindow(nu: number, nv: number): SliceWindow {
  return { u0: 0, v0: 0, nu, nv };
}

/**
 * Bounding box of the non-zero pixels of `masks`, grown by `margin` pixels and clipped to the slice; the whole
 * slice when every mask is empty.
 */
export function windowAround(masks: readonly (ArrayLike<number> | undefined)[], nu: number, nv: number, margin: number): SliceWindow {
  let u0 = nu;
  let v0 = nv;
  let u1 = -1;
  let v1 = -1;
  for (const m of masks) {
    const b = m ? boundingBox2d(m, nu, nv) : null;
    if (!b) continue;
    u0 = Math.min(u0, b[0]);
    v0 = Math.min(v0, b[1]);
    u1 = Math.max(u1, b[2]);
    v1 = Math.max(v1, b[3]);
  }
  if (u1 < 0) return fullWindow(nu, nv);
  u0 = Math.max(0, u0 - margin);
  v0 = Math.max(0, v0 - margin);
  u1 = Math.min(nu - 1, u1 + margin);
  v1 = Math.min(nv - 1, v1 + margin);
  return { u0, v0, nu: u1 - u0 + 1, nv: v1 - v0 + 1 };
}

type Slice = Uint8Array | Float32Array;

/** The window's pixels of a slice of width `nu`, row by row. */
export function cropSlice<T extends Slice>(src: T, nu: number, w: SliceWindow): T {
  const out = new (src.constructor as new (n: number) => T)(w.nu * w.nv);
  for (let v = 0; v < w.nv; v++) {
    const from = (w.v0 + v) * nu + w.u0;
    out.set(src.subarray(from, from + w.nu), v * w.nu);
  }
  return out;
}

/** A full slice (zero outside the window) holding `src`, the window's pixels. */
export function pasteSlice(src: Uint8Array, w: SliceWindow, nu: number, nv: number): Uint8Array {
  const out = new Uint8Array(nu * nv);
  for (let v = 0; v < w.nv; v++) out.set(src.subarray(v * w.nu, (v + 1) * w.nu), (w.v0 + v) * nu + w.u0);
  return out;
}

/**
 * `gaussianBlur2d` of the whole slice, restricted to the window, without blurring the whole slice: the window
 * grown by the kernel's reach is blurred and cut back to the window. Equal to the last bit to the full blur.
 */
export function blurInWindow(src: Float32Array, nu: number, nv: number, w: SliceWindow, sigma: number): Float32Array {
  const reach = Math.max(1, Math.ceil(3 * sigma));
  const pu0 = Math.max(0, w.u0 - reach);
  const pv0 = Math.max(0, w.v0 - reach);
  const pu1 = Math.min(nu - 1, w.u0 + w.nu - 1 + reach);
  const pv1 = Math.min(nv - 1, w.v0 + w.nv - 1 + reach);
  const padded: SliceWindow = { u0: pu0, v0: pv0, nu: pu1 - pu0 + 1, nv: pv1 - pv0 + 1 };
  const blurred = gaussianBlur2d(cropSlice(src, nu, padded), padded.nu, padded.nv, sigma);
  return cropSlice(blurred, padded.nu, { u0: w.u0 - pu0, v0: w.v0 - pv0, nu: w.nu, nv: w.nv });
}
