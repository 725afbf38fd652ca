/** Parsers for `keyslice segment` options. */
import type { PostprocessOptions } from '../propagation/postprocess.js';
import { KeysliceError } from '../util/errors.js';

/** `FIRST:LAST`, inclusive 0-based slice indices. */
export function parseRange(text: string): [number, number] {
  const m = /^\s*(\d+)\s*:\s*(\d+)\s*$/.exec(text);
  if (!m || Number(m[1]) > Number(m[2])) {
    throw new KeysliceError('USAGE', `--range must be FIRST:LAST with 0 <= FIRST <= LAST (0-based slice indices), got "${text}"`);
  }
  return [Number(m[1]), Number(m[2])];
}

const POST_STEPS = ['keep-connected', 'fill-holes', 'smooth', 'continuity'] as const;

/** Post-processing steps to run: a comma-separated list of {@link POST_STEPS}, or "none". */
export function parsePost(text: string): PostprocessOptions {
  const steps = text.trim() === 'none' ? [] : text.split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of steps) {
    if (!(POST_STEPS as readonly string[]).includes(s)) {
      throw new KeysliceError('USAGE', `unknown post-processing step "${s}" (available: ${POST_STEPS.join(', ')}, or none)`);
    }
  }
  return {
    keepConnected: steps.includes('keep-connected'),
    fillHoles: steps.includes('fill-holes'),
    smooth: steps.includes('smooth'),
    continuity: steps.includes('continuity'),
  };
}
