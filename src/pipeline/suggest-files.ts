/**
 * `keyslice suggest` over files (Node): reads the image and the optional annotations, segments with the named
 * engine and plans the next slices to annotate. Writes nothing.
 */
import type { IntensityWindow } from '../analysis/window.js';
import { suggestSlices, type SuggestResult } from '../suggest/suggest.js';
import { defaultModelEngine, resolveEngine } from './engines-node.js';
import { checkInputFiles, readInputs, type InputFiles } from './inputs-node.js';
import { DEFAULT_ENGINE } from './segment.js';

export interface SuggestFilesOptions extends InputFiles {
  budget?: number;
  engine?: string;
  model?: string;
  window?: IntensityWindow;
  range?: [number, number];
  onStage?: (message: string) => void;
}

export async function suggestFiles(opts: SuggestFilesOptions): Promise<{ result: SuggestResult; warnings: string[] }> {
  checkInputFiles(opts, true);
  const engine = await resolveEngine(opts.engine ?? (opts.model !== undefined ? defaultModelEngine(opts.model) : DEFAULT_ENGINE), { model: opts.model });
  const { image, annotations, axis, warnings } = await readInputs(opts, opts.onStage);
  opts.onStage?.(annotations ? `segmenting with ${engine.name} to see where it is unsure` : 'no annotation: looking for where to start');
  const result = await suggestSlices(image, axis, annotations, { budget: opts.budget, engine, window: opts.window, range: opts.range });
  return { result, warnings };
}
