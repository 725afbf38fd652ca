/**
 * A simulated annotator: picks key slices of a known object and draws the prompts a person would, from the
 * truth. Used by the demo and the benchmark so both follow one protocol.
 */
import type { Box, KeySlice, LabelAnnotation } from '../annotations/types.js';
import { emptyKeySlice } from '../annotations/types.js';
import type { SliceGeometry } from '../volume/volume.js';

export type PromptKind = 'mask' | 'box';

/** Per-slice voxel count of `value` along the slice axis. */
export function sliceAreas(labels: ArrayLike<number>, sg: SliceGeometry, value: number): number[] {
  const areas: number[] = [];
  for (let w = 0; w < sg.count; w++) areas.push(sg.countEqual(labels, w, value));
  return areas;
}

/**
 * Key slices for a budget of k, from the object's per-slice areas:
 * - k = 1: the slice of largest area (ties: lowest index);
 * - k >= 2: floor(zmin + (i + 0.5) * (zmax - zmin + 1) / k) for i = 0..k-1, duplicates dropped, where
 *   zmin..zmax are the slices holding the object. The object's ends are not given, as with a real annotator.
 * Returns [] when the object is absent.
 */
export function selectKeySlices(areas: readonly number[], k: number): number[] {
  if (!Number.isInteger(k) || k < 1) throw new Error(`budget must be a whole number >= 1, got ${k}`);
  let zmin = -1;
  let zmax = -1;
  let best = -1;
  for (let z = 0; z < areas.length; z++) {
    if (areas[z] <= 0) continue;
    if (zmin < 0) zmin = z;
    zmax = z;
    if (best < 0 || areas[z] > areas[best]) best = z;
  }
  if (zmin < 0) return [];
  if (k === 1) return [best];
  const n = zmax - zmin + 1;
  const out = new Set<number>();
  for (let i = 0; i < k; i++) out.add(Math.floor(zmin + ((i + 0.5) * n) / k));
  return [...out].sort((a, b) => a - b);
}

/** Tight inclusive 2D box of the non-zero values of a slice, or null when empty. */
export function tightBox(mask: ArrayLike<number>, nu: number, nv: number): Box | null {
  let i0 = nu;
  let j0 = nv;
  let i1 = -1;
  let j1 = -1;
  for (let j = 0; j < nv; j++) {
    for (let i = 0; i < nu; i++) {
      if (!mask[i + nu * j]) continue;
      if (i < i0) i0 = i;
      if (i > i1) i1 = i;
      if (j < j0) j0 = j;
      if (j > j1) j1 = j;
    }
  }
  return i1 < 0 ? null : [i0, j0, i1, j1];
}

/**
 * The annotation a simulated user gives for one object on the chosen key slices: the truth mask (kind 'mask')
 * or its tight box (kind 'box'); a key slice where the object is absent says "empty".
 */
export function simulateLabel(
  truth: ArrayLike<number>,
  sg: SliceGeometry,
  value: number,
  keySlices: readonly number[],
  kind: PromptKind,
): LabelAnnotation {
  const keys: KeySlice[] = keySlices.map((w) => {
    const mask = sg.maskOf(truth, w, value);
    const k = emptyKeySlice(w);
    if (mask === null) k.empty = true;
    else if (kind === 'mask') k.mask = mask;
    else k.box = tightBox(mask, sg.nu, sg.nv) as Box;
    return k;
  });
  return { value, keySlices: keys };
}
