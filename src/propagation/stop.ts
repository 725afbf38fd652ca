/**
 * The stop decision of a front: pure functions of the front's state record, the rules and the figures of the
 * next slice. A result is first checked before it is kept (`rejects`: that slice is not written), then after
 * (`collapses`: the slice is written and the front ends).
 */
import type { StopRules } from './rules.js';
import type { StopReason } from './types.js';

/** The figures of a front the stop decision reads. */
export interface StopState {
  /** Whether the front runs between key slices (no regrowth rule there). */
  between: boolean;
  /**
   * Whether the front carries several objects apart (lesions, see `holdsObjectsApart`): its area and confidence
   * fall as each object ends, and no confidence regrowth rule applies.
   */
  severalObjects: boolean;
  /** Area of the key slice the front started from, and the least area an object slice may have. */
  keyArea: number;
  minArea: number;
  /** Area of the last slice written, and the smallest area the front has written (on slice `smallestAt`). */
  prevArea: number;
  smallest: number;
  smallestAt: number;
  /** Whether the front's area fell on its last step (true on the key slice): the object is tapering. */
  shrinking: boolean;
  /** Confidence of the engine's first result the front wrote (null before). */
  firstConfidence: number | null;
  /** The least confidence of the engine's results the front wrote (1 before), that slice and its area. */
  leastConfidence: number;
  leastConfidenceAt: number;
  leastConfidenceArea: number;
}

export type StopDecision = [StopReason, string] | null;

/**
 * The area regrowth rule acts only once the front's object has shrunk below this fraction of its key slice's
 * area: the area alone is its evidence, and an area that grows back before that is the object's own change of
 * shape (a lobe that joins).
 */
const AREA_SHRUNK_FRACTION = 0.5;

/**
 * The confidence regrowth rule acts only where the object had shrunk below this fraction of its key slice's area
 * on the front's least confident slice: the object was tapering there. The rule has evidence of its own (a fall
 * and a rise of the engine's confidence), so the area need only show the taper, not most of the object gone.
 */
const CONFIDENCE_SHRUNK_FRACTION = 0.75;

/**
 * The share of its fall a front's confidence must regain for the confidence regrowth rule (beside the rule's
 * `confidenceRegrowth`): a front that left the object for a neighbour its models fit better regains much of what it
 * lost; a smaller rise is the confidence's own wobble along a tapering object (a model's score wobbles more than
 * the classic engine's posterior).
 */
const REGAINED_SHARE = 1 / 3;

const fmt = (x: number): string => x.toFixed(3);

/** The least area a slice of the object may have: `minAreaFraction` of the key slice's, at least 3 pixels. */
export function minAreaOf(keyArea: number, rules: Pick<StopRules, 'minAreaFraction'>): number {
  return Math.max(3, rules.minAreaFraction * keyArea);
}

/** A similarity break between the current slice and the next one, or null. */
export function similarityBreak(from: number, to: number, sim: { ssim: number; hist: number }, rules: StopRules): StopDecision {
  if (sim.ssim < rules.ssimBreak || sim.hist > rules.histogramBreak) {
    return ['similarity-break', `slice ${from}→${to}: ssim ${fmt(sim.ssim)}, histogram distance ${fmt(sim.hist)}`];
  }
  return null;
}

/** Why a result on slice w (area `area`) stops the front before it is kept, or null. */
export function rejects(s: StopState, w: number, r: { confidence: number; note?: string }, area: number, rules: StopRules): StopDecision {
  const note = r.note ? ` (${r.note})` : '';
  if (area < s.minArea) return ['object-ended', `slice ${w}: area ${area} px < ${fmt(s.minArea)}${note}`];
  if (r.confidence < rules.minConfidence) return ['low-confidence', `slice ${w}: confidence ${fmt(r.confidence)} < ${rules.minConfidence}${note}`];
  if (!s.between && s.smallest < AREA_SHRUNK_FRACTION * s.keyArea && area > rules.regrowthRatio * s.smallest) {
    return ['area-regrowth', `slice ${w}: area ${area} px > ${rules.regrowthRatio} x ${s.smallest} px after shrinking`];
  }
  if (regainsConfidence(s, r.confidence, rules)) {
    return [
      'confidence-regrowth',
      `slice ${w}: confidence ${fmt(r.confidence)} after ${fmt(s.leastConfidence)} on slice ${s.leastConfidenceAt} (first step ${fmt(s.firstConfidence ?? 0)})`,
    ];
  }
  return null;
}

/**
 * Whether a result of confidence `confidence` shows a front beyond the outermost key slices regaining confidence
 * after passing the object's end (see `StopRules.confidenceFall`): its least confident slice so far lies
 * `confidenceFall` below its first step's, the object had shrunk below three quarters of the key slice's area
 * there (`CONFIDENCE_SHRUNK_FRACTION`), and this result lies `confidenceRegrowth` above it and has regained a third
 * of the fall (`REGAINED_SHARE`). Not on a front that carries several objects apart: each that ends lowers its
 * area and confidence.
 */
export function regainsConfidence(
  s: Pick<StopState, 'between' | 'severalObjects' | 'keyArea' | 'firstConfidence' | 'leastConfidence' | 'leastConfidenceArea'>,
  confidence: number,
  rules: Pick<StopRules, 'confidenceFall' | 'confidenceRegrowth'>,
): boolean {
  if (s.between || s.severalObjects || s.firstConfidence === null) return false;
  if (s.leastConfidence > s.firstConfidence - rules.confidenceFall || s.leastConfidenceArea >= CONFIDENCE_SHRUNK_FRACTION * s.keyArea) return false;
  const fall = s.firstConfidence - s.leastConfidence;
  return confidence >= s.leastConfidence + Math.max(rules.confidenceRegrowth, REGAINED_SHARE * fall);
}

/**
 * Whether a result that `rejects` stopped for `reason` is still kept as the front's last slice: beyond the
 * outermost key slices, on a front whose area fell on its last step, a `low-confidence` result with at most
 * `tipRatio` of the previous slice's area and a confidence of at least `tipConfidence` is the tapering object's
 * tip.
 */
export function keepsTip(s: StopState, r: { confidence: number }, area: number, reason: StopReason, rules: Pick<StopRules, 'tipRatio' | 'tipConfidence'>): boolean {
  if (s.between || !s.shrinking || reason !== 'low-confidence') return false;
  return r.confidence >= rules.tipConfidence && area <= rules.tipRatio * s.prevArea;
}

/**
 * Whether a front that found nothing of the object on the slice next to its own key slice (`object-ended` on its
 * first step) beyond the outermost key slices still writes that slice a tip (see `keyTip`): an object seldom ends
 * on the slice a user draws it on, and a section too small for an image-guided engine's cut is still there. An
 * engine that does not look at the image (`imageGuided` false: interpolation, key slices only) finds nothing
 * beyond the key slices by design.
 */
export function endsOnKeyTip(s: Pick<StopState, 'between'>, from: number, key: number, reason: StopReason, imageGuided: boolean): boolean {
  return imageGuided && !s.between && foundNothingBesideKey(from, key, reason);
}

/**
 * Whether a front that carries several objects apart in the slice (lesions, see `holdsObjectsApart`) and found
 * none of them on slice w after one or more steps still writes w the tips of the parts it had on the slice before
 * (see `partTips`). Each object seldom ends abruptly; the first step is `endsOnKeyTip`'s, or the gap's.
 */
export function endsOnPartTips(severalObjects: boolean, from: number, key: number, reason: StopReason): boolean {
  return severalObjects && from !== key && reason === 'object-ended';
}

/**
 * Whether a front stopped on its first step because the slice next to its key slice showed nothing of the object
 * (`from`: the slice it stepped from; `key`: its key slice). Beyond the outermost key slices the front itself then
 * writes the key mask's core there (`endsOnKeyTip`); between key slices the gap's assembly does, where the gap is
 * left empty (`gapTips` in `controller.ts`).
 */
export function foundNothingBesideKey(from: number, key: number, reason: StopReason): boolean {
  return from === key && reason === 'object-ended';
}

/**
 * Whether a result that `rejects` stopped for `reason` is still kept as the front's last slice: beyond the
 * outermost key slices, a `low-confidence` result whose confidence is within `keyConfidenceMargin` of the score of
 * the front's own key mask (`keyScore`). Between key slices a front stopped early leaves its gap to the other
 * front and the prior.
 */
export function keepsNearKey(
  s: Pick<StopState, 'between'>,
  r: { confidence: number },
  reason: StopReason,
  keyScore: number,
  rules: Pick<StopRules, 'keyConfidenceMargin'>,
): boolean {
  return !s.between && reason === 'low-confidence' && r.confidence >= keyScore - rules.keyConfidenceMargin;
}

/**
 * The last slice a front that stopped for `reason` keeps: after an area regrowth, the slice of its smallest area
 * (the slices written since grew back towards the neighbouring structure the front slid onto); after a
 * confidence regrowth, its least confident slice; else `last`.
 */
export function lastKept(s: Pick<StopState, 'smallestAt' | 'leastConfidenceAt'>, reason: StopReason, last: number): number {
  if (reason === 'area-regrowth') return s.smallestAt;
  if (reason === 'confidence-regrowth') return s.leastConfidenceAt;
  return last;
}

/** Whether a kept result on slice w ends the front: its area fell below `collapseRatio` of the previous one. */
export function collapses(s: StopState, w: number, area: number, rules: StopRules): StopDecision {
  if (area < rules.collapseRatio * s.prevArea) return ['area-collapse', `slice ${w}: area ${area} px < ${rules.collapseRatio} x ${s.prevArea} px`];
  return null;
}

/** Whether a two-slice step's far result may be kept: nothing stops it, its area held, its mask agrees (Dice). */
export function keepsSkip(s: StopState, w2: number, r: { confidence: number; note?: string }, area: number, agreement: number, rules: StopRules): boolean {
  return !rejects(s, w2, r, area, rules) && area >= rules.collapseRatio * s.prevArea && agreement >= rules.skipAgreement;
}

/**
 * Whether a two-slice step is worth trying: the last step's masks agree well enough that two steps should still
 * agree at `skipAgreement`, no back-off is pending, and the slice in between is predicted by its neighbours.
 */
export function triesSkip(lastAgreement: number, backoff: number, predictability: () => number, rules: StopRules): boolean {
  return backoff === 0 && lastAgreement >= 1 - 0.5 * (1 - rules.skipAgreement) && predictability() >= rules.skipPredictability;
}
