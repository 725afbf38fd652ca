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
  for (let i = 0; i < area; i++) {
    const vote = ((1 - t) * fromA.mask[i] + t * fromB.mask[i] + priorVote * prior[i]) * norm;
    m[i] = vote > 0.5 ? 1 : 0;
  }
  return { mask: m, confidence: (1 - t) * fromA.confidence + t * fromB.confidence };
}
