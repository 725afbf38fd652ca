/**
 * Small pure functions over binary masks (typed array + dimensions): distances, holes, components, boxes.
 * Layout: `mask[u + nu * (v + nv * w)]`; a 2D mask is the case `nw = 1`.
 */
import { gaussianBlur2d, gaussianBlur2dWhere } from '../analysis/similarity.js';
import { binaryEdt1d, edt1d } from '../metrics/edt.js';

/** Number of non-zero values (of a byte array, four bytes at a time). */
export function countNonZero(mask: ArrayLike<number>): number {
  if (mask instanceof Uint8Array && mask.length >= 64) return countSetBytes(mask);
  let n = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) n++;
  return n;
}

/** Non-zero bytes, read as 32-bit words between the bytes before the first word boundary and after the last. */
function countSetBytes(a: Uint8Array): number {
  const { head, words, tail } = byteWords(a) as NonNullable<ReturnType<typeof byteWords>>;
  let n = 0;
  for (let i = 0; i < head; i++) if (a[i]) n++;
  for (let k = 0; k < words.length; k++) {
    const w = words[k];
    if (w !== 0) n += (w & 0xff ? 1 : 0) + (w & 0xff00 ? 1 : 0) + (w & 0xff0000 ? 1 : 0) + (w & 0xff000000 ? 1 : 0);
  }
  for (let i = tail; i < a.length; i++) if (a[i]) n++;
  return n;
}

/**
 * A byte array read as 32-bit words: `head` bytes up to the first word boundary, then `words`, then the bytes
 * from `tail` on; null for a short or non-byte array (read byte by byte).
 */
export function byteWords(a: ArrayLike<number>): { head: number; words: Uint32Array; tail: number } | null {
  if (!(a instanceof Uint8Array) || a.length < 32) return null;
  const head = (4 - (a.byteOffset % 4)) % 4;
  const words = new Uint32Array(a.buffer, a.byteOffset + head, (a.length - head) >>> 2);
  return { head, words, tail: head + 4 * words.length };
}

/** Whether any byte of `a` is set (word by word). */
export function anyNonZero(a: Uint8Array): boolean {
  const r = byteWords(a);
  if (!r) return a.some((x) => x !== 0);
  for (let i = 0; i < r.head; i++) if (a[i]) return true;
  const { words } = r;
  for (let i = 0; i < words.length; i++) if (words[i]) return true;
  for (let i = r.tail; i < a.length; i++) if (a[i]) return true;
  return false;
}

/** Calls `fn(start, end)` for each run of consecutive set bytes of `a` (end excluded), in order, skipping unset words whole. */
export function eachSetRun(a: Uint8Array, fn: (start: number, end: number) => void): void {
  const r = byteWords(a);
  const n = a.length;
  let i = 0;
  while (i < n) {
    if (r && i >= r.head && i < r.tail && (i - r.head) % 4 === 0) {
      let k = (i - r.head) / 4;
      while (k < r.words.length && r.words[k] === 0) k++;
      i = r.head + 4 * k;
      if (i >= n) break;
    }
    if (!a[i]) {
      i++;
      continue;
    }
    const start = i;
    while (i < n && a[i]) i++;
    fn(start, i);
  }
}

/**
 * A byte label volume made the mask of one label value (1 where it holds `value`, else 0) in place, visiting only
 * its runs of set bytes (see `eachSetRun`); returns it. `value` 0 is the background: every byte is then visited.
 */
export function maskOfValueInPlace(a: Uint8Array, value: number): Uint8Array {
  const keep = (start: number, end: number): void => {
    for (let i = start; i < end; i++) a[i] = a[i] === value ? 1 : 0;
  };
  if (value === 0) keep(0, a.length);
  else eachSetRun(a, keep);
  return a;
}

/**
 * Signed distance (mm) to the boundary of a 2D mask: negative inside, positive outside, measured from the
 * centres of the nearest voxel of the other side and shifted by half a voxel so that the boundary lies at 0.
 * `Infinity` everywhere outside when the mask is empty. `origin` ([u, v], default [0, 0]) says where the mask
 * starts in a larger slice it was cut from: positions are reckoned there, so that a part of a slice holding
 * the mask and the nearest pixels of the other side gives to the last bit the distances of the whole slice.
 *
 * The last few maps are kept (see {@link keptDistances}): a mask asked for again, in the same or a smaller part
 * of the slice, is answered from them (the same values, see there).
 */
export function signedDistance2d(mask: ArrayLike<number>, nu: number, nv: number, du: number, dv: number, origin: readonly [number, number] = [0, 0]): Float32Array {
  const again = mask instanceof Uint8Array ? keptDistances(mask, nu, nv, du, dv, origin) : null;
  if (again) return again;
  const sc = edtScratch(Math.max(nu, nv), nu * nv);
  const inside = squaredDistance2d(mask, true, nu, nv, du, dv, sc, origin, sc.toSet);
  const outside = squaredDistance2d(mask, false, nu, nv, du, dv, sc, origin, sc.toClear);
  const half = Math.min(du, dv) / 2;
  const out = new Float32Array(nu * nv);
  for (let i = 0; i < out.length; i++) {
    out[i] = mask[i] ? -(Math.sqrt(outside[i]) - half) : Math.sqrt(inside[i]) - half;
  }
  if (mask instanceof Uint8Array) keepDistances({ mask: mask.slice(), u0: origin[0], v0: origin[1], nu, nv, du, dv, count: countNonZero(mask), sd: out.slice() });
  return out;
}

/** A map {@link signedDistance2d} made: its mask (a copy), where that part starts in the slice, its spacing. */
interface KeptMap {
  mask: Uint8Array;
  u0: number;
  v0: number;
  nu: number;
  nv: number;
  du: number;
  dv: number;
  count: number;
  sd: Float32Array;
}

/** Maps kept, most recently used first. */
const keptMaps: KeptMap[] = [];
const KEPT_MAPS = 4;

/** Forgets the kept maps (the next call of {@link signedDistance2d} computes its map). */
export function forgetDistances(): void {
  keptMaps.length = 0;
}

function keepDistances(m: KeptMap): void {
  keptMaps.unshift(m);
  if (keptMaps.length > KEPT_MAPS) keptMaps.pop();
}

/**
 * The map of `mask` (a part of a slice at `origin`) cut from a kept map of a larger or equal part holding the
 * same set pixels, or null. The values are those `signedDistance2d` computes on the part itself: outside the
 * mask the nearest set pixel is one of the mask's either way; inside it, wherever the kept part reaches beyond
 * this one this part still holds a pixel past the mask's bounding box, and a clear pixel further out is never
 * nearer than that ring of the box (its coordinates clamped to the ring are no further in either axis).
 */
function keptDistances(mask: Uint8Array, nu: number, nv: number, du: number, dv: number, origin: readonly [number, number]): Float32Array | null {
  let count = -1;
  let box: [number, number, number, number] | null | undefined;
  for (let k = 0; k < keptMaps.length; k++) {
    const e = keptMaps[k];
    const x0 = origin[0] - e.u0;
    const y0 = origin[1] - e.v0;
    if (e.du !== du || e.dv !== dv || x0 < 0 || y0 < 0 || x0 + nu > e.nu || y0 + nv > e.nv) continue;
    if (count < 0) count = countNonZero(mask);
    if (count !== e.count || !sameRows(mask, nu, nv, e.mask, e.nu, x0, y0)) continue;
    if (box === undefined) box = boundingBox2d(mask, nu, nv);
    if (box && ((x0 > 0 && box[0] < 1) || (y0 > 0 && box[1] < 1) || (x0 + nu < e.nu && box[2] > nu - 2) || (y0 + nv < e.nv && box[3] > nv - 2))) continue;
    keptMaps.splice(k, 1);
    keptMaps.unshift(e);
    const out = new Float32Array(nu * nv);
    for (let v = 0; v < nv; v++) out.set(e.sd.subarray((y0 + v) * e.nu + x0, (y0 + v) * e.nu + x0 + nu), v * nu);
    return out;
  }
  return null;
}

/** Whether `a` (nu x nv) equals the part of `b` (bu wide) starting at (x0, y0). */
function sameRows(a: Uint8Array, nu: number, nv: number, b: Uint8Array, bu: number, x0: number, y0: number): boolean {
  for (let v = 0; v < nv; v++) {
    const o = (y0 + v) * bu + x0;
    for (let u = 0; u < nu; u++) if (a[v * nu + u] !== b[o + u]) return false;
  }
  return true;
}

interface EdtScratch {
  v: Int32Array;
  z: Float64Array;
  g: Float64Array;
  /** The two squared-distance maps of {@link signedDistance2d}, reused from call to call. */
  toSet: Float64Array;
  toClear: Float64Array;
}

let scratch: EdtScratch | null = null;

/** Scratch for lines of up to `m` samples and maps of `n` pixels: the last call's when it is large enough. */
function edtScratch(m: number, n: number): EdtScratch {
  const s = scratch;
  if (s && s.g.length >= m && s.toSet.length >= n) return s;
  const mm = Math.max(m, s?.g.length ?? 0);
  const nn = Math.max(n, s?.toSet.length ?? 0);
  scratch = { v: new Int32Array(mm), z: new Float64Array(mm + 1), g: new Float64Array(mm), toSet: new Float64Array(nn), toClear: new Float64Array(nn) };
  return scratch;
}

/**
 * Squared distance (mm²) from each pixel of a 2D slice to the nearest pixel where `mask` is set (`set` true) or
 * clear (`set` false); `Infinity` where there is none; written to `d` (at least nu * nv long). Equal to
 * `squaredDistanceTransform` on a one-slice volume, without its third pass (which leaves a single slice
 * unchanged) and without a complement copy; the first pass reads the mask's runs (`binaryEdt1d`).
 */
function squaredDistance2d(
  mask: ArrayLike<number>,
  set: boolean,
  nu: number,
  nv: number,
  du: number,
  dv: number,
  sc: EdtScratch,
  origin: readonly [number, number],
  d: Float64Array,
): Float64Array {
  for (let v = 0; v < nv; v++) binaryEdt1d(mask, v * nu, set, d, v * nu, nu, du, sc.v, origin[0]);
  for (let u = 0; u < nu; u++) edt1d(d, u, nu, nv, dv, sc.v, sc.z, sc.g, origin[1]);
  return d;
}

/**
 * Curvature (1/mm) of the level sets of a 2D signed distance map: the Laplacian of the map after a Gaussian of
 * one pixel, clamped to +/- half the inverse of the smaller spacing. Positive where the zero level set is convex
 * (inside and around a disc of radius R it is about 1/R at the boundary), negative where it is concave. Infinite
 * values (the map of an empty mask) give 0. With `where`, only its pixels are computed (0 elsewhere; the same
 * values there): the smoothing then runs only where their Laplacians read it.
 */
export function levelSetCurvature(sd: Float32Array, nu: number, nv: number, du: number, dv: number, where?: Uint8Array): Float32Array {
  let big = 0;
  let allFinite = true;
  for (let i = 0; i < sd.length; i++) {
    if (Number.isFinite(sd[i])) big = Math.max(big, Math.abs(sd[i]));
    else allFinite = false;
  }
  const finite = allFinite ? sd : Float32Array.from(sd, (x) => (Number.isFinite(x) ? x : big));
  let f: Float32Array;
  if (where) {
    // The Laplacian at a pixel reads the smoothed map there and at its four neighbours.
    const read = new Uint8Array(sd.length);
    for (let i = 0; i < sd.length; i++) {
      if (!where[i]) continue;
      const u = i % nu;
      read[i] = 1;
      if (u > 0) read[i - 1] = 1;
      if (u < nu - 1) read[i + 1] = 1;
      if (i >= nu) read[i - nu] = 1;
      if (i < sd.length - nu) read[i + nu] = 1;
    }
    f = gaussianBlur2dWhere(finite, nu, nv, 1, read);
  } else f = gaussianBlur2d(finite, nu, nv, 1);
  const out = new Float32Array(sd.length);
  const limit = 0.5 / Math.min(du, dv);
  for (let v = 0; v < nv; v++) {
    for (let u = 0; u < nu; u++) {
      const i = u + nu * v;
      if ((where && !where[i]) || !Number.isFinite(sd[i])) continue;
      const l = f[u > 0 ? i - 1 : i];
      const r = f[u < nu - 1 ? i + 1 : i];
      const t = f[v > 0 ? i - nu : i];
      const b = f[v < nv - 1 ? i + nu : i];
      const k = (l - 2 * f[i] + r) / (du * du) + (t - 2 * f[i] + b) / (dv * dv);
      out[i] = k > limit ? limit : k < -limit ? -limit : k;
    }
  }
  return out;
}

/** Fills the holes of a 2D mask (background regions not 4-connected to the border), in place; returns the count. */
export function fillHoles2d(mask: Uint8Array, nu: number, nv: number): number {
  const n = nu * nv;
  const outside = new Uint8Array(n);
  // Each pixel is pushed at most once (when first marked), so n entries always suffice.
  const stack = new Int32Array(n);
  let top = 0;
  const seed = (i: number): void => {
    if (!mask[i] && !outside[i]) {
      outside[i] = 1;
      stack[top++] = i;
    }
  };
  for (let u = 0; u < nu; u++) {
    seed(u);
    seed(u + nu * (nv - 1));
  }
  for (let v = 0; v < nv; v++) {
    seed(nu * v);
    seed(nu - 1 + nu * v);
  }
  while (top > 0) {
    const i = stack[--top];
    const u = i % nu;
    if (u > 0) seed(i - 1);
    if (u < nu - 1) seed(i + 1);
    if (i >= nu) seed(i - nu);
    if (i < n - nu) seed(i + nu);
  }
  let filled = 0;
  for (let i = 0; i < n; i++) {
    if (!mask[i] && !outside[i]) {
      mask[i] = 1;
      filled++;
    }
  }
  return filled;
}

/**
 * Connected components of a 3D mask (26-connectivity when `full`, else 6; in a single slice 8 or 4). Returns a
 * component id per voxel (0 = background, 1..count, numbered in the order of each component's first voxel in
 * memory order) and the sizes (index 0 unused).
 *
 * The mask is read as runs of set voxels along u; each run is joined (union-find) with the runs it touches on the
 * rows before it in memory order (the row above, and with `full` the three rows of the slice before, else the
 * one), so the cost follows the number of runs rather than 26 neighbour looks per voxel.
 */
export function connectedComponents(
  mask: ArrayLike<number>,
  nu: number,
  nv: number,
  nw: number,
  full = true,
): { ids: Int32Array; sizes: number[] } {
  const ids = new Int32Array(nu * nv * nw);
  const runs = maskRuns(mask, nu, nv * nw);
  const { start, end, first } = runs;
  const count = runs.count;
  const parent = new Int32Array(count);
  for (let i = 0; i < count; i++) parent[i] = i;
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]];
      i = parent[i];
    }
    return i;
  };
  // Runs of rows r and q touch when their u ranges overlap (widened by one with the diagonal neighbours).
  const reach = full ? 1 : 0;
  const join = (r: number, q: number): void => {
    let a = first[r];
    let b = first[q];
    const aEnd = first[r + 1];
    const bEnd = first[q + 1];
    while (a < aEnd && b < bEnd) {
      if (start[a] <= end[b] + reach && start[b] <= end[a] + reach) {
        const x = find(a);
        const y = find(b);
        // The root is a set's first run in memory order.
        if (x < y) parent[y] = x;
        else if (y < x) parent[x] = y;
      }
      if (end[a] < end[b]) a++;
      else b++;
    }
  };
  for (let w = 0; w < nw; w++) {
    for (let v = 0; v < nv; v++) {
      const r = v + nv * w;
      if (first[r] === first[r + 1]) continue;
      if (v > 0) join(r, r - 1);
      if (w === 0) continue;
      const below = r - nv;
      join(r, below);
      if (full && v > 0) join(r, below - 1);
      if (full && v < nv - 1) join(r, below + 1);
    }
  }
  const sizes = [0];
  const label = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const root = find(i);
    if (root === i) {
      label[i] = sizes.length;
      sizes.push(0);
    }
    const id = label[root];
    label[i] = id;
    sizes[id] += end[i] - start[i] + 1;
  }
  for (let r = 0; r < nv * nw; r++) {
    for (let i = first[r]; i < first[r + 1]; i++) ids.fill(label[i], r * nu + start[i], r * nu + end[i] + 1);
  }
  return { ids, sizes };
}

/** The runs of set values along each of `rows` rows `nu` long: run i spans u = start[i]..end[i] of its row; the runs of row r are first[r]..first[r + 1] - 1. */
function maskRuns(mask: ArrayLike<number>, nu: number, rows: number): { start: Int32Array; end: Int32Array; first: Int32Array; count: number } {
  const first = new Int32Array(rows + 1);
  let start: Int32Array = new Int32Array(1024);
  let end: Int32Array = new Int32Array(1024);
  let count = 0;
  for (let r = 0; r < rows; r++) {
    first[r] = count;
    const base = r * nu;
    let u = 0;
    while (u < nu) {
      if (!mask[base + u]) {
        u++;
        continue;
      }
      const s = u;
      while (u < nu && mask[base + u]) u++;
      if (count === start.length) {
        const grow = (a: Int32Array): Int32Array => {
          const b = new Int32Array(2 * a.length);
          b.set(a);
          return b;
        };
        start = grow(start);
        end = grow(end);
      }
      start[count] = s;
      end[count] = u - 1;
      count++;
    }
  }
  first[rows] = count;
  return { start, end, first, count };
}

/**
 * Inclusive 2D bounding box [u0, v0, u1, v1] of the non-zero values, or null when there is none. Each row is read
 * from its start to its first set value and from its end to its last, not across the object.
 */
export function boundingBox2d(mask: ArrayLike<number>, nu: number, nv: number): [number, number, number, number] | null {
  let u0 = nu;
  let v0 = nv;
  let u1 = -1;
  let v1 = -1;
  for (let v = 0; v < nv; v++) {
    const o = v * nu;
    let a = 0;
    while (a < nu && !mask[o + a]) a++;
    if (a === nu) continue;
    let b = nu - 1;
    while (!mask[o + b]) b--;
    if (a < u0) u0 = a;
    if (b > u1) u1 = b;
    if (v < v0) v0 = v;
    v1 = v;
  }
  return u1 < 0 ? null : [u0, v0, u1, v1];
}

/**
 * The 3D box [u0, v0, w0, u1, v1, w1] (inclusive) of the non-zero voxels, widened by `margin` and cut to the
 * stack. Runs of set voxels are found word by word (see `eachSetRun`), so empty parts cost little.
 */
export function boundingBox3d(mask: Uint8Array, nu: number, nv: number, nw: number, margin = 0): [number, number, number, number, number, number] | null {
  let u0 = nu;
  let v0 = nv;
  let w0 = nw;
  let u1 = -1;
  let v1 = -1;
  let w1 = -1;
  eachSetRun(mask.subarray(0, nu * nv * nw), (start, end) => {
    // Row by row (a run may continue on the next row).
    for (let row = Math.floor(start / nu); row * nu < end; row++) {
      const a = Math.max(start, row * nu) - row * nu;
      const b = Math.min(end, (row + 1) * nu) - 1 - row * nu;
      const v = row % nv;
      const w = (row - v) / nv;
      if (a < u0) u0 = a;
      if (b > u1) u1 = b;
      if (v < v0) v0 = v;
      if (v > v1) v1 = v;
      if (w < w0) w0 = w;
      if (w > w1) w1 = w;
    }
  });
  if (u1 < 0) return null;
  return [
    Math.max(0, u0 - margin),
    Math.max(0, v0 - margin),
    Math.max(0, w0 - margin),
    Math.min(nu - 1, u1 + margin),
    Math.min(nv - 1, v1 + margin),
    Math.min(nw - 1, w1 + margin),
  ];
}

/**
 * Keeps the 8-connected components of `mask` that overlap `ref`; the largest one when none does or `ref` is
 * null. A mask of at most one component is returned as is.
 */
export function keepOverlapping(mask: Uint8Array, ref: Uint8Array | null, nu: number, nv: number): Uint8Array {
  const { ids, sizes } = connectedComponents(mask, nu, nv, 1, true);
  if (sizes.length <= 2) return mask;
  const keep = new Uint8Array(sizes.length);
  let any = false;
  if (ref) {
    for (let i = 0; i < mask.length; i++) {
      if (ids[i] && ref[i]) {
        keep[ids[i]] = 1;
        any = true;
      }
    }
  }
  if (!any) {
    let best = 1;
    for (let c = 2; c < sizes.length; c++) if (sizes[c] > sizes[best]) best = c;
    keep[best] = 1;
  }
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) out[i] = ids[i] && keep[ids[i]] ? 1 : 0;
  return out;
}

type Box2d = [number, number, number, number];

/** Whether the bounding box `b` reaches within `slack` (fraction of the box's side, at least 1 pixel) of each side of `box`. */
function boxSpans(b: Box2d, box: Box2d, slack: number): boolean {
  const [i0, j0, i1, j1] = box;
  const su = Math.max(1, slack * (i1 - i0 + 1));
  const sv = Math.max(1, slack * (j1 - j0 + 1));
  return b[0] - i0 <= su && i1 - b[2] <= su && b[1] - j0 <= sv && j1 - b[3] <= sv;
}

/** Whether the mask's bounding box reaches within `slack` (fraction of the box's side, at least 1 pixel) of each side of `box`. */
export function spansBox(mask: Uint8Array, nu: number, nv: number, box: Box2d, slack: number): boolean {
  const b = boundingBox2d(mask, nu, nv);
  return b !== null && boxSpans(b, box, slack);
}

/**
 * The largest 8-connected components of `mask` that together span `box` (added largest first): pieces beyond
 * those are not needed to explain a tight box. The mask as it is when even all of them do not span it.
 */
export function fewestSpanning(mask: Uint8Array, nu: number, nv: number, box: Box2d, slack: number): Uint8Array {
  const { ids, sizes } = connectedComponents(mask, nu, nv, 1, true);
  if (sizes.length <= 2) return mask;
  // Each component's bounding box, in one pass.
  const boxes: Box2d[] = sizes.map(() => [nu, nv, -1, -1]);
  for (let i = 0; i < ids.length; i++) {
    const c = ids[i];
    if (!c) continue;
    const u = i % nu;
    const v = (i - u) / nu;
    const b = boxes[c];
    if (u < b[0]) b[0] = u;
    if (v < b[1]) b[1] = v;
    if (u > b[2]) b[2] = u;
    if (v > b[3]) b[3] = v;
  }
  const order = sizes.map((_, c) => c).slice(1).sort((a, b) => sizes[b] - sizes[a]);
  const keep = new Uint8Array(sizes.length);
  const union: Box2d = [nu, nv, -1, -1];
  for (const c of order) {
    keep[c] = 1;
    const b = boxes[c];
    union[0] = Math.min(union[0], b[0]);
    union[1] = Math.min(union[1], b[1]);
    union[2] = Math.max(union[2], b[2]);
    union[3] = Math.max(union[3], b[3]);
    if (!boxSpans(union, box, slack)) continue;
    const out = new Uint8Array(mask.length);
    for (let i = 0; i < mask.length; i++) out[i] = keep[ids[i]];
    return out;
  }
  return mask;
}
