/** Parsers for `keyslice segment` options. */
import { CT_WINDOW_PRESETS, presetWindow, type IntensityWindow } from '../analysis/window.js';
import type { PostprocessOptions } from '../propagation/postprocess.js';
import { KeysliceError } from '../util/errors.js';
import { parseLabelNames } from '../labels/label-table.js';
import type { ParseArgsConfig } from 'node:util';
import { MAX_SAM_MOSAIC } from '../pipeline/engines.js';

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

/** `--window`: a CT preset name, `LOW:HIGH` in image units, or `auto` (undefined: chosen from the image). */
export function parseWindow(text: string): IntensityWindow | undefined {
  const t = text.trim();
  if (t === 'auto') return undefined;
  const preset = presetWindow(t);
  if (preset) return preset;
  const m = /^(-?\d+(?:\.\d+)?)\s*:\s*(-?\d+(?:\.\d+)?)$/.exec(t);
  if (m && Number(m[2]) > Number(m[1])) return { low: Number(m[1]), high: Number(m[2]), kind: 'manual' };
  throw new KeysliceError(
    'USAGE',
    `--window must be auto, a CT preset (${Object.keys(CT_WINDOW_PRESETS).join(', ')}) or LOW:HIGH with LOW < HIGH, got "${text}"`,
  );
}

/** `--sam-mosaic N`: a whole number (its range is checked with the engine it is given to); undefined if absent. */
export function samMosaicOption(v: Record<string, unknown>): number | undefined {
  const t = v['sam-mosaic'];
  if (t === undefined) return undefined;
  const n = Number(t);
  if (!/^\s*\d+\s*$/.test(String(t)) || !Number.isInteger(n)) {
    throw new KeysliceError('USAGE', `--sam-mosaic must be a whole number from 1 to ${MAX_SAM_MOSAIC} (slices per side of one encoder input), got "${String(t)}"`);
  }
  return n;
}

/** Flags on how `segment` writes its labels: the format, and label names and colours. */
export const OUTPUT_FLAGS = {
  format: { type: 'string' },
  'label-names': { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

/** The options of {@link OUTPUT_FLAGS}. */
export function outputOptions(v: Record<string, unknown>): { format?: string; labelNames?: ReturnType<typeof parseLabelNames> } {
  return {
    ...(typeof v.format === 'string' ? { format: v.format } : {}),
    ...(typeof v['label-names'] === 'string' ? { labelNames: parseLabelNames(v['label-names']) } : {}),
  };
}

/** Flags of the SAM-format models' embedding cache folder (`segment`, `bench`, `train`). */
export const EMBEDDING_CACHE_FLAGS = {
  'embedding-cache': { type: 'string' },
  'embedding-cache-gb': { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

/**
 * The options of {@link EMBEDDING_CACHE_FLAGS}: the folder, and `--embedding-cache-gb N` (a positive number of
 * GiB, only with the folder) as bytes.
 */
export function embeddingCacheOptions(v: Record<string, unknown>): { embeddingCache?: string; embeddingCacheBytes?: number } {
  const dir = v['embedding-cache'] as string | undefined;
  const gb = v['embedding-cache-gb'];
  if (gb === undefined) return { embeddingCache: dir };
  const n = Number(gb);
  if (!/^\s*(\d+(\.\d*)?|\.\d+)\s*$/.test(String(gb)) || !(n > 0)) {
    throw new KeysliceError('USAGE', `--embedding-cache-gb must be a positive number of GiB (the cache folder's size limit), got "${String(gb)}"`);
  }
  if (dir === undefined) throw new KeysliceError('USAGE', '--embedding-cache-gb sets the size limit of the embedding cache folder: give the folder with --embedding-cache DIR');
  return { embeddingCache: dir, embeddingCacheBytes: Math.round(n * 1024 ** 3) };
}
