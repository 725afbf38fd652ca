/** Gap fusion: where both fronts of a gap reached a slice, one mask from their masks and the interpolation prior. */

/**
 * The fused mask on a slice at fraction `t` of the way from key slice a to key slice b: a vote of the front from
 * a (weight 1 - t), the front from b (weight t) and the prior (weight `priorVote`), normalised; a pixel is in
 * the object where the vote exceeds one half. Confidence: the fronts' confidences weighted the same way.
 */
export function fuseSlice(
  fromA: { mask: Uint8Array; confidence: number },
  fromB: { mask: Uint8Array; confidence: number },
  prior: Uint8Array,
  t: number,
  priorVote: number,
): { mask: Uint8Array; confidence: number } {
  const area = prior.length;
  const m = new Uint8Array(area);
  const norm = 1 / (1 + priorVote);
  for (let i = 0; i < area; i++) m[i] = vote(fromA.mask[i], fromB.mask[i], prior[i], t, priorVote, norm) > 0.5 ? 1 : 0;
  return { mask: m, confidence: (1 - t) * fromA.confidence + t * fromB.confidence };
}

/** The normalised vote of one pixel (see {@link fuseSlice}). */
function vote(a: number, b: number, p: number, t: number, priorVote: number, norm: number): number {
  return ((1 - t) * a + t * b + priorVote * p) * norm;
}

/**
 * Which front's mask alone is the fused mask at `t` whatever the other front and the prior say: `a` when the
 * front from a carries the vote over one half by itself and the other two together cannot (t below about
 * (1 - priorVote) / 2), `b` likewise near b, null in between. There the other front's mask is not needed.
 */
export function decidingFront(t: number, priorVote: number): 'a' | 'b' | null {
  const norm = 1 / (1 + priorVote);
  // The vote grows with each of the three masks: the extremes are the least vote with the front set and the
  // most without it.
  if (vote(1, 0, 0, t, priorVote, norm) > 0.5 && !(vote(0, 1, 1, t, priorVote, norm) > 0.5)) return 'a';
  if (vote(0, 1, 0, t, priorVote, norm) > 0.5 && !(vote(1, 0, 1, t, priorVote, norm) > 0.5)) return 'b';
  return null;
}
