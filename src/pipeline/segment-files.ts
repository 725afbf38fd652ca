/**
 * `keyslice segment` as a library call over files (Node): validates everything it can before computing,
 * never writes over an input, writes outputs through a temporary file and a rename.
 */
import { KeysliceError } from '../util/errors.js';
import { checkOutputTarget, writeTextAtomic } from '../volume/io-node.js';
import { checkLabelOutput, labelOutputFormat, writeLabelOutput } from '../volume/label-io-node.js';
import { labelInfos, type Rgb } from '../labels/label-table.js';
import { writeMeshes, type MeshFilesOptions } from '../mesh/mesh-files-node.js';
import type { PostprocessOptions } from '../propagation/postprocess.js';
import type { IntensityWindow } from '../analysis/window.js';
import { adapterWarnings } from '../models/adapter/load-node.js';
import { defaultModelEngine, resolveEngine } from './engines-node.js';
import { defaultSamMosaic } from './engines.js';
import { checkInputFiles, readInputs, type InputFiles } from './inputs-node.js';
import { DEFAULT_ENGINE, segment, type Progress, type SegmentReport } from './segment.js';

export interface SegmentFilesOptions extends InputFiles {
  out: string;
  engine?: string;
  /** Model directory for the model engines (default: the built-in model). */
  model?: string;
  /** onnxruntime execution providers for the model engines (default: cpu). */
  executionProviders?: string[];
  /** A folder keeping image embeddings across runs (sam and hybrid engines; default none). */
  embeddingCache?: string;
  /** Size limit of the `embeddingCache` folder, bytes (default 2 GiB; see `SamLoadOptions.embeddingCacheBytes`). */
  embeddingCacheBytes?: number;
  /** A trained adapter folder (`keyslice train`) for the engine. */
  adapter?: string;
  /** Slices per side of one encoder input (sam and hybrid engines; default `defaultSamMosaic`, see `EngineSettings.samMosaic`). */
  samMosaic?: number;
  /** Intensity window (default: chosen from the image). */
  window?: IntensityWindow;
  /** Inclusive slice range to propagate within (see `SegmentOptions.range`). */
  range?: [number, number];
  postprocess?: PostprocessOptions;
  /** Where to write the JSON report (optional). */
  report?: string;
  onProgress?: (p: Progress) => void;
  onStage?: (message: string) => void;
  /** Output format: 'volume', 'seg-nrrd' or 'dicom-seg' (default: from the output's name, see `labelOutputFormat`). */
  format?: string;
  /** Also write one surface mesh per label into `mesh.dir` (see `writeMeshes`). */
  mesh?: MeshFilesOptions & { dir: string };
  /** Label names and colours, over the prompts file's (`--label-names`). */
  labelNames?: Map<number, { name: string; color?: Rgb }>;
}

export interface SegmentFilesResult {
  report: SegmentReport;
  warnings: string[];
  /** Every file (or folder) written. */
  written: string[];
}

export async function segmentFiles(opts: SegmentFilesOptions): Promise<SegmentFilesResult> {
  const stage = opts.onStage ?? (() => {});
  const inputs = checkInputFiles(opts);
  const format = labelOutputFormat(opts.out, opts.format);
  await checkLabelOutput(opts.out, format, inputs);
  const engineName = opts.engine ?? (opts.model !== undefined ? defaultModelEngine(opts.model) : DEFAULT_ENGINE);
  const engine = await resolveEngine(engineName, {
    model: opts.model,
    executionProviders: opts.executionProviders,
    embeddingCache: opts.embeddingCache,
    embeddingCacheBytes: opts.embeddingCacheBytes,
    adapter: opts.adapter,
    samMosaic: opts.samMosaic,
  });
  if (opts.report) await checkOutputTarget(opts.report, [...inputs, opts.out]);
  const { image, annotations, warnings, dicomFiles } = await readInputs(opts, stage);
  if (opts.adapter !== undefined) warnings.push(...(await adapterWarnings(opts.adapter)));
  const tiles = defaultSamMosaic(engineName); // 1 for every engine but hybrid
  if (opts.adapter !== undefined && opts.samMosaic === undefined && tiles > 1) {
    warnings.push(`${engineName} runs one slice per encoder input with --adapter, as the adapter was trained; without one it tiles ${tiles} x ${tiles} slices per input beyond each object's full-size inputs`);
  }
  if (!annotations) throw new KeysliceError('USAGE', 'no annotations given');
  const { labels, report } = await segment(image, annotations, {
    engine,
    window: opts.window,
    range: opts.range,
    postprocess: opts.postprocess,
    onProgress: opts.onProgress,
  });
  const lost = report.engineStats?.storeFailures ?? 0;
  if (lost > 0) warnings.push(`${opts.embeddingCache}: ${lost} embedding(s) could not be written to the embedding cache (they will be encoded again next time)`);
  const infos = labelInfos(annotations.labels.map((l) => l.value), annotations.labels, opts.labelNames);
  const out = await writeLabelOutput(labels, opts.out, { format, infos, protect: inputs, dicomFiles, image });
  warnings.push(...out.notes);
  if (opts.mesh) {
    const rows = await writeMeshes(labels, infos, opts.mesh.dir, { ...opts.mesh, protect: inputs });
    out.files.push(...rows.flatMap((r) => r.files));
  }
  if (opts.report) {
    await writeTextAtomic(opts.report, `${JSON.stringify({ ...report, warnings }, null, 2)}\n`, [...inputs, opts.out]);
  }
  return { report, warnings, written: out.files };
}
