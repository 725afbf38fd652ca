/**
 * End error per object a key slice holds: where the truth of one label is several separate objects (lesions),
 * the key slices hold only some of them, and the label's end error (its first and last slice overall) mostly
 * says how far the untouched ones reach. This measures, for each connected component of the truth that holds a
 * voxel on a key slice, how far the prediction that follows it ends from it.
 */
import { connectedComponents } from '../morphology/binary.js';
import type { SliceGeometry, Vec3 } from '../volume/volume.js';

export interface KeyObjectEnds {
  /** Components of the truth (26-connected) with a voxel on a key slice. */
  touched: number;
  /**
   * The share of the truth's voxels in the touched components: on a label of separate lesions, the part of the
   * truth a propagation from the key slices can reach (a ceiling on its recall). Absent in older results.
   */
  heldShare?: number;
  /**
   * For each touched component the prediction overlaps: |predicted - true| first slice and last slice, where the
   * predicted extent is that of the prediction's components (26-connected) overlapping it. A touched component
   * the prediction misses has no entry.
   */
  ends: [number, number][];
}

/** The first and last slice of each component (index = component id; [Infinity, -Infinity] for id 0). */
function componentExtents(ids: Int32Array, count: number, sg: Pick<SliceGeometry, 'sw' | 'count'>): [number, number][] {
  const ext: [number, number][] = Array.from({ length: count + 1 }, () => [Infinity, -Infinity]);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (id === 0) continue;
    const w = Math.floor(i / sg.sw) % sg.count;
    const e = ext[id];
    if (w < e[0]) e[0] = w;
    if (w > e[1]) e[1] = w;
  }
  return ext;
}

/**
 * The end error of each truth component that a key slice holds (see {@link KeyObjectEnds}). `pred` and `truth`
 * are binary masks over the volume (`size`, x fastest); `sg` gives the slice axis.
 */
export function keyObjectEnds(
  pred: ArrayLike<number>,
  truth: ArrayLike<number>,
  size: Vec3,
  sg: Pick<SliceGeometry, 'sw' | 'count'>,
  keySlices: readonly number[],
): KeyObjectEnds {
  const [nx, ny, nz] = size;
  const t = connectedComponents(truth, nx, ny, nz, true);
  const p = connectedComponents(pred, nx, ny, nz, true);
  const keys = new Set(keySlices);
  const tExt = componentExtents(t.ids, t.sizes.length - 1, sg);
  const pExt = componentExtents(p.ids, p.sizes.length - 1, sg);
  // The prediction's components overlapping each truth component.
  const overlaps = new Map<number, Set<number>>();
  const touched = new Set<number>();
  for (let i = 0; i < t.ids.length; i++) {
    const id = t.ids[i];
    if (id === 0) continue;
    if (keys.has(Math.floor(i / sg.sw) % sg.count)) touched.add(id);
    const q = p.ids[i];
    if (q === 0) continue;
    let s = overlaps.get(id);
    if (!s) overlaps.set(id, (s = new Set()));
    s.add(q);
  }
  let all = 0;
  for (let id = 1; id < t.sizes.length; id++) all += t.sizes[id];
  let held = 0;
  for (const id of touched) held += t.sizes[id];
  const ends: [number, number][] = [];
  for (const id of [...touched].sort((a, b) => a - b)) {
    const over = overlaps.get(id);
    if (!over) continue;
    let first = Infinity;
    let last = -Infinity;
    for (const q of over) {
      first = Math.min(first, pExt[q][0]);
      last = Math.max(last, pExt[q][1]);
    }
    ends.push([Math.abs(first - tExt[id][0]), Math.abs(last - tExt[id][1])]);
  }
  return { touched: touched.size, heldShare: all > 0 ? held / all : 0, ends };
}
