/**
 * `keyslice segment` as a library call over files (Node): validates everything it can before computing,
 * never writes over an input, writes outputs through a temporary file and a rename.
 */
import { promises as fsp } from 'node:fs';
import { buildAnnotations, type BuildResult } from '../annotations/build.js';
import { parsePromptsText } from '../annotations/prompts.js';
import { KeysliceError } from '../util/errors.js';
import {
  checkOutputPath,
  checkOutputTarget,
  readLabelVolume,
  readVolume,
  writeTextAtomic,
  writeVolume,
  type ReadVolumeOptions,
} from '../volume/io-node.js';
import type { SliceAxis } from '../volume/volume.js';
import type { PostprocessOptions } from '../propagation/postprocess.js';
import type { IntensityWindow } from '../analysis/window.js';
import { resolveEngine } from './engines-node.js';
import { DEFAULT_ENGINE, segment, type Progress, type SegmentReport } from './segment.js';

export interface SegmentFilesOptions {
  image: string;
  out: string;
  /** Sparse label volume on the image grid. */
  annotations?: string;
  /** Key slices of the sparse volume (required with `annotations`). */
  keySlices?: number[] | 'auto';
  prompts?: string;
  axis?: SliceAxis;
  engine?: string;
  /** Model directory for the model engines (default: the built-in model). */
  model?: string;
  /** onnxruntime execution providers for the model engines (default: cpu). */
  executionProviders?: string[];
  /** Intensity window (default: chosen from the image). */
  window?: IntensityWindow;
  /** Inclusive slice range to propagate within (see `SegmentOptions.range`). */
  range?: [number, number];
  postprocess?: PostprocessOptions;
  /** Where to write the JSON report (optional). */
  report?: string;
  read?: ReadVolumeOptions;
  onProgress?: (p: Progress) => void;
  onStage?: (message: string) => void;
}

export interface SegmentFilesResult {
  report: SegmentReport;
  warnings: string[];
}

export async function segmentFiles(opts: SegmentFilesOptions): Promise<SegmentFilesResult> {
  const stage = opts.onStage ?? (() => {});
  if (!opts.annotations && !opts.prompts) {
    throw new KeysliceError('USAGE', 'give --annotations SPARSE --key-slices LIST, --prompts FILE, or both');
  }
  if (opts.annotations && opts.keySlices === undefined) {
    throw new KeysliceError('USAGE', '--annotations needs --key-slices (a list such as 3,9,15, or "auto")');
  }
  const inputs = [opts.image, opts.annotations, opts.prompts].filter((x): x is string => !!x);
  await checkOutputPath(opts.out, inputs);
  const engine = await resolveEngine(opts.engine ?? (opts.model !== undefined ? 'hybrid' : DEFAULT_ENGINE), { model: opts.model, executionProviders: opts.executionProviders });
  if (opts.report) await checkOutputTarget(opts.report, [...inputs, opts.out]);

  let promptsDoc;
  if (opts.prompts) {
    let text: string;
    try {
      text = await fsp.readFile(opts.prompts, 'utf8');
    } catch {
      throw new KeysliceError('FILE_NOT_FOUND', 'no such prompts file', opts.prompts);
    }
    promptsDoc = parsePromptsText(text, opts.prompts);
  }
  stage(`reading ${opts.image}`);
  const image = await readVolume(opts.image, opts.read);
  const sparse = opts.annotations ? await readLabelVolume(opts.annotations, opts.read) : undefined;
  const built: BuildResult = buildAnnotations(image, {
    sparse: sparse && opts.annotations ? { volume: sparse, file: opts.annotations, keySlices: opts.keySlices ?? 'auto' } : undefined,
    prompts: promptsDoc && opts.prompts ? { doc: promptsDoc, file: opts.prompts } : undefined,
    axis: opts.axis,
    imageFile: opts.image,
  });
  const { annotations } = built;
  stage(
    `${annotations.labels.length} label(s) on slice axis ${annotations.axis}: ` +
      annotations.labels.map((l) => `${l.value} (key slices ${l.keySlices.map((k) => (k.empty ? `${k.index}∅` : k.index)).join(',')})`).join('; '),
  );
  const { labels, report } = await segment(image, annotations, {
    engine,
    window: opts.window,
    range: opts.range,
    postprocess: opts.postprocess,
    onProgress: opts.onProgress,
  });
  await writeVolume(labels, opts.out, { protect: inputs });
  if (opts.report) {
    await writeTextAtomic(opts.report, `${JSON.stringify({ ...report, warnings: built.warnings }, null, 2)}\n`, [...inputs, opts.out]);
  }
  return { report, warnings: built.warnings };
}
