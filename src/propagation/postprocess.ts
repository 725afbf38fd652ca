/**
 * 3D clean-up of one object's stack of slices, each step switchable and reported. Key slices are never
 * changed.
 * - keepConnected: keep the 3D components (26-connectivity) that touch a key slice's mask, drop the rest;
 * - smooth: 3D majority filter over the 3x3x3 neighbourhood on each non-key slice (key slices vote); a piece of a
 *   slice that would lose more than half its voxels (a small blob, the tip of an ending object) is left as it was;
 * - fillHoles: fill holes slice by slice (background not connected to the slice border);
 * - continuity: flag slices whose area jumps against both neighbours (more than `continuityRatio` times, or
 *   less than 1 / `continuityRatio` times their mean); flags only, nothing is changed.
 */
import { boundingBox3d, connectedComponents, fillHoles2d } from '../morphology/binary.js';

export interface PostprocessOptions {
  keepConnected?: boolean;
  fillHoles?: boolean;
  smooth?: boolean;
  continuity?: boolean;
  /** Area ratio that counts as a jump (default 2). */
  continuityRatio?: number;
}

export const DEFAULT_POSTPROCESS: Required<PostprocessOptions> = {
  keepConnected: true,
  fillHoles: true,
  smooth: true,
  continuity: true,
  continuityRatio: 2,
};

/** 3D pieces smaller than this (a ball of radius 3 voxels) are not smoothed. */
const SMOOTH_MIN_VOXELS = Math.ceil((4 / 3) * Math.PI * 27);

export interface PostprocessReport {
  keepConnected?: { removedComponents: number; removedVoxels: number };
  fillHoles?: { filledVoxels: number };
  smooth?: { changedVoxels: number; keptPieces: number };
  continuity?: { flaggedSlices: number[] };
}

/** A box of a stack: its first voxel (u0, v0, w0) and its size. */
interface Crop {
  u0: number;
  v0: number;
  w0: number;
  nu: number;
  nv: number;
  nw: number;
}

/** The crop's voxels of `mask` (a stack of nu x nv slices) as a stack of their own; or, given `from`, `from` written back into `mask`. */
function copyCrop(mask: Uint8Array, nu: number, nv: number, c: Crop, from: Uint8Array | null): Uint8Array {
  const sub = from ?? new Uint8Array(c.nu * c.nv * c.nw);
  for (let w = 0; w < c.nw; w++) {
    for (let v = 0; v < c.nv; v++) {
      const s = c.u0 + nu * (c.v0 + v + nv * (c.w0 + w));
      const d = c.nu * (v + c.nv * w);
      if (from) mask.set(sub.subarray(d, d + c.nu), s);
      else sub.set(mask.subarray(s, s + c.nu), d);
    }
  }
  return sub;
}

/**
 * Cleans `mask` (`mask[u + nu * (v + nv * w)]`, 0/1) in place. `keySlices` holds the indices of the key
 * slices (their content is restored as it was). The work is done in the object's 3D bounding box with a margin
 * of two voxels (cut to the stack), which gives the same result as the whole stack: no step can set a voxel
 * further than one voxel from the object, and the voxels at two count the same votes either way. This is
 * `postprocessStackFrom` without an earlier run.
 */
export function postprocessStack(
  mask: Uint8Array,
  nu: number,
  nv: number,
  nw: number,
  keySlices: ReadonlySet<number>,
  options: PostprocessOptions = {},
): PostprocessReport {
  return postprocessStackFrom({ mask, nu, nv, nw }, keySlices, options, null).report;
}

/** The report of an empty stack: each step that is on, with nothing done. */
function emptyReport(o: Required<PostprocessOptions>): PostprocessReport {
  return {
    ...(o.keepConnected ? { keepConnected: { removedComponents: 0, removedVoxels: 0 } } : {}),
    ...(o.smooth ? { smooth: { changedVoxels: 0, keptPieces: 0 } } : {}),
    ...(o.fillHoles ? { fillHoles: { filledVoxels: 0 } } : {}),
    ...(o.continuity ? { continuity: { flaggedSlices: [] } } : {}),
  };
}

/** Copies of the key slices in the stack (they are restored as they were), by slice. */
function keySliceCopies(mask: Uint8Array, area: number, nw: number, keySlices: Iterable<number>): Map<number, Uint8Array> {
  const saved = new Map<number, Uint8Array>();
  for (const w of keySlices) if (w >= 0 && w < nw) saved.set(w, mask.slice(w * area, (w + 1) * area));
  return saved;
}

interface Pieces {
  ids: Int32Array;
  sizes: number[];
}

/**
 * `keepConnected` in place: drops the 3D pieces that touch no key slice. The pieces kept (ids as found, sizes
 * of the dropped ones 0) and the counts.
 */
function keepConnected(mask: Uint8Array, nu: number, nv: number, nw: number, keySlices: Iterable<number>): { pieces: Pieces; report: NonNullable<PostprocessReport['keepConnected']> } {
  const area = nu * nv;
  const { ids, sizes } = connectedComponents(mask, nu, nv, nw, true);
  const keep = new Uint8Array(sizes.length);
  for (const w of keySlices) {
    for (let i = w * area; i < (w + 1) * area; i++) if (ids[i]) keep[ids[i]] = 1;
  }
  let removedVoxels = 0;
  let removedComponents = 0;
  for (let c = 1; c < sizes.length; c++) {
    if (!keep[c]) {
      removedComponents++;
      removedVoxels += sizes[c];
    }
  }
  if (removedComponents > 0) for (let i = 0; i < mask.length; i++) if (ids[i] && !keep[ids[i]]) mask[i] = 0;
  return { pieces: { ids, sizes: sizes.map((n, c) => (keep[c] ? n : 0)) }, report: { removedComponents, removedVoxels } };
}

/** The voxels of the pieces big enough to smooth (see `SMOOTH_MIN_VOXELS`). */
function bigPieces({ ids, sizes }: Pieces): Uint8Array {
  const isBig = Uint8Array.from(sizes, (n, c) => (c > 0 && n >= SMOOTH_MIN_VOXELS ? 1 : 0));
  const big = new Uint8Array(ids.length);
  for (let i = 0; i < ids.length; i++) big[i] = isBig[ids[i]];
  return big;
}

/**
 * The pieces of a slice (`before`, 8-connected) that the vote would take more than half of are put back whole
 * into `after`: how many pieces, and the voxels set again.
 */
function keepSmallPieces(before: Uint8Array, after: Uint8Array, nu: number, nv: number): { pieces: number; voxels: number } {
  const area = nu * nv;
  const { ids, sizes } = connectedComponents(before, nu, nv, 1, true);
  const kept = new Array<number>(sizes.length).fill(0);
  for (let i = 0; i < area; i++) if (ids[i] && after[i]) kept[ids[i]]++;
  let pieces = 0;
  let voxels = 0;
  for (let c = 1; c < sizes.length; c++) {
    if (2 * kept[c] >= sizes[c]) continue;
    pieces++;
    for (let i = 0; i < area; i++) {
      if (ids[i] === c && !after[i]) {
        after[i] = 1;
        voxels++;
      }
    }
  }
  return { pieces, voxels };
}

/** Non-key slices whose area jumps against both neighbours (see the module comment). */
function continuityFlags(mask: Uint8Array, area: number, nw: number, keySlices: { has(w: number): boolean }, ratio: number): number[] {
  const areas: number[] = [];
  for (let w = 0; w < nw; w++) {
    let n = 0;
    for (let i = w * area; i < (w + 1) * area; i++) n += mask[i];
    areas.push(n);
  }
  const flaggedSlices: number[] = [];
  for (let w = 1; w + 1 < nw; w++) {
    const a = areas[w - 1];
    const b = areas[w + 1];
    if (a === 0 || b === 0 || areas[w] === 0 || keySlices.has(w)) continue;
    const mean = (a + b) / 2;
    const r = areas[w] / mean;
    if (r > ratio || r < 1 / ratio) flaggedSlices.push(w);
  }
  return flaggedSlices;
}

/** What `postprocessStackFrom` leaves for its next run on the same object (the stacks are its own copies). */
export interface PostprocessMemo {
  nu: number;
  nv: number;
  nw: number;
  /** The options in full, as words. */
  options: string;
  keySlices: ReadonlySet<number>;
  /** The box the stacks below hold (the object and two voxels around it; nothing of it lies beyond). */
  crop: Readonly<Crop>;
  /** The stack after `keepConnected` (what the vote counts), the voxels of big pieces, and the result. */
  connected: Uint8Array;
  big: Uint8Array;
  out: Uint8Array;
  /** Per slice of the box: voxels the vote changed (less those put back), pieces put back, voxels filled. */
  changed: Int32Array;
  kept: Int32Array;
  filled: Int32Array;
}

/** Sum over the 3x3x3 neighbourhood of every voxel of slice w (voxels outside the stack count 0). */
function sliceNeighbourhoodSum(a: Uint8Array, nu: number, nv: number, nw: number, w: number): Uint8Array {
  const area = nu * nv;
  const t = new Uint8Array(area);
  for (let x = Math.max(0, w - 1); x <= Math.min(nw - 1, w + 1); x++) {
    const o = x * area;
    for (let j = 0; j < area; j++) t[j] += a[o + j];
  }
  const r = new Uint8Array(area);
  for (let v = 0; v < nv; v++) {
    const o = v * nu;
    for (let u = 0; u < nu; u++) r[o + u] = t[o + u] + (u > 0 ? t[o + u - 1] : 0) + (u < nu - 1 ? t[o + u + 1] : 0);
  }
  const out = new Uint8Array(area);
  for (let v = 0; v < nv; v++) {
    const o = v * nu;
    for (let u = 0; u < nu; u++) out[o + u] = r[o + u] + (v > 0 ? r[o + u - nu] : 0) + (v < nv - 1 ? r[o + u + nu] : 0);
  }
  return out;
}

/** Slice w (stack coordinates) of a crop's stack, or null beyond it (empty). */
function sliceAt(a: Uint8Array, c: Crop, w: number): Uint8Array | null {
  const x = w - c.w0;
  return x >= 0 && x < c.nw ? a.subarray(x * c.nu * c.nv, (x + 1) * c.nu * c.nv) : null;
}

/** Pixel (u, v) (stack coordinates) of a crop's slice, 0 outside the crop. */
function pixelAt(s: Uint8Array | null, c: Crop, u: number, v: number): number {
  const x = u - c.u0;
  const y = v - c.v0;
  return s && x >= 0 && y >= 0 && x < c.nu && y < c.nv ? s[x + c.nu * y] : 0;
}

/** Whether slice x of two crops' stacks (empty beyond each crop) is the same. */
function sameSlice(a: Uint8Array, ca: Crop, b: Uint8Array, cb: Crop, x: number): boolean {
  const sa = sliceAt(a, ca, x);
  const sb = sliceAt(b, cb, x);
  if (!sa && !sb) return true;
  if (sa && sb && ca.u0 === cb.u0 && ca.v0 === cb.v0 && ca.nu === cb.nu && ca.nv === cb.nv) {
    for (let i = 0; i < sa.length; i++) if (sa[i] !== sb[i]) return false;
    return true;
  }
  for (let v = Math.min(ca.v0, cb.v0); v < Math.max(ca.v0 + ca.nv, cb.v0 + cb.nv); v++) {
    for (let u = Math.min(ca.u0, cb.u0); u < Math.max(ca.u0 + ca.nu, cb.u0 + cb.nu); u++) if (pixelAt(sa, ca, u, v) !== pixelAt(sb, cb, u, v)) return false;
  }
  return true;
}

/**
 * Whether slices w - 1 .. w + 1 of two crops' stacks (empty beyond each crop) are the same, asked slab by slab:
 * each slice is compared once, when a slab first needs it.
 */
function slabsOf(a: Uint8Array, ca: Crop, b: Uint8Array, cb: Crop): (w: number) => boolean {
  const known = new Map<number, boolean>();
  const same = (x: number): boolean => {
    let r = known.get(x);
    if (r === undefined) known.set(x, (r = sameSlice(a, ca, b, cb, x)));
    return r;
  };
  return (w) => same(w - 1) && same(w) && same(w + 1);
}

/** Slice w of crop `cb`'s stack `b` written into slice w of crop `ca`'s stack `a` (0 where `cb` does not reach). */
function copySlice(a: Uint8Array, ca: Crop, b: Uint8Array, cb: Crop, w: number): void {
  const sa = sliceAt(a, ca, w) as Uint8Array;
  const sb = sliceAt(b, cb, w);
  for (let y = 0; y < ca.nv; y++) for (let x = 0; x < ca.nu; x++) sa[x + ca.nu * y] = pixelAt(sb, cb, ca.u0 + x, ca.v0 + y);
}

/** Whether slices w - 1 .. w + 1 (those in the stack) are empty. */
function emptySlab(a: Uint8Array, area: number, nw: number, w: number): boolean {
  const from = Math.max(0, w - 1) * area;
  const to = (Math.min(nw - 1, w + 1) + 1) * area;
  for (let i = from; i < to; i++) if (a[i]) return false;
  return true;
}

/**
 * The smoothing vote on slice w, in place on `mask`, and the small pieces put back: the voxels changed and the
 * pieces put back. A 3D majority over the 3x3x3 neighbourhood of `src` (voxels outside the stack do not vote;
 * key slices vote but are not changed by the caller): slice-by-slice results disagree from one slice to the
 * next where the boundary is faint, and the neighbouring slices settle it. Only voxels next to a big piece
 * (`big`: pieces at least as big as a ball of radius 3 voxels) are voted on, since smaller ones (a lesion) would
 * be eroded away; a piece of the slice that would lose more than half its voxels is put back as it was.
 */
function smoothSlice(src: Uint8Array, big: Uint8Array, mask: Uint8Array, nu: number, nv: number, nw: number, w: number): { changed: number; kept: number } {
  const area = nu * nv;
  const near = sliceNeighbourhoodSum(big, nu, nv, nw, w);
  const votes = sliceNeighbourhoodSum(src, nu, nv, nw, w);
  const inside = (x: number, n: number): number => (x > 0 ? 1 : 0) + 1 + (x < n - 1 ? 1 : 0);
  const cw = inside(w, nw);
  let changed = 0;
  for (let v = 0; v < nv; v++) {
    const cvw = cw * inside(v, nv);
    for (let u = 0; u < nu; u++) {
      const j = u + nu * v;
      if (!near[j]) continue;
      const val = 2 * votes[j] > cvw * inside(u, nu) ? 1 : 0;
      if (val !== src[w * area + j]) {
        mask[w * area + j] = val;
        changed++;
      }
    }
  }
  if (changed === 0) return { changed, kept: 0 };
  const r = keepSmallPieces(src.subarray(w * area, (w + 1) * area), mask.subarray(w * area, (w + 1) * area), nu, nv);
  return { changed: changed - r.voxels, kept: r.pieces };
}

/**
 * `postprocessStack` for an object cleaned before (an interactive session's next edit): the same result, slice
 * by slice, in the same box (the object and two voxels around it: nothing changes further away).
 * `keepConnected` and the pieces' sizes are found on the whole box; then a non-key slice whose neighbourhood
 * (itself and the slices next to it) is after `keepConnected` as it was in `memo`'s run, with the same big
 * pieces, and that was not a key slice then, gets `memo`'s result; the other slices are smoothed and filled
 * again. Returns the report and the memo for the next run (null for an empty stack).
 */
export function postprocessStackFrom(
  stack: { mask: Uint8Array; nu: number; nv: number; nw: number },
  keySlices: ReadonlySet<number>,
  options: PostprocessOptions = {},
  memo: PostprocessMemo | null = null,
): { report: PostprocessReport; memo: PostprocessMemo | null } {
  const { mask, nu, nv, nw } = stack;
  const o = { ...DEFAULT_POSTPROCESS, ...options };
  const box = boundingBox3d(mask, nu, nv, nw, 2);
  if (!box) return { report: emptyReport(o), memo: null };
  const words = JSON.stringify(o);
  const was = memo && memo.nu === nu && memo.nv === nv && memo.nw === nw && memo.options === words ? memo : null;
  const crop: Crop = { u0: box[0], v0: box[1], w0: box[2], nu: box[3] - box[0] + 1, nv: box[4] - box[1] + 1, nw: box[5] - box[2] + 1 };
  const { w0, nw: n } = crop;
  const area = crop.nu * crop.nv;
  const sub = copyCrop(mask, nu, nv, crop, null);
  const report: PostprocessReport = {};
  const saved = keySliceCopies(sub, area, n, [...keySlices].map((w) => w - w0));
  let pieces: Pieces | null = null;
  if (o.keepConnected) ({ pieces, report: report.keepConnected } = keepConnected(sub, crop.nu, crop.nv, n, saved.keys()));
  const src = sub.slice();
  const big = o.smooth ? bigPieces(pieces ?? connectedComponents(src, crop.nu, crop.nv, n, true)) : new Uint8Array(src.length);
  const changed = new Int32Array(n);
  const kept = new Int32Array(n);
  const filled = new Int32Array(n);
  const sameConnected = was && slabsOf(src, crop, was.connected, was.crop);
  const sameBig = was && slabsOf(big, crop, was.big, was.crop);
  for (let x = 0; x < n; x++) {
    if (saved.has(x) || emptySlab(src, area, n, x)) continue;
    const w = x + w0;
    if (was && sameConnected && sameBig && !was.keySlices.has(w) && sameConnected(w) && sameBig(w)) {
      copySlice(sub, crop, was.out, was.crop, w);
      const i = w - was.crop.w0;
      // A slice beyond the memo's box was empty there: nothing changed, nothing filled.
      if (i >= 0 && i < was.crop.nw) [changed[x], kept[x], filled[x]] = [was.changed[i], was.kept[i], was.filled[i]];
      continue;
    }
    if (o.smooth) ({ changed: changed[x], kept: kept[x] } = smoothSlice(src, big, sub, crop.nu, crop.nv, n, x));
    if (o.fillHoles) filled[x] = fillHoles2d(sub.subarray(x * area, (x + 1) * area), crop.nu, crop.nv);
  }
  const sum = (a: Int32Array): number => a.reduce((p, q) => p + q, 0);
  if (o.smooth) report.smooth = { changedVoxels: sum(changed), keptPieces: sum(kept) };
  if (o.fillHoles) report.fillHoles = { filledVoxels: sum(filled) };
  for (const [x, m] of saved) sub.set(m, x * area);
  if (o.continuity) report.continuity = { flaggedSlices: continuityFlags(sub, area, n, saved, o.continuityRatio).map((x) => x + w0) };
  copyCrop(mask, nu, nv, crop, sub);
  const keys = new Set([...keySlices].filter((w) => w >= 0 && w < nw));
  return { report, memo: { nu, nv, nw, options: words, keySlices: keys, crop, connected: src, big, out: sub.slice(), changed, kept, filled } };
}
