/**
 * Sparse annotations: what a user said about a few key slices, per label.
 *
 * Slice indices are 0-based along the slice axis. In-plane coordinates `[i, j]` are 0-based voxel indices of
 * the two in-plane axes in increasing axis order (for slice axis 2: i along axis 0, j along axis 1).
 */
import type { SliceAxis } from '../volume/volume.js';

/** `[i0, j0, i1, j1]`, inclusive corners. */
export type Box = [number, number, number, number];
export type Point = [number, number];

/** Everything said about one label on one key slice. Several prompt kinds may be combined. */
export interface KeySlice {
  /** Slice index along the slice axis. */
  index: number;
  /** The object is not on this slice: a hard stop for propagation. */
  empty: boolean;
  /** A drawn 2D mask (nu x nv, 1 = object), taken as given. */
  mask?: Uint8Array;
  /** One box around the object on this slice. */
  box?: Box;
  /**
   * Several boxes, one per instance of the object on this slice (each lesion of a scattered disease, say): each
   * is segmented as a slice with that box alone would be, and the slice's mask is their union. Not given with
   * `box`.
   */
  boxes?: Box[];
  points: Point[];
  negativePoints: Point[];
  /**
   * Pixels (nu x nv, 1 = excluded) where the object is not: other labels' drawn masks on this slice. Set by the
   * session for a key slice with a box or points (see `withOtherLabels`), not by a user.
   */
  excluded?: Uint8Array;
}

export interface LabelAnnotation {
  /** Label value written to the output volume (1..65535). */
  value: number;
  name?: string;
  /** RGB, 0..255. */
  color?: [number, number, number];
  /** Key slices sorted by index, at most one per index. */
  keySlices: KeySlice[];
}

export interface Annotations {
  /** Axis along which the key slices lie. */
  axis: SliceAxis;
  /** Labels sorted by value. */
  labels: LabelAnnotation[];
}

export function emptyKeySlice(index: number): KeySlice {
  return { index, empty: false, points: [], negativePoints: [] };
}

/** True when the key slice says something about where the object is (not just that it is absent). */
export function hasObjectPrompt(k: KeySlice): boolean {
  return !k.empty && (k.mask !== undefined || keyBoxes(k).length > 0 || k.points.length > 0);
}

/** The boxes of a key slice: `boxes`, or its one `box`, or none. */
export function keyBoxes(k: Pick<KeySlice, 'box' | 'boxes'>): Box[] {
  return k.boxes ?? (k.box ? [k.box] : []);
}

function inBox([i, j]: Point, [i0, j0, i1, j1]: Box): boolean {
  return i >= i0 && i <= i1 && j >= j0 && j <= j1;
}

/**
 * A key slice with several boxes as one key slice per box, each segmented alone (the caller unions their
 * masks): a box takes the positive points inside it and every negative point; positive points inside no box
 * make one more key slice of points alone. A key slice without `boxes` comes back as it is.
 */
export function perBoxKeySlices(k: KeySlice): KeySlice[] {
  if (k.boxes === undefined || k.empty || k.mask) return [k];
  const { boxes, ...rest } = k;
  const out: KeySlice[] = boxes.map((box) => ({ ...rest, box, points: k.points.filter((p) => inBox(p, box)), negativePoints: [...k.negativePoints] }));
  const loose = k.points.filter((p) => !boxes.some((b) => inBox(p, b)));
  if (loose.length > 0) out.push({ ...rest, points: loose, negativePoints: [...k.negativePoints] });
  return out;
}
