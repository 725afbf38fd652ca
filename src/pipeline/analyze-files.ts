/**
 * `keyslice analyze` over files (Node): reads the image and the optional annotations, writes `profile.json` and
 * `profile.svg` into the output folder (created if missing) through temporary files and renames.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { analyzeVolume, type Analysis } from '../analysis/analyze.js';
import { profileSvg } from '../analysis/profile-svg.js';
import type { IntensityWindow } from '../analysis/window.js';
import { KeysliceError } from '../util/errors.js';
import { writeTextAtomic } from '../volume/io-node.js';
import { checkInputFiles, readInputs, type InputFiles } from './inputs-node.js';

export interface AnalyzeFilesOptions extends InputFiles {
  /** Output folder. */
  out: string;
  window?: IntensityWindow;
  onStage?: (message: string) => void;
}

export interface AnalyzeFilesResult {
  analysis: Analysis;
  files: string[];
  warnings: string[];
}

/** Creates `dir` (and parents) unless it exists; refuses a path that is a file. */
export async function ensureOutputDir(dir: string): Promise<void> {
  const st = await fsp.stat(dir).catch(() => null);
  if (st && !st.isDirectory()) throw new KeysliceError('OUTPUT_CONFLICT', 'output must be a folder, and this is a file', dir);
  if (!st) {
    try {
      await fsp.mkdir(dir, { recursive: true });
    } catch (err) {
      throw new KeysliceError('WRITE_FAILED', `could not create the output folder (${(err as Error).message})`, dir);
    }
  }
}

export async function analyzeFiles(opts: AnalyzeFilesOptions): Promise<AnalyzeFilesResult> {
  const stage = opts.onStage ?? (() => {});
  const inputs = checkInputFiles(opts, true);
  await ensureOutputDir(opts.out);
  const { image, annotations, axis, warnings } = await readInputs(opts, stage);
  stage('measuring slice similarity');
  const analysis = analyzeVolume(image, axis, annotations, { window: opts.window });
  const files = { json: path.join(opts.out, 'profile.json'), svg: path.join(opts.out, 'profile.svg') };
  const panels = [
    { title: `whole slices (axis ${axis}, ${analysis.sliceSpacingMm.toFixed(2)} mm)`, profile: analysis.whole },
    ...analysis.labels.map((l) => ({
      title: `label ${l.value}${l.name ? ` (${l.name})` : ''}: region [${l.profile.box.join(', ')}]`,
      profile: l.profile,
      keySlices: l.keySlices,
    })),
  ];
  await writeTextAtomic(files.json, `${JSON.stringify({ image: opts.image, ...analysis, warnings }, null, 1)}\n`, inputs);
  await writeTextAtomic(files.svg, profileSvg(panels, analysis.count), inputs);
  return { analysis, files: Object.values(files), warnings };
}
