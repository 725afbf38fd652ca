/**
 * 3D clean-up of one object's stack of slices, each step switchable and reported. Key slices are never
 * changed.
 * - keepConnected: keep the 3D components (26-connectivity) that touch a key slice's mask, drop the rest;
 * - fillHoles: fill holes slice by slice (background not connected to the slice border);
 * - smooth: 3x3 in-plane majority filter on each non-key slice (off by default);
 * - continuity: flag slices whose area jumps against both neighbours (more than `continuityRatio` times, or
 *   less than 1 / `continuityRatio` times their mean); flags only, nothing is changed.
 */
import { connectedComponents, fillHoles2d } from '../morphology/binary.js';

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
  smooth: false,
  continuity: true,
  continuityRatio: 2,
};

export interface PostprocessReport {
  keepConnected?: { removedComponents: number; removedVoxels: number };
  fillHoles?: { filledVoxels: number };
  smooth?: { changedVoxels: number };
  continuity?: { flaggedSlices: number[] };
}

/**
 * Cleans `mask` (`mask[u + nu * (v + nv * w)]`, 0/1) in place. `keySlices` holds the indices of the key
 * slices (their content is restored as it was).
 */
export function postprocessStack(
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
    report.keepConnected = { removedComponents, removedVoxels };
  }
  if (o.fillHoles) {
    let filledVoxels = 0;
    for (let w = 0; w < nw; w++) {
      if (saved.has(w)) continue;
      filledVoxels += fillHoles2d(mask.subarray(w * area, (w + 1) * area), nu, nv);
    }
    report.fillHoles = { filledVoxels };
  }
  if (o.smooth) {
    let changedVoxels = 0;
    const src = new Uint8Array(area);
    for (let w = 0; w < nw; w++) {
      if (saved.has(w)) continue;
      const s = mask.subarray(w * area, (w + 1) * area);
      src.set(s);
      for (let v = 0; v < nv; v++) {
        for (let u = 0; u < nu; u++) {
          let n = 0;
          let c = 0;
          for (let dv = -1; dv <= 1; dv++) {
            for (let du = -1; du <= 1; du++) {
              const uu = u + du;
              const vv = v + dv;
              if (uu < 0 || vv < 0 || uu >= nu || vv >= nv) continue;
              c++;
              n += src[uu + nu * vv];
            }
          }
          const val = 2 * n > c ? 1 : 0;
          if (val !== src[u + nu * v]) {
            s[u + nu * v] = val;
            changedVoxels++;
          }
        }
      }
    }
    report.smooth = { changedVoxels };
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
