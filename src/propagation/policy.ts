/**
 * The switches the controller follows for one engine: what a slice between two key slices gets when no front
 * reached it, how the prior between key slices is interpolated, whether slices are compared, and which engine's
 * run bounds the outward fronts. An engine states its preferences; {@link policyOf} reads them, and a caller may
 * override any of them.
 */
import type { Interpolation, SliceEngine } from './types.js';

export interface PropagationPolicy {
  /** What a slice between two key slices gets when no front reached it: the interpolation prior, or nothing. */
  gapFallback: 'prior' | 'none';
  /** How the prior between key slices is interpolated. */
  interpolation: Interpolation;
  /** Whether slice similarity is checked (similarity breaks, reuse of near-duplicates, skipping). */
  imageGuided: boolean;
  /** An engine whose run over the same key slices bounds the fronts beyond the outermost key slices, or null. */
  extentEngine: SliceEngine | null;
}

/** The policy an engine asks for (defaults: prior fallback, shape interpolation, image-guided, no extent engine). */
export function policyOf(engine: SliceEngine, overrides: Partial<PropagationPolicy> = {}): PropagationPolicy {
  return {
    gapFallback: engine.gapFallback ?? 'prior',
    interpolation: engine.interpolation ?? 'shape',
    imageGuided: engine.imageGuided !== false,
    extentEngine: engine.extentEngine ?? null,
    ...overrides,
  };
}
