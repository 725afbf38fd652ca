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
  box?: Box;
  points: Point[];
  negativePoints: Point[];
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
  return !k.empty && (k.mask !== undefined || k.box !== undefined || k.points.length > 0);
}
