/**
 * The contract between the propagation controller and an engine.
 *
 * The controller works on one object (label) at a time inside a region of interest (ROI): a stack of `count`
 * slices of `nu x nv` pixels cut out of the image along the slice axis. Every 2D array here is in ROI
 * coordinates, `a[u + nu * v]`; slice indices are the image's own 0-based indices along the slice axis.
 */
import type { KeySlice, LabelAnnotation } from '../annotations/types.js';

/** The image as the engine sees it: ROI slices, raw values and windowed to [0, 1]. */
export interface RoiImage {
  nu: number;
  nv: number;
  /** Number of slices (the image's, not cropped along the slice axis). */
  count: number;
  /** In-plane spacing (u, v) and slice spacing, mm. */
  du: number;
  dv: number;
  dw: number;
  /** Where the ROI's first pixel sits in the full slice (u, v; default 0, 0). */
  origin?: [number, number];
  /** Raw image values of slice w inside the ROI (shared: do not modify). */
  raw(w: number): Float32Array;
  /** Slice w inside the ROI, windowed to [0, 1] (shared: do not modify). */
  windowed(w: number): Float32Array;
}

/** A 2D result: mask (1 = object) and the engine's confidence in [0, 1]. */
export interface SliceResult {
  mask: Uint8Array;
  confidence: number;
  /** The engine's own word on this slice (for example "object score -2.1 <= 0: absent"), quoted in stop details. */
  note?: string;
}

/** The front a step belongs to: where it started, where it runs, and whether between key slices or outward. */
export interface FrontInfo {
  /** The key slice the front starts from. */
  key: number;
  /** +1 towards higher slice indices, -1 lower. */
  direction: 1 | -1;
  /** Whether the front runs between key slices with the interpolation prior (false: outward, no prior). */
  between: boolean;
}

/**
 * One step of a front: carry `mask` from slice `from` to slice `to` (the neighbouring slice, or the one after it
 * in a two-slice step).
 */
export interface PropagationStep {
  /** The front this step belongs to (the engine does not need to guess it from the slices or the prior). */
  front: FrontInfo;
  from: number;
  to: number;
  /** The mask on `from`. */
  mask: Uint8Array;
  /** Shape prior on `to` from interpolation of the key masks (fronts between key slices), else null. */
  prior: Uint8Array | null;
  /** The key slice this front started from, and its mask. */
  key: number;
  keyMask: Uint8Array;
}

/** An engine's state for one object. */
export interface ObjectSession {
  /** The 2D mask of a key slice from its box and/or points (mask prompts are taken as given by the controller). */
  segmentSlice(key: KeySlice): Promise<SliceResult>;
  /**
   * A key slice with a box cut again, knowing the other key slices' masks (drawn, or cut from their prompts): an
   * engine that learns the object's look from them where the box alone leaves it in doubt. Null: the first cut
   * stands. Called once every key slice has its first cut (`first`: this key slice's).
   */
  recutKeySlice?(
    key: KeySlice,
    others: readonly { index: number; mask: Uint8Array }[],
    first: SliceResult,
  ): Promise<SliceResult | null>;
  /** Called once every key mask is known, before any propagation. */
  learn?(keys: { index: number; mask: Uint8Array }[]): Promise<void> | void;
  /**
   * The engine's prediction for a step. It keeps nothing of it (memories, tracking state) until the controller
   * calls `commit` with it: a step the controller rejects leaves no trace.
   */
  propagate(step: PropagationStep): Promise<SliceResult>;
  /**
   * The key slices, besides the front's own, whose masks this front's results depend on (asked after `learn`).
   * Undefined: every key slice of the object (an engine that learns from all of them), unless the engine says
   * its fronts depend on nothing else (`SliceEngine.frontsIndependent`). A session keeps a front's outcome across
   * edits that leave these key slices as they were.
   */
  dependsOn?(front: FrontInfo): number[];
  /**
   * The confidence the engine's propagation would give the front's own key mask on its key slice: how sure the
   * engine is of the object where it is known. A yardstick for the front's results (see
   * `StopRules.keyConfidenceMargin`); asked only when a result's confidence would stop the front.
   */
  keyScore?(front: FrontInfo, keyMask: Uint8Array): number;
  /** The controller keeps the result of this step (called right after `propagate`, before any other step). */
  commit?(step: PropagationStep, result: SliceResult): Promise<void> | void;
  /** Free resources. */
  close?(): void;
}

/** Counters of an engine's work (model calls, seconds, cache hits), kept per run by the caller. */
export type EngineUsage = Record<string, number>;

/**
 * What a caller keeps across runs on the same image and region of interest (an interactive session): an engine
 * asks it for what it derives from one key slice's mask alone, named by `what` (the kind of value and every
 * setting it depends on), and the caller computes it only when it keeps none. The value is shared: read only.
 */
export interface KeyDerived {
  get<T>(which: { what: string; index: number; mask: Uint8Array }, compute: () => T, bytes: (value: T) => number): T;
}

/**
 * What a caller keeps across runs on the same image and region of interest (an interactive session, which sets
 * the image once): an engine asks it for what it derives from one slice of the image alone (a denoised slice),
 * named by `what` (the kind of value and every setting it depends on), and the caller computes it only when it
 * keeps none. Given only by a caller that keeps values: without it, an engine derives only what a run needs.
 * The value is shared: read only.
 */
export interface SliceDerived {
  get<T>(which: { what: string; slice: number }, compute: () => T, bytes: (value: T) => number): T;
}

/** What a run gives an engine when it opens an object: the counters to add its work to, and what a caller keeps. */
export interface EngineRun {
  usage: EngineUsage;
  keyDerived?: KeyDerived;
  sliceDerived?: SliceDerived;
}

export interface SliceEngine {
  name: string;
  description: string;
  /** A session for one object in `image`; its work is counted in `run.usage` (one set of counters per run). */
  open(image: RoiImage, run?: EngineRun): Promise<ObjectSession>;
  /** A fresh set of counters for a run (engines that count their work: the model engines). */
  newUsage?(): EngineUsage;
  /**
   * What a slice between two key slices gets when no front reached it: the interpolation prior (default) or
   * nothing.
   */
  gapFallback?: 'prior' | 'none';
  /**
   * How the prior between key slices is interpolated: `shape` (default: centroid-aligned cubic interpolation of
   * signed distance maps, `src/interpolation/shape.ts`) or `mci` (ITK morphological contour interpolation).
   */
  interpolation?: Interpolation;
  /**
   * False for engines that do not look at the image: the controller then skips the slice-similarity checks
   * (no similarity breaks, no reuse of near-duplicate slices). Default true.
   */
  imageGuided?: boolean;
  /**
   * An engine whose run over the same key slices bounds the fronts beyond the outermost key slices: they stop
   * where its object ends (reason `extent`). Model engines use the classic engine, because a single-image model
   * finds something on every slice and its confidence does not fall where the object ends.
   */
  extentEngine?: SliceEngine;
  /**
   * True when a front's result depends only on its plan, its key slice's mask, the prior on its slices and the
   * region of interest: not on the object's other key slices (as an engine that learns from all of them does)
   * nor on what the object session did before. A session then keeps such fronts across edits. Default false.
   */
  frontsIndependent?: boolean;
  /** Notes on how this engine reads a label's prompts (for the report). */
  promptNotes?(label: LabelAnnotation): string[];
}

/** Interpolation of the key masks that gives the prior between key slices. */
export type Interpolation = 'shape' | 'mci';

/** Why a front stopped. */
export type StopReason =
  | 'key-slice' // reached the next key slice (fronts never cross one)
  | 'absent' // the next key slice says the object is absent there
  | 'range' // the user's slice range ends
  | 'extent' // beyond the outermost key slices: the extent engine's object ends here
  | 'volume-edge' // the image ends
  | 'object-ended' // the engine found (almost) nothing on the next slice
  | 'area-collapse' // the area fell sharply from one slice to the next (the last slice is kept)
  | 'area-regrowth' // beyond the outermost key slices, the area grew again after shrinking (the front ends on its smallest slice)
  | 'confidence-regrowth' // beyond the outermost key slices, the confidence rose again after falling while the area shrank (the front ends on its least confident slice)
  | 'low-confidence' // the engine's confidence fell below the threshold (that slice is not kept)
  | 'similarity-break' // the next slice differs too much from the current one (SSIM / histogram distance)
  | 'gap-covered' // between key slices: the other front's mask alone decides the rest of the gap's fusion
  | 'other-label'; // beyond the outermost key slices, the mask lay mostly on another label better founded there

export interface FrontReport {
  /** Key slice the front started from. */
  from: number;
  direction: 1 | -1;
  /** Last slice the front wrote, or null when it wrote none. */
  last: number | null;
  slices: number;
  stop: StopReason;
  /** Figures behind the stop (area, confidence, ssim...). */
  detail?: string;
}

export type SliceSource = 'key' | 'propagated' | 'fused' | 'interpolated' | 'none';

export interface SliceReport {
  slice: number;
  source: SliceSource;
  /** Key slice(s) the mask came from (two for a fused slice). */
  from: number[];
  confidence: number;
  /** Pixels of the object on this slice in the output. */
  area: number;
  /** The engine was skipped: the slice is a near-duplicate of its neighbour and reuses its mask. */
  reused?: boolean;
  /** The engine was skipped: the slice was redundant and interpolated between the masks on both sides. */
  skipped?: boolean;
}
