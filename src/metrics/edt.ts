/**
 * Exact Euclidean distance transform with anisotropic spacing (Felzenszwalb & Huttenlocher, "Distance
 * Transforms of Sampled Functions", 2012): separable lower envelopes of parabolas, one pass per axis.
 */

/**
 * 1D squared distance transform of `f` (n samples `stride` apart starting at `offset`, sample spacing `w`),
 * written back in place. `v`, `z`, `g` are scratch arrays of length >= n (z: n + 1). `origin` is the index of the
 * first sample on a longer line it was cut from (positions are reckoned on that line, so that a part gives the
 * same values as the whole; default 0).
 */
export function edt1d(
  d: Float64Array,
  offset: number,
  stride: number,
  n: number,
  w: number,
  v: Int32Array,
  z: Float64Array,
  g: Float64Array,
  origin = 0,
): void {
  for (let q = 0; q < n; q++) g[q] = d[offset + q * stride];
  let k = -1;
  for (let q = 0; q < n; q++) {
    const fq = g[q];
    if (fq === Infinity) continue;
    const pq = (q + origin) * w;
    if (k < 0) {
      k = 0;
      v[0] = q;
      z[0] = -Infinity;
      z[1] = Infinity;
      continue;
    }
    let s: number;
    for (;;) {
      const r = v[k];
      const pr = (r + origin) * w;
      s = (fq + pq * pq - (g[r] + pr * pr)) / (2 * (pq - pr));
      if (s <= z[k]) k--; // z[0] is -Infinity, so this stops at k = 0
      else break;
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = Infinity;
  }
  if (k < 0) return; // no finite sample on this line
  let j = 0;
  for (let q = 0; q < n; q++) {
    const x = (q + origin) * w;
    while (z[j + 1] < x) j++;
    const dx = x - (v[j] + origin) * w;
    d[offset + q * stride] = dx * dx + g[v[j]];
  }
}

/**
 * `edt1d` of a line of a binary image whose samples are 0 where the image equals `set` and Infinity elsewhere
 * (the first pass of a binary distance transform), written to `d` from `offset` on: the same values to
 * the last bit, found from the feature samples alone. Between two consecutive features the lower envelope of
 * their parabolas of equal height changes at the intersection `edt1d` computes (no other parabola lies on it
 * there), so each sample takes the feature `edt1d` takes, and the same arithmetic. `mask` is read at
 * `from + q`, q < n; `features` is scratch of length >= n.
 */
export function binaryEdt1d(
  mask: ArrayLike<number>,
  from: number,
  set: boolean,
  d: Float64Array,
  offset: number,
  n: number,
  w: number,
  features: Int32Array,
  origin = 0,
): void {
  let m = 0;
  for (let q = 0; q < n; q++) if ((mask[from + q] ? true : false) === set) features[m++] = q;
  if (m === 0) {
    d.fill(Infinity, offset, offset + n);
    return;
  }
  let j = 0;
  let pr = (features[0] + origin) * w;
  let next = m > 1 ? crossing(pr, (features[1] + origin) * w) : Infinity;
  for (let q = 0; q < n; q++) {
    const x = (q + origin) * w;
    while (next < x) {
      j++;
      pr = (features[j] + origin) * w;
      next = j + 1 < m ? crossing(pr, (features[j + 1] + origin) * w) : Infinity;
    }
    const dx = x - pr;
    d[offset + q] = dx * dx + 0;
  }
}

/** Where the parabolas of height 0 at pr < pq meet: `edt1d`'s intersection, the same expression. */
function crossing(pr: number, pq: number): number {
  return (0 + pq * pq - (0 + pr * pr)) / (2 * (pq - pr));
}

/**
 * Squared Euclidean distance (mm²) from every voxel to the nearest voxel where `features` is non-zero.
 * `Infinity` everywhere when there is no feature voxel. Layout: x fastest.
 */
export function squaredDistanceTransform(
  features: ArrayLike<number>,
  size: readonly [number, number, number],
  spacing: readonly [number, number, number],
): Float64Array {
  const [nx, ny, nz] = size;
  const n = nx * ny * nz;
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) d[i] = features[i] ? 0 : Infinity;
  const m = Math.max(nx, ny, nz);
  const v = new Int32Array(m);
  const z = new Float64Array(m + 1);
  const g = new Float64Array(m);
  for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) edt1d(d, (k * ny + j) * nx, 1, nx, spacing[0], v, z, g);
  for (let k = 0; k < nz; k++) for (let i = 0; i < nx; i++) edt1d(d, k * nx * ny + i, nx, ny, spacing[1], v, z, g);
  for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) edt1d(d, j * nx + i, nx * ny, nz, spacing[2], v, z, g);
  return d;
}
