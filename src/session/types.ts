/**
 * An interactive segmentation session: the image is set once (window, geometry, caches), then the user edits
 * key slices label by label and propagates; only what an edit changed is computed again. The same interface
 * serves the command line, a server, a web app and batch jobs.
 *
 * Slice indices are 0-based along the session's slice axis; masks and in-plane coordinates are in the full
 * slice (`nu x nv` of `SliceGeometry`, `mask[u + nu * v]`).
 */
import type { Box, Point } from '../annotations/types.js';
import type { IntensityWindow } from '../analysis/window.js';
import type { SegmentReport } from '../pipeline/segment.js';
import type { PostprocessOptions } from '../propagation/postprocess.js';
import type { StopRules } from '../propagation/rules.js';
import type { Interpolation, SliceEngine } from '../propagation/types.js';
import type { Suggestion } from '../suggest/plan.js';
import type { LabelArray, SliceAxis, Volume } from '../volume/volume.js';

export type { Suggestion } from '../suggest/plan.js';

export interface SessionOptions {
  /** Axis the key slices lie along (default: the image's default slice axis, its coarsest). */
  axis?: SliceAxis;
  /** Engine name (default `classic`) or an engine object; a model engine's model may serve several sessions. */
  engine?: string | SliceEngine;
  /** Inclusive slice range [first, last] to propagate within (key slices are kept anyway). */
  range?: [number, number];
  stopRules?: Partial<StopRules>;
  /** Interpolation of the key masks for the prior between key slices (default: the engine's, else `shape`). */
  interpolation?: Interpolation;
  postprocess?: PostprocessOptions;
  /** Bound the outward fronts by a run of the engine's extent engine, when it has one (default true). */
  useExtentEngine?: boolean;
  /** Intensity window for slice similarity (default: chosen from the image once). */
  window?: IntensityWindow;
  /** Edits that can be undone (default 100, at least 50). */
  historyLimit?: number;
  /**
   * Bytes of computed results kept for reuse across edits (default 512 MiB), in shares: labels 5/16, fronts 6/16,
   * gap interpolations 2/16, key masks' distance maps 1/16, what engines derive from key slices 1/32, the fronts'
   * comparisons of slices 1/32, slices of the image as the fronts compare them and the engines denoise them
   * 1/16 (32 MiB by default; the least recently used go first).
   * 0 keeps nothing (a from-scratch run).
   */
  cacheBytes?: number;
  /**
   * What an edit may reuse. `exact` (default): a label's result when its key slices are unchanged, and a front's
   * outcome when its inputs and the other key slices its engine says it depends on (`ObjectSession.dependsOn`)
   * are unchanged; the labels always equal a from-scratch `segment()`. `fronts`: every front whose own inputs are
   * unchanged (its key slice and mask, direction, limits, the prior on its slices, the region of interest) is
   * reused, even for engines that learn from every key slice, and a label's region of interest only grows during
   * the session; faster, and close to but not always equal to `segment()`.
   */
  reuse?: 'exact' | 'fronts';
}

/** A label by value, optionally with a name (set on first use). */
export type LabelRef = number | { value: number; name?: string };

/**
 * What the user says on a key slice: a drawn mask (taken as given), a box (or `boxes`, one per instance of the
 * object on the slice) and/or points for the engine to segment, or that the object is absent there.
 */
export type KeySlicePrompt =
  | { mask: Uint8Array }
  | { box?: Box; boxes?: Box[]; points?: Point[]; negativePoints?: Point[] }
  | { absent: true };

/** The state after an edit (or an undo / redo): a number that grows with every edit, and what changed. */
export interface Revision {
  id: number;
  /** The edit, in words ("label 1: key slice 12 set (mask)"). */
  edit: string;
  /** Labels whose key slices changed. */
  labels: number[];
}

/** Where a slice's mask came from. */
export type UpdateSource = 'key' | 'front' | 'fused' | 'prior' | 'none';

/** One slice of one label as `propagate` decides it. */
export interface SliceUpdate {
  label: number;
  slice: number;
  source: UpdateSource;
  /** The slice's mask in the label's final result (full slice, 1 = object), after post-processing. */
  mask: Uint8Array;
  /** Box around the mask ([u0, v0, u1, v1] inclusive), or null when it is empty. */
  box: [number, number, number, number] | null;
  confidence: number;
  /** Whether this slice came from the session's cache (the label or front did not change). */
  cached: boolean;
  /**
   * Whether this is the slice's mask in the label's final result. A front's update as it reaches a slice is
   * provisional (false); the final result follows for that slice only where its mask differs, so no mask is
   * sent twice and the last update of each slice is the label's result there.
   */
  final: boolean;
  /** Labels done and in all, so far in this propagation. */
  done: number;
  total: number;
}

export interface PropagateOptions {
  /** Labels to propagate (default: every label whose key slices changed since its last propagation). */
  labels?: number[];
  /** Stops the propagation between slices; the session keeps what it completed and stays usable. */
  signal?: AbortSignal;
  /** Hears each label as it is done. */
  onLabel?(p: { done: number; total: number; label: number; name?: string }): void;
  /** Hears each engine call of a label's propagation, with the slice it was for. */
  onStep?(p: { label: number; slice: number }): void;
  /**
   * Whether slice updates are yielded (default true). false: a caller that reads the merged labels afterwards
   * gets none, and a local session neither copies nor keeps whole slices for them (a large scan's fronts then
   * cost their masks only).
   */
  updates?: boolean;
}

/**
 * A session, local (`openSession`) or on a `keyslice serve` server (`RemoteSession`): one interface, so
 * code written against one runs against the other unchanged. Every operation answers with a promise (an edit
 * is applied when it is called, in call order; its promise settles with the new revision, or rejects with the
 * named error and leaves the session as it was); a propagation is an async iterable of slice updates.
 */
export interface Session {
  /** The image's slice axis and slice geometry (count, nu, nv). */
  readonly axis: SliceAxis;
  readonly count: number;
  readonly nu: number;
  readonly nv: number;
  setKeySlice(label: LabelRef, slice: number, key: KeySlicePrompt): Promise<Revision>;
  removeKeySlice(label: number, slice: number): Promise<Revision>;
  /** A corrected slice becomes a key slice with the given mask. */
  correct(label: number, slice: number, mask: Uint8Array): Promise<Revision>;
  /** Removes a label and its key slices. */
  removeLabel(label: number): Promise<Revision>;
  /** Propagates the labels that need it, yielding each slice as it is decided. */
  propagate(options?: PropagateOptions): AsyncIterable<SliceUpdate>;
  /** Steps back one edit (null when there is none). */
  undo(): Promise<Revision | null>;
  redo(): Promise<Revision | null>;
  /** The current revision. */
  revision(): Promise<Revision>;
  /** Labels whose key slices changed since they were last propagated. */
  pending(): Promise<number[]>;
  /** The label volume from the last propagation of each label (labels with no key slice left are empty). */
  labels(): Promise<Volume<LabelArray>>;
  report(): Promise<SegmentReport>;
  /** The next slices to annotate per label (see `keyslice suggest`), from the last propagation. */
  suggest(budget?: number): Promise<{ label: number; suggestions: Suggestion[] }[]>;
  /** The key slices of a label as the engine sees them (sorted by slice). */
  keySlices(label: number): Promise<{ slice: number; kind: 'mask' | 'prompt' | 'absent' }[]>;
  close(): Promise<void>;
}
