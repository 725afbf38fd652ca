/**
 * Similarity of two slices (or two same-size regions of slices), on values already windowed to [0, 1]:
 * - SSIM (Wang et al. 2004): Gaussian window sigma 1.5 px, K1 = 0.01, K2 = 0.03, dynamic range 1; the mean of
 *   the SSIM map. 1 = identical, about 0 = unrelated.
 * - histogram distance: 1 - Bhattacharyya coefficient of the two 32-bin histograms over [0, 1]; 0 = same
 *   intensity distribution, 1 = disjoint;
 * - predictability of a slice from its two neighbours: SSIM between the slice and the mean of its neighbours,
 *   all three denoised by a Gaussian of {@link DENOISE_SIGMA} pixel first. Near 1: the slice is what
 *   interpolation between its neighbours gives, up to noise (a redundant slice); low: something appears,
 *   vanishes or moves there.
 */

/** Gaussian sigma (pixels) of the denoising before {@link predictability}. */
export const DENOISE_SIGMA = 1;

/** Separable Gaussian blur of a 2D array (clamped edges): a row pass, then a column pass. */
export function gaussianBlur2d(src: Float32Array, nu: number, nv: number, sigma: number): Float32Array {
  return blurPasses(src, nu, nv, sigma, null, null);
}

/**
 * {@link gaussianBlur2d} at the pixels where `where` is set (0 elsewhere), to the last bit: the row pass runs only
 * where a needed output's column pass reads it (within the kernel's reach above or below), the column pass only
 * at the needed pixels.
 */
export function gaussianBlur2dWhere(src: Float32Array, nu: number, nv: number, sigma: number, where: Uint8Array): Float32Array {
  const r = (gaussianKernel(sigma).length - 1) / 2;
  // Per pixel, how many needed pixels lie within r rows of it in its column.
  const reach = new Int32Array(nu * nv);
  for (let u = 0; u < nu; u++) {
    let c = 0;
    for (let v = 0; v < Math.min(r, nv); v++) c += where[u + nu * v];
    for (let v = 0; v < nv; v++) {
      if (v + r < nv) c += where[u + nu * (v + r)];
      reach[u + nu * v] = c;
      if (v - r >= 0) c -= where[u + nu * (v - r)];
    }
  }
  return blurPasses(src, nu, nv, sigma, reach, where);
}

/** The blur's two passes: the row pass where `rowsAt` is non-zero, the column pass where `at` is (null: everywhere). */
function blurPasses(src: Float32Array, nu: number, nv: number, sigma: number, rowsAt: Int32Array | null, at: Uint8Array | null): Float32Array {
  const k = gaussianKernel(sigma);
  const t = k.length;
  const r = (t - 1) / 2;
  const tmp = new Float32Array(nu * nv);
  const out = new Float32Array(nu * nv);
  const cols = tapIndices(nu, r, 1);
  const rows = tapIndices(nv, r, nu);
  for (let v = 0; v < nv; v++) {
    const line = v * nu;
    for (let u = 0; u < nu; u++) {
      if (rowsAt && !rowsAt[u + line]) continue;
      let s = 0;
      if (u >= r && u < nu - r) {
        // Away from the row's ends the taps are u - r .. u + r: no clamped index to look up.
        const from = line + u - r;
        for (let q = 0; q < t; q++) s += k[q] * src[from + q];
      } else for (let q = 0; q < t; q++) s += k[q] * src[line + cols[u * t + q]];
      tmp[u + line] = s;
    }
  }
  // Column pass: per pixel the sum over the taps in the same order, from 0, in double precision.
  for (let v = 0; v < nv; v++) {
    const base = v * t;
    const line = nu * v;
    for (let u = 0; u < nu; u++) {
      if (at && !at[line + u]) continue;
      let s = 0;
      for (let q = 0; q < t; q++) s += k[q] * tmp[rows[base + q] + u];
      out[line + u] = s;
    }
  }
  return out;
}

/** Normalised Gaussian taps -r..r, r = max(1, ceil(3 sigma)). */
function gaussianKernel(sigma: number): Float32Array {
  const r = Math.max(1, Math.ceil(3 * sigma));
  const k = new Float32Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; i++) {
    k[i + r] = Math.exp(-(i * i) / (2 * sigma * sigma));
    sum += k[i + r];
  }
  for (let i = 0; i < k.length; i++) k[i] /= sum;
  return k;
}

/** For each of `len` positions, the clamped indices of its 2r + 1 taps (times `stride`). */
function tapIndices(len: number, r: number, stride: number): Int32Array {
  const t = 2 * r + 1;
  const out = new Int32Array(len * t);
  for (let p = 0; p < len; p++) for (let i = -r; i <= r; i++) out[p * t + i + r] = Math.min(len - 1, Math.max(0, p + i)) * stride;
  return out;
}

type Five = [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];

/**
 * Pixels of an SSIM map worth evaluating: beyond about 128 x 128 of them the mean of the map is evaluated on a
 * grid of every `s`-th pixel along each axis (`s` the integer that keeps at least this many). The map is smooth
 * at the scale of its Gaussian window (sigma 1.5 px), so the grid's mean is the map's mean up to a small part of
 * its spread; below this size every pixel counts, as always.
 */
export const SSIM_SAMPLES = 128 * 128;

/** The grid step of {@link ssim} for an nu x nv region (see {@link SSIM_SAMPLES}). */
export function ssimStride(nu: number, nv: number): number {
  return Math.max(1, Math.floor(Math.sqrt((nu * nv) / SSIM_SAMPLES)));
}

/**
 * The filter's sum for one output over five maps at once: for each tap q, weight `k[q]` times the maps at
 * `shift + taps[base + q]`, summed in tap order from 0 in double precision and stored as float32 at `at`.
 */
function sumFive(src: Five, dst: Five, at: number, k: Float32Array, taps: Int32Array, base: number, shift: number): void {
  const [a, b, c, d, e] = src;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let s4 = 0;
  let s5 = 0;
  for (let q = 0; q < k.length; q++) {
    const j = shift + taps[base + q];
    const w = k[q];
    s1 += w * a[j];
    s2 += w * b[j];
    s3 += w * c[j];
    s4 += w * d[j];
    s5 += w * e[j];
  }
  dst[0][at] = s1;
  dst[1][at] = s2;
  dst[2][at] = s3;
  dst[3][at] = s4;
  dst[4][at] = s5;
}

/**
 * The row pass of the separable filter over five nu x nv maps at once, evaluated at every `step`-th column
 * (`taps` from `tapIndices(nu, r, 1)`, clamped edges): `dst` is ceil(nu / step) wide.
 */
function filterFiveRows(src: Five, dst: Five, nu: number, nv: number, k: Float32Array, taps: Int32Array, step: number): void {
  const t = k.length;
  const width = Math.ceil(nu / step);
  for (let v = 0; v < nv; v++) {
    for (let u = 0; u < nu; u += step) sumFive(src, dst, v * width + u / step, k, taps, u * t, v * nu);
  }
}

/**
 * The column pass of the separable filter over five maps `width` wide and nv high, evaluated at every `step`-th
 * row (`taps` from `tapIndices(nv, r, width)`), a whole row at a time; `dst` row v / step holds row v.
 */
function filterFiveColumns(src: Five, dst: Five, width: number, nv: number, k: Float32Array, taps: Int32Array, step: number): void {
  const t = k.length;
  for (let v = 0; v < nv; v += step) {
    const o = (v / step) * width;
    for (let u = 0; u < width; u++) sumFive(src, dst, o + u, k, taps, v * t, u);
  }
}

let scratchBuffer = new Float32Array(0);

/** A scratch buffer of at least `n` floats, shared by the calls of {@link ssim} (each runs to its end at once). */
function scratch(n: number): Float32Array {
  if (scratchBuffer.length < n) scratchBuffer = new Float32Array(Math.max(n, 2 * scratchBuffer.length));
  return scratchBuffer;
}

/**
 * Mean SSIM of two nu x nv arrays with values in [0, 1]. The five Gaussian-filtered maps (a, b, a², b², ab) are
 * filtered together, row pass then column pass, with the same taps, order and float32 rounding as filtering each
 * map with `gaussianBlur2d`. Large regions are evaluated on a grid (see {@link SSIM_SAMPLES}); `stride` sets its
 * step (default {@link ssimStride}).
 */
export function ssim(a: Float32Array, b: Float32Array, nu: number, nv: number, stride = ssimStride(nu, nv)): number {
  const n = nu * nv;
  if (n === 0) return 1;
  const c1 = 0.01 ** 2;
  const c2 = 0.03 ** 2;
  const k = gaussianKernel(1.5);
  const r = (k.length - 1) / 2;
  const step = Math.max(1, Math.floor(stride));
  const width = Math.ceil(nu / step);
  const height = Math.ceil(nv / step);
  // Every value of the working maps is written before it is read: they live in one reused scratch buffer.
  const work = scratch(3 * n + 5 * width * (nv + height));
  let at = 0;
  const map = (size: number): Float32Array => work.subarray(at, (at += size));
  const maps = (size: number): Five => [map(size), map(size), map(size), map(size), map(size)];
  const src: Five = [a, b, map(n), map(n), map(n)];
  for (let i = 0; i < n; i++) {
    src[2][i] = a[i] * a[i];
    src[3][i] = b[i] * b[i];
    src[4][i] = a[i] * b[i];
  }
  const rowPass = maps(width * nv);
  filterFiveRows(src, rowPass, nu, nv, k, tapIndices(nu, r, 1), step);
  const out = maps(width * height);
  const [ma, mb, maa, mbb, mab] = out;
  filterFiveColumns(rowPass, out, width, nv, k, tapIndices(nv, r, width), step);
  const m = width * height;
  let total = 0;
  for (let i = 0; i < m; i++) {
    const va = maa[i] - ma[i] * ma[i];
    const vb = mbb[i] - mb[i] * mb[i];
    const cov = mab[i] - ma[i] * mb[i];
    total += ((2 * ma[i] * mb[i] + c1) * (2 * cov + c2)) / ((ma[i] * ma[i] + mb[i] * mb[i] + c1) * (va + vb + c2));
  }
  return total / m;
}

/** 1 - Bhattacharyya coefficient of the 32-bin histograms of two arrays with values in [0, 1]. */
export function histogramDistance(a: Float32Array, b: Float32Array, bins = 32): number {
  const ha = new Float64Array(bins);
  const hb = new Float64Array(bins);
  for (let i = 0; i < a.length; i++) ha[Math.min(bins - 1, Math.floor(a[i] * bins))]++;
  for (let i = 0; i < b.length; i++) hb[Math.min(bins - 1, Math.floor(b[i] * bins))]++;
  if (a.length === 0 || b.length === 0) return a.length === b.length ? 0 : 1;
  let bc = 0;
  for (let k = 0; k < bins; k++) bc += Math.sqrt((ha[k] / a.length) * (hb[k] / b.length));
  return Math.max(0, 1 - bc);
}

/** How well slice `mid` is predicted by the mean of `prev` and `next` (see the module comment); all nu x nv. */
export function predictability(prev: Float32Array, mid: Float32Array, next: Float32Array, nu: number, nv: number): number {
  const n = nu * nv;
  const mean = new Float32Array(n);
  for (let i = 0; i < n; i++) mean[i] = 0.5 * (prev[i] + next[i]);
  return ssim(gaussianBlur2d(mid, nu, nv, DENOISE_SIGMA), gaussianBlur2d(mean, nu, nv, DENOISE_SIGMA), nu, nv);
}

/** The inclusive box [u0, v0, u1, v1] of a slice cut out of `src` (nu wide) into a new array. */
export function cropBox(src: Float32Array, nu: number, box: readonly [number, number, number, number]): Float32Array {
  const [u0, v0, u1, v1] = box;
  const w = u1 - u0 + 1;
  const out = new Float32Array(w * (v1 - v0 + 1));
  for (let v = v0; v <= v1; v++) out.set(src.subarray(u0 + nu * v, u1 + 1 + nu * v), w * (v - v0));
  return out;
}

/**
 * The inclusive box [u0, v0, u1, v1] of a slice (`src`, nu wide) averaged over blocks of f x f pixels, into a
 * new array ceil(width / f) x ceil(height / f) (blocks at the box's far edges may be partial). f = 1 gives the
 * box's pixels as they are (as {@link cropBox}).
 */
export function blockMeans(src: Float32Array, nu: number, box: readonly [number, number, number, number], f: number): { data: Float32Array; nu: number; nv: number } {
  const [u0, v0, u1, v1] = box;
  const w = u1 - u0 + 1;
  const h = v1 - v0 + 1;
  if (f <= 1) return { data: cropBox(src, nu, box), nu: w, nv: h };
  const bw = Math.ceil(w / f);
  const bh = Math.ceil(h / f);
  const sum = new Float64Array(bw * bh);
  // Row by row, each block's pixels of the row added to its sum in order (every sum takes its values in the
  // order of a pixel-by-pixel pass).
  for (let v = 0; v < h; v++) {
    const row = u0 + nu * (v0 + v);
    const out = bw * Math.floor(v / f);
    for (let c = 0; c < bw; c++) {
      let s = sum[out + c];
      const end = row + Math.min(w, (c + 1) * f);
      for (let i = row + c * f; i < end; i++) s += src[i];
      sum[out + c] = s;
    }
  }
  const data = new Float32Array(bw * bh);
  // A block's pixel count: f x f, less at the box's far edges.
  for (let r = 0; r < bh; r++) {
    const rows = Math.min(h, (r + 1) * f) - r * f;
    for (let c = 0; c < bw; c++) data[r * bw + c] = sum[r * bw + c] / (rows * (Math.min(w, (c + 1) * f) - c * f));
  }
  return { data, nu: bw, nv: bh };
}
