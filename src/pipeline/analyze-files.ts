/**
 * `keyslice analyze` over files (Node): reads the image and the optional annotations, writes `profile.json` and
 * `profile.svg` into the output folder (created if missing) through temporary files and renames.
 */
import * as path from 'node:path';
import { analyzeVolume, type Analysis } from '../analysis/analyze.js';
import { profileSvg } from '../analysis/profile-svg.js';
import type { IntensityWindow } from '../analysis/window.js';
import { ensureOutputDir, writeTextAtomic } from '../volume/io-node.js';
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
