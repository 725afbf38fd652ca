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
import { boundingBox3d, connectedComponents, neighbourhoodSum, fillHoles2d } from '../morphology/binary.js';

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

/**
 * Cleans `mask` (`mask[u + nu * (v + nv * w)]`, 0/1) in place. `keySlices` holds the indices of the key
 * slices (their content is restored as it was). The work is done in the object's 3D bounding box with a margin
 * of two voxels (cut to the stack), which gives the same result as the whole stack: no step can set a voxel
 * further than one voxel from the object, and the voxels at two count the same votes either way.
 */
export function postprocessStack(
  mask: Uint8Array,
  nu: number,
  nv: number,
  nw: number,
  keySlices: ReadonlySet<number>,
  options: PostprocessOptions = {},
): PostprocessReport {
  const box = boundingBox3d(mask, nu, nv, nw, 2);
  if (!box) return postprocessWhole(mask, nu, nv, nw, keySlices, options);
  const [u0, v0, w0, u1, v1, w1] = box;
  const bu = u1 - u0 + 1;
  const bv = v1 - v0 + 1;
  const bw = w1 - w0 + 1;
  if (bu * bv * bw > 0.8 * nu * nv * nw) return postprocessWhole(mask, nu, nv, nw, keySlices, options);
  const sub = new Uint8Array(bu * bv * bw);
  const copy = (into: boolean): void => {
    for (let w = 0; w < bw; w++) {
      for (let v = 0; v < bv; v++) {
        const s = u0 + nu * (v0 + v + nv * (w0 + w));
        const d = bu * (v + bv * w);
        if (into) mask.set(sub.subarray(d, d + bu), s);
        else sub.set(mask.subarray(s, s + bu), d);
      }
    }
  };
  copy(false);
  const keys = new Set([...keySlices].filter((w) => w >= w0 && w <= w1).map((w) => w - w0));
  const report = postprocessWhole(sub, bu, bv, bw, keys, options);
  copy(true);
  if (report.continuity) report.continuity.flaggedSlices = report.continuity.flaggedSlices.map((w) => w + w0);
  return report;
}

function postprocessWhole(
  mask: Uint8Array,
  nu: number,
  nv: number,
  nw: number,
  keySlices: ReadonlySet<number>,
  options: PostprocessOptions = {},
): PostprocessReport {
  const o = { ...DEFAULT_POSTPROCESS, ...options };
  const area = nu * nv;
  const report: PostprocessReport = {};
  const saved = new Map<number, Uint8Array>();
  for (const w of keySlices) if (w >= 0 && w < nw) saved.set(w, mask.slice(w * area, (w + 1) * area));

  // The 3D pieces after `keepConnected`: the ones it kept, as they were (dropping whole pieces leaves the others).
  let pieces: { ids: Int32Array; sizes: number[] } | null = null;
  if (o.keepConnected) {
    const { ids, sizes } = connectedComponents(mask, nu, nv, nw, true);
    const keep = new Uint8Array(sizes.length);
    for (const w of saved.keys()) {
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
    pieces = { ids, sizes: sizes.map((n, c) => (keep[c] ? n : 0)) };
    report.keepConnected = { removedComponents, removedVoxels };
  }
  if (o.smooth) {
    // 3D majority over the 3x3x3 neighbourhood (voxels outside the stack do not vote); key slices vote but do not
    // change. Slice-by-slice results disagree from one slice to the next where the boundary is faint; the
    // neighbouring slices settle it.
    const src = mask.slice();
    // Only around 3D pieces at least as big as a ball of radius 3 voxels (113 voxels): smaller ones (a lesion)
    // would be eroded away.
    const { ids, sizes } = pieces ?? connectedComponents(src, nu, nv, nw, true);
    const isBig = Uint8Array.from(sizes, (n, c) => (c > 0 && n >= SMOOTH_MIN_VOXELS ? 1 : 0));
    const big = new Uint8Array(src.length);
    for (let i = 0; i < src.length; i++) big[i] = isBig[ids[i]];
    const votes = neighbourhoodSum(src, nu, nv, nw);
    const nearBig = neighbourhoodSum(big, nu, nv, nw);
    // Voxels of the 3x3x3 neighbourhood inside the stack, per axis.
    const inside = (x: number, n: number): number => (x > 0 ? 1 : 0) + 1 + (x < n - 1 ? 1 : 0);
    let changedVoxels = 0;
    const changedOn = new Uint8Array(nw);
    for (let w = 0; w < nw; w++) {
      if (saved.has(w)) continue;
      const cw = inside(w, nw);
      for (let v = 0; v < nv; v++) {
        const cvw = cw * inside(v, nv);
        for (let u = 0; u < nu; u++) {
          const i = u + nu * (v + nv * w);
          if (!nearBig[i]) continue;
          const val = 2 * votes[i] > cvw * inside(u, nu) ? 1 : 0;
          if (val !== src[i]) {
            mask[i] = val;
            changedVoxels++;
            changedOn[w] = 1;
          }
        }
      }
    }
    // Small pieces (a lesion's cross-section, the tip of an ending object) would be voted away whole: a piece of
    // a slice that would lose more than half its voxels is kept as it was (a slice the vote left as it was has none).
    let keptPieces = 0;
    for (let w = 0; w < nw; w++) {
      if (saved.has(w) || !changedOn[w]) continue;
      const before = src.subarray(w * area, (w + 1) * area);
      const after = mask.subarray(w * area, (w + 1) * area);
      const { ids, sizes } = connectedComponents(before, nu, nv, 1, true);
      const kept = new Array<number>(sizes.length).fill(0);
      for (let i = 0; i < area; i++) if (ids[i] && after[i]) kept[ids[i]]++;
      for (let c = 1; c < sizes.length; c++) {
        if (2 * kept[c] >= sizes[c]) continue;
        keptPieces++;
        for (let i = 0; i < area; i++) {
          if (ids[i] === c && !after[i]) {
            after[i] = 1;
            changedVoxels--;
          }
        }
      }
    }
    report.smooth = { changedVoxels, keptPieces };
  }
  if (o.fillHoles) {
    let filledVoxels = 0;
    for (let w = 0; w < nw; w++) {
      if (saved.has(w)) continue;
      filledVoxels += fillHoles2d(mask.subarray(w * area, (w + 1) * area), nu, nv);
    }
    report.fillHoles = { filledVoxels };
  }
  for (const [w, m] of saved) mask.set(m, w * area);
  if (o.continuity) {
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
      if (a === 0 || b === 0 || areas[w] === 0 || saved.has(w)) continue;
      const mean = (a + b) / 2;
      const r = areas[w] / mean;
      if (r > o.continuityRatio || r < 1 / o.continuityRatio) flaggedSlices.push(w);
    }
    report.continuity = { flaggedSlices };
  }
  return report;
}
