/**
 * Reading a DICOM series from a folder (Node): finds the DICOM files (in sub-folders too), groups them by
 * series, picks the one asked for (or the only one), checks that its slices make one regular volume, and reads
 * the voxels through @itk-wasm/dicom with the geometry taken from the checked slice positions.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { readImageDicomFileSeriesNode } from '@itk-wasm/dicom';
import type { Image } from 'itk-wasm';
import { KeysliceError } from '../../util/errors.js';
import { quietly, thirdPartyMessage } from '../../util/quiet.js';
import { hasDicomPreamble, parseDicomHeader, TruncatedHeader, type DicomHeader } from './header.js';
import { describeGaps, formatSeriesList, groupSeries, placeSeriesImage, planSeries, summarize, type DicomFile, type SeriesSummary } from './series.js';

export interface DicomSeriesOptions {
  /** SeriesInstanceUID to read when the folder holds several series. */
  series?: string;
  /** Accept missing slices and uneven steps: resample onto evenly spaced slices (default false: refuse). */
  allowGaps?: boolean;
}

export interface DicomSeriesResult {
  image: Image;
  /** What was repaired or chosen, for the user. */
  notes: string[];
  /** The files of the series read, in slice order. */
  files: string[];
  series: SeriesSummary;
}

const HEAD_BYTES = 64 * 1024;
const MAX_DEPTH = 8;

/** The parsed header of one file, or null when it is not a DICOM Part 10 file keyslice can read. */
export async function readDicomHeader(file: string): Promise<DicomHeader | null> {
  const fh = await fsp.open(file, 'r');
  try {
    const head = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await fh.read(head, 0, HEAD_BYTES, 0);
    const bytes = head.subarray(0, bytesRead);
    if (!hasDicomPreamble(bytes)) return null;
    try {
      return parseDicomHeader(bytes, bytesRead < HEAD_BYTES);
    } catch (err) {
      if (!(err instanceof TruncatedHeader)) return null;
    }
    const whole = await fsp.readFile(file);
    try {
      return parseDicomHeader(whole, true);
    } catch {
      return null;
    }
  } finally {
    await fh.close();
  }
}

/** Every DICOM file under `dir` (sub-folders to a depth of 8, hidden entries skipped), with its header. */
export async function findDicomFiles(dir: string, depth = 0): Promise<DicomFile[]> {
  const entries = await fsp.readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: DicomFile[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const f = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (depth < MAX_DEPTH) out.push(...(await findDicomFiles(f, depth + 1)));
    } else if (e.isFile()) {
      const header = await readDicomHeader(f).catch(() => null);
      if (header) out.push({ file: f, header });
    }
  }
  return out;
}

/** The series of a folder, one summary each (for `--series` listings). */
export async function listDicomSeries(dir: string): Promise<SeriesSummary[]> {
  const root = path.resolve(dir);
  const groups = groupSeries(await findDicomFiles(root));
  return [...groups].map(([uid, files]) => summarize(uid, files, (f) => path.relative(root, path.dirname(f)) || '.'));
}

function chooseSeries(groups: Map<string, DicomFile[]>, dir: string, root: string, wanted?: string): [string, DicomFile[]] {
  const list = [...groups].map(([uid, files]) => summarize(uid, files, (f) => path.relative(root, path.dirname(f)) || '.'));
  if (wanted !== undefined) {
    const g = groups.get(wanted);
    if (!g) {
      throw new KeysliceError('DICOM_SERIES_NOT_FOUND', `no series with SeriesInstanceUID ${wanted}; the folder holds:\n${formatSeriesList(list)}`, dir);
    }
    return [wanted, g];
  }
  if (groups.size > 1) {
    throw new KeysliceError(
      'DICOM_SEVERAL_SERIES',
      `folder holds ${groups.size} image series; choose one with --series UID:\n${formatSeriesList(list)}`,
      dir,
    );
  }
  return [...groups][0];
}

/** Reads one DICOM series from a folder; see {@link DicomSeriesOptions}. */
export async function readDicomSeries(dir: string, options: DicomSeriesOptions = {}): Promise<DicomSeriesResult> {
  const root = path.resolve(dir);
  const all = await findDicomFiles(root);
  if (all.length === 0) {
    throw new KeysliceError('FILE_UNREADABLE', 'folder holds no DICOM file (files with the DICM preamble), in sub-folders neither', dir);
  }
  const groups = groupSeries(all);
  if (groups.size === 0) {
    throw new KeysliceError('FILE_UNREADABLE', `folder holds ${all.length} DICOM file(s) but no image series (no pixel data or no series UID)`, dir);
  }
  const [uid, files] = chooseSeries(groups, dir, root, options.series);
  const summary = summarize(uid, files, (f) => path.relative(root, path.dirname(f)) || '.');
  const notes: string[] = [];
  const multiFrame = files.length === 1 && (files[0].header.numberOfFrames ?? 1) > 1;
  if (multiFrame || files.length === 1) {
    const image = await itkRead([files[0].file], dir);
    return { image, notes, files: [files[0].file], series: summary };
  }
  const plan = planSeries(files, dir);
  if (plan.gaps.length > 0 && !options.allowGaps) {
    throw new KeysliceError('DICOM_SERIES_GAP', `${describeGaps(plan)}. Add the missing files, or pass --allow-gaps to resample onto even slices`, dir);
  }
  const image = await itkRead(plan.files, dir);
  notes.push(...placeSeriesImage(image, plan, files[0].header, dir));
  return { image, notes, files: plan.files, series: summary };
}

async function itkRead(files: string[], dir: string): Promise<Image> {
  try {
    const { outputImage } = await quietly(() => readImageDicomFileSeriesNode({ inputImages: files, singleSortedSeries: true }));
    return outputImage;
  } catch (err) {
    throw new KeysliceError('FILE_UNREADABLE', `DICOM series could not be read (${thirdPartyMessage(err)})`, dir, { cause: err });
  }
}
