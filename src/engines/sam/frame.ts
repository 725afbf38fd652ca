/**
 * The mapping between ROI pixels and a SAM-format model's square input (pixel centres aligned), and the
 * conversions that go with it: an ROI crop to the model's normalised RGB input, the decoder's mask logits back
 * to ROI pixels, and a binary mask to `mask_input` logits.
 */
import type { KeySlice } from '../../annotations/types.js';
import type { ResizeMode } from '../../models/sam/manifest.js';
import type { SamPoint } from '../../models/sam/model.js';
import { bilinear } from '../../util/bilinear.js';

export interface InputFrame {
  /** Crop origin in ROI pixels. */
  u0: number;
  v0: number;
  /** Crop size in ROI pixels. */
  cu: number;
  cv: number;
  /** Model input pixels per ROI pixel along u and v. */
  sx: number;
  sy: number;
  /** Model input side. */
  size: number;
  /** Where the crop sits in the input: offset of its tile (input pixels) and the tile's side (default: 0, 0, size). */
  ox: number;
  oy: number;
  side: number;
}

/** A square tile of the model input (a mosaic of several slices in one input). */
export interface InputTile {
  ox: number;
  oy: number;
  side: number;
}

/**
 * The frame of a crop [u0, v0, u1, v1] (inclusive ROI pixels) with in-plane spacing (du, dv) mm:
 * `longest-side` keeps square pixels in mm (the longer physical side fills the input, the rest is padding),
 * `stretch` fills the input along both axes.
 */
export function inputFrame(
  crop: readonly [number, number, number, number],
  du: number,
  dv: number,
  size: number,
  resize: ResizeMode,
  tile: InputTile = { ox: 0, oy: 0, side: size },
): InputFrame {
  const [u0, v0, u1, v1] = crop;
  const cu = u1 - u0 + 1;
  const cv = v1 - v0 + 1;
  const { ox, oy, side } = tile;
  if (resize === 'stretch') return { u0, v0, cu, cv, sx: side / cu, sy: side / cv, size, ox, oy, side };
  const mmPerInput = Math.max(cu * du, cv * dv) / side;
  return { u0, v0, cu, cv, sx: du / mmPerInput, sy: dv / mmPerInput, size, ox, oy, side };
}

/** ROI pixel (u, v) to input coordinates. */
export function toInput(f: InputFrame, u: number, v: number): [number, number] {
  return [f.ox + (u - f.u0 + 0.5) * f.sx - 0.5, f.oy + (v - f.v0 + 0.5) * f.sy - 0.5];
}

/** ROI points as prompt points of the input frame, all with `label`. */
export function pointsToInput(f: InputFrame, list: readonly (readonly [number, number])[], label: 0 | 1): SamPoint[] {
  return list.map(([u, v]) => {
    const [x, y] = toInput(f, u, v);
    return { x, y, label };
  });
}

/**
 * An inclusive ROI box [i0, j0, i1, j1] as input-frame corners at its outer pixel edges, widened by `mu` and
 * `mv` ROI pixels each side.
 */
export function boxToInput(f: InputFrame, box: readonly [number, number, number, number], mu = 0, mv = 0): [number, number, number, number] {
  const [x0, y0] = toInput(f, box[0] - 0.5 - mu, box[1] - 0.5 - mv);
  const [x1, y1] = toInput(f, box[2] + 0.5 + mu, box[3] + 0.5 + mv);
  return [x0, y0, x1, y1];
}

/** A key slice's points (positive, then negative) and box in the input frame. */
export function keyPrompt(f: InputFrame, key: KeySlice): { points: SamPoint[]; box?: [number, number, number, number] } {
  const points = [...pointsToInput(f, key.points, 1), ...pointsToInput(f, key.negativePoints, 0)];
  return key.box ? { points, box: boxToInput(f, key.box) } : { points };
}

/**
 * The model input (3 x size x size, channel-major) for a slice windowed to [0, 1]: grey to three channels,
 * scaled to 0..255, normalised per channel; padding is 0 after normalisation (as SAM pads).
 * Shrinking by 2x or more first averages 2 x 2 blocks so that the input is not aliased.
 * The crop fills the frame's tile of `out` (a new zero input by default); the rest of `out` is left as it is.
 */
export function modelInput(
  windowed: Float32Array,
  nu: number,
  nv: number,
  f: InputFrame,
  mean: readonly number[],
  std: readonly number[],
  out: Float32Array = new Float32Array(3 * f.size * f.size),
): Float32Array {
  const S = f.size;
  const plane = S * S;
  let w = f.cu;
  let h = f.cv;
  let src = new Float32Array(w * h);
  for (let v = 0; v < h; v++) {
    for (let u = 0; u < w; u++) {
      const gu = u + f.u0;
      const gv = v + f.v0;
      src[u + w * v] = gu >= 0 && gv >= 0 && gu < nu && gv < nv ? windowed[gu + nu * gv] : 0;
    }
  }
  let sx = f.sx;
  let sy = f.sy;
  while (sx <= 0.5 && sy <= 0.5 && w >= 2 && h >= 2) {
    const w2 = w >> 1;
    const h2 = h >> 1;
    const half = new Float32Array(w2 * h2);
    for (let y = 0; y < h2; y++) {
      for (let x = 0; x < w2; x++) {
        const i = 2 * x + w * 2 * y;
        half[x + w2 * y] = 0.25 * (src[i] + src[i + 1] + src[i + w] + src[i + w + 1]);
      }
    }
    sx *= w / w2;
    sy *= h / h2;
    src = half;
    w = w2;
    h = h2;
  }
  const wIn = Math.min(f.side, Math.round(f.cu * f.sx));
  const hIn = Math.min(f.side, Math.round(f.cv * f.sy));
  for (let y = 0; y < hIn; y++) {
    const cy = (y + 0.5) / sy - 0.5;
    for (let x = 0; x < wIn; x++) {
      const g = 255 * bilinear(src, w, h, (x + 0.5) / sx - 0.5, cy, 0);
      const i = f.ox + x + S * (f.oy + y);
      out[i] = (g - mean[0]) / std[0];
      out[plane + i] = (g - mean[1]) / std[1];
      out[2 * plane + i] = (g - mean[2]) / std[2];
    }
  }
  return out;
}

/** Mask logits on a `side` x `side` grid covering the input, sampled at the ROI pixels (outside the crop: `outside`). */
export function logitsToRoi(logits: Float32Array, side: number, f: InputFrame, nu: number, nv: number, outside = -20): Float32Array {
  const out = new Float32Array(nu * nv).fill(outside);
  const k = side / f.size;
  for (let v = Math.max(0, f.v0); v < Math.min(nv, f.v0 + f.cv); v++) {
    for (let u = Math.max(0, f.u0); u < Math.min(nu, f.u0 + f.cu); u++) {
      const [x, y] = toInput(f, u, v);
      out[u + nu * v] = bilinear(logits, side, side, (x + 0.5) * k - 0.5, (y + 0.5) * k - 0.5, outside);
    }
  }
  return out;
}

/**
 * A binary ROI mask as `mask_input` logits on a `side` x `side` grid covering the input (+/- `amplitude`;
 * outside the frame's tile: -amplitude).
 */
export function maskToLogits(mask: Uint8Array, nu: number, nv: number, f: InputFrame, side: number, amplitude = 10): Float32Array {
  return roiToMaskInput(Float32Array.from(mask, (x) => (x ? amplitude : -amplitude)), nu, nv, f, side, -amplitude);
}

/**
 * ROI logits (one per ROI pixel) resampled to `mask_input` on a `side` x `side` grid covering the input (outside
 * the frame's tile and the ROI: `outside`).
 */
export function roiToMaskInput(roi: Float32Array, nu: number, nv: number, f: InputFrame, side: number, outside = -20): Float32Array {
  const out = new Float32Array(side * side).fill(outside);
  const k = f.size / side;
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const ix = (x + 0.5) * k - 0.5 - f.ox;
      const iy = (y + 0.5) * k - 0.5 - f.oy;
      if (ix < -0.5 || iy < -0.5 || ix > f.side - 0.5 || iy > f.side - 0.5) continue;
      const u = (ix + 0.5) / f.sx - 0.5 + f.u0;
      const v = (iy + 0.5) / f.sy - 0.5 + f.v0;
      out[x + side * y] = bilinear(roi, nu, nv, u, v, outside);
    }
  }
  return out;
}

/** Zoom margins: each side of the object's box widened by `relativeMargin` x its size, at least `marginMm`. */
export interface ZoomOptions {
  relativeMargin: number;
  marginMm: number;
  /** Round the crop to a ladder of sizes and a grid of centres (default true). */
  snap?: boolean;
}

/**
 * The square crop (in mm) that zooms on an object whose inclusive ROI box is `around`: the box widened by the
 * margins, its shorter side widened to the longer one, within the ROI [0, nu) x [0, nv). Snapped, the side is
 * rounded up to a step of 2^(1/8) and the centre to a sixteenth of the side, in full-slice pixels (`origin`: where
 * the ROI starts), so that nearby boxes give the same crop and hence the same encoder input.
 */
export function zoomCrop(
  around: readonly [number, number, number, number],
  roi: { nu: number; nv: number; du: number; dv: number; origin?: readonly [number, number] },
  z: ZoomOptions,
): [number, number, number, number] {
  const { nu, nv, du, dv } = roi;
  const [ou, ov] = roi.origin ?? [0, 0];
  const [a, b, c, d] = around;
  const mu = Math.max(z.relativeMargin * (c - a + 1), z.marginMm / du);
  const mv = Math.max(z.relativeMargin * (d - b + 1), z.marginMm / dv);
  const need = Math.max((c - a + 1 + 2 * mu) * du, (d - b + 1 + 2 * mv) * dv);
  const unit = Math.min(du, dv);
  const snap = z.snap ?? true;
  const side = snap ? unit * 2 ** (Math.ceil(8 * Math.log2(Math.max(1, need / unit))) / 8) : need;
  // Centre in mm from the full slice's first pixel, snapped to the grid.
  const grid = side / 16;
  const at = (x: number): number => (snap ? Math.round(x / grid) * grid : x);
  const cu = at((ou + (a + c) / 2) * du);
  const cv = at((ov + (b + d) / 2) * dv);
  const u0 = Math.round((cu - side / 2) / du) - ou;
  const v0 = Math.round((cv - side / 2) / dv) - ov;
  const u1 = u0 + Math.round(side / du) - 1;
  const v1 = v0 + Math.round(side / dv) - 1;
  return [Math.max(0, u0), Math.max(0, v0), Math.min(nu - 1, u1), Math.min(nv - 1, v1)];
}
