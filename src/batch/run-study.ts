/**
 * One study of a batch, start to end: reuse the output already written for this job id, or segment the study
 * through the file pipeline (which writes the label volume through a temporary file and a rename), score it
 * against its truth label when one is given, and write its JSON record, also atomically.
 */
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { parsePost, parseWindow } from '../cli/options.js';
import { segmentFiles } from '../pipeline/segment-files.js';
import { KeysliceError } from '../util/errors.js';
import { readLabelVolume, writeTextAtomic } from '../volume/io-node.js';
import { gridDifference } from '../volume/volume.js';
import { diceByLabel } from './dice.js';
import type { BatchJobData, StudyRecord } from './queue.js';

/** The record already written for `jobId`, when it and its output are on disk. */
export async function existingRecord(jobId: string, data: BatchJobData): Promise<StudyRecord | null> {
  if (!existsSync(data.output)) return null;
  try {
    const rec = JSON.parse(await fsp.readFile(data.record, 'utf8')) as StudyRecord;
    return rec.jobId === jobId ? rec : null;
  } catch {
    return null;
  }
}

/** Removes temporary files that an attempt killed mid-write left beside this study's outputs. */
export async function removeStaleTemps(data: BatchJobData): Promise<string[]> {
  const dir = path.dirname(data.output);
  const prefixes = [data.output, data.record].map((f) => {
    const b = path.basename(f);
    return `.${b.endsWith('.nii.gz') ? b.slice(0, -7) : b.slice(0, b.length - path.extname(b).length)}.tmp-`;
  });
  prefixes.push(`.${path.basename(data.record)}.tmp-`);
  const names = await fsp.readdir(dir).catch(() => [] as string[]);
  const stale = names.filter((n) => prefixes.some((p) => n.startsWith(p)));
  await Promise.all(stale.map((n) => fsp.rm(path.join(dir, n), { force: true })));
  return stale;
}

function windowOf(text: string | undefined) {
  return text === undefined || text === 'percentile' ? undefined : parseWindow(text);
}

async function scoreAgainstTruth(data: BatchJobData): Promise<Record<string, number>> {
  const truthFile = data.study.truth as string;
  const [pred, truth] = await Promise.all([readLabelVolume(data.output), readLabelVolume(truthFile)]);
  const diff = gridDifference(truth, pred);
  if (diff !== null) throw new KeysliceError('GRID_MISMATCH', `truth label grid differs from the image: ${diff}`, truthFile);
  return diceByLabel(pred.data, truth.data, data.study.labels);
}

/** Runs one study; `onProgress` hears the fraction done (0..1). */
export async function runStudy(jobId: string, data: BatchJobData, onProgress: (fraction: number) => void = () => {}): Promise<StudyRecord> {
  const done = await existingRecord(jobId, data);
  if (done) return { ...done, reused: true };
  await removeStaleTemps(data);
  const s = data.study;
  const { report, warnings } = await segmentFiles({
    image: s.image,
    annotations: s.annotations,
    keySlices: s.keySlices,
    prompts: s.prompts,
    out: data.output,
    engine: data.engine,
    model: data.model,
    window: windowOf(data.window ?? s.window),
    postprocess: data.post === undefined ? undefined : parsePost(data.post),
    onProgress: (p) => onProgress(p.total > 0 ? p.done / p.total : 0),
  });
  const dice = s.truth ? await scoreAgainstTruth(data) : undefined;
  const record: StudyRecord = {
    jobId,
    study: s.id,
    output: data.output,
    engine: report.engine,
    seconds: report.seconds,
    labels: report.labels.map((l) => ({
      value: l.value,
      ...(l.name ? { name: l.name } : {}),
      voxels: l.voxels,
      volumeMl: l.volumeMl,
      ...(dice && dice[String(l.value)] !== undefined ? { dice: dice[String(l.value)] } : {}),
    })),
    ...(dice ? { dice } : {}),
    warnings,
    reused: false,
    finishedAt: new Date().toISOString(),
    keysliceVersion: data.version,
  };
  const inputs = [s.image, s.annotations, s.prompts, s.truth].filter((x): x is string => !!x);
  await writeTextAtomic(data.record, `${JSON.stringify(record, null, 2)}\n`, [...inputs, data.output]);
  return record;
}
