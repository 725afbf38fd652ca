/**
 * Where the hybrid engine asks the model: a step beyond the outermost key slices is first cut without it, and that
 * cut stands where the classic engine is sure of it and it keeps the shape it was cut from. The model's encoder
 * run (most of a model step's cost) is then spent where the image and the shape prior leave the cut open: where
 * the object changes fast (its ends, a branch) or its intensities blur into the surroundings.
 */
import { maskDice } from '../../propagation/front.js';
import type { SliceResult } from '../../propagation/types.js';

export interface ModelGate {
  /**
   * The least confidence of a classic cut that stands: the mean posterior of the front's object model over the
   * cut's pixels (the classic engine's `confidence`).
   */
  confidence: number;
  /** The least Dice between the cut and the mask it was cut from (the previous slice's). */
  agreement: number;
}

/**
 * Whether a classic cut stands without the model: it holds the object (not empty), its confidence reaches
 * `gate.confidence` and its Dice with `shape` (the mask it was cut from) reaches `gate.agreement`.
 */
export function cutStands(cut: SliceResult, shape: Uint8Array, gate: ModelGate): boolean {
  if (cut.confidence < gate.confidence) return false;
  const d = maskDice(cut.mask, shape);
  return d >= gate.agreement && cut.mask.some((x) => x);
}
