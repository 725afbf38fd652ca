/** The rules that stop a front, reuse near-duplicate slices and skip redundant ones, with their defaults. */

export interface StopRules {
  /** A result below this confidence stops the front; that slice is not kept (default 0.5). */
  minConfidence: number;
  /** A result with less than this fraction of the previous slice's area stops the front after it (default 0.25). */
  collapseRatio: number;
  /** A result with less than this fraction of the key slice's area, or under 3 pixels, ends the object (default 0.02). */
  minAreaFraction: number;
  /** SSIM (windowed, around the object) below this between neighbouring slices is a break (default 0.1). */
  ssimBreak: number;
  /** Histogram distance above this between neighbouring slices is a break (default 0.5). */
  histogramBreak: number;
  /** SSIM at or above this makes the next slice a near-duplicate that reuses the mask (default 0.985). */
  duplicateSsim: number;
  /**
   * Beyond the outermost key slices: once a front's area has fallen below half the key slice's, an area above
   * this multiple of its smallest area so far stops it (default 1.3). Cross-sections of an ending object
   * shrink; regrowth means the front has slid onto a neighbouring structure: the front ends on its smallest
   * slice (the slices that grew back since, and this one, are not kept).
   */
  regrowthRatio: number;
  /**
   * Beyond the outermost key slices, the same for the engine's confidence: once the front's area has fallen below
   * three quarters of the key slice's on its least confident slice (the object tapers there), and that confidence
   * lies at least `confidenceFall` below the front's first step's (default 0.08), a result `confidenceRegrowth`
   * (default 0.03) or more above it, and a third of the fall, stops the front, which ends on that least confident
   * slice. The front passed the object's end there and is now on a neighbouring structure its models fit better
   * (the slices since, and this one, are not kept).
   */
  confidenceFall: number;
  confidenceRegrowth: number;
  /**
   * Beyond the outermost key slices, on a front whose area fell on its last step: a result whose low confidence
   * would stop the front is kept as the object's last slice (its tip) when its area is at most this fraction of
   * the previous slice's and its confidence at least `tipConfidence` (default 0.25). An object that tapers to its
   * end leaves a small cross-section on its last slice, which the engine sees with less certainty; a front that
   * stops on it ends one slice short.
   */
  tipRatio: number;
  /** The least confidence of a tip slice (see `tipRatio`; default 0.2). */
  tipConfidence: number;
  /**
   * A result whose low confidence would stop the front is kept as the front's last slice when its confidence is
   * within this margin of the front's own key mask's (see `ObjectSession.keyScore`; default 0.1). An object of
   * little contrast scores low under its own models even on its key slice: a next slice scored almost as well
   * is as much the object as the key slice is, and the front ends on it rather than one slice short.
   */
  keyConfidenceMargin: number;
  /** Weight of the interpolation prior's vote when two fronts are fused (the fronts' weights sum to 1; default 0.5). */
  priorVote: number;
  /**
   * Skipping redundant slices: where the next slice is predicted by its two neighbours at least this well (see
   * `predictability`, default 0.85), a front steps two slices at once and fills the one in between by shape
   * interpolation of the masks on both sides. Set above 1 to turn skipping off.
   */
  skipPredictability: number;
  /** A two-slice step is kept only when its mask agrees with the previous one at least this well (Dice, default 0.9). */
  skipAgreement: number;
}

export const DEFAULT_STOP_RULES: StopRules = {
  minConfidence: 0.5,
  collapseRatio: 0.25,
  minAreaFraction: 0.02,
  ssimBreak: 0.1,
  histogramBreak: 0.5,
  duplicateSsim: 0.985,
  regrowthRatio: 1.3,
  confidenceFall: 0.08,
  confidenceRegrowth: 0.03,
  tipRatio: 0.25,
  tipConfidence: 0.2,
  keyConfidenceMargin: 0.1,
  priorVote: 0.5,
  skipPredictability: 0.85,
  skipAgreement: 0.9,
};
