/**
 * DICOM in the page: reading a series from the files of a folder (picked or dropped) and writing a DICOM SEG that
 * references it, through @itk-wasm/dicom's browser functions with their pipelines served from the app's own
 * folder (never a CDN). The slices are grouped, ordered and checked by the same code as the Node reader
 * (src/volume/dicom), which also gives the volume the same geometry.
 */
import { readImageDicomFileSeries, setPipelinesBaseUrl, setPipelineWorkerUrl, writeSegmentation } from '@itk-wasm/dicom';
import type { BinaryFile } from 'itk-wasm';
import type { LabelInfo } from '../../labels/label-table.js';
import { KeysliceError } from '../../util/errors.js';
import { hasDicomPreamble, parseDicomHeader, TruncatedHeader } from '../../volume/dicom/header.js';
import { segLabelImage, segMetaInfo } from '../../volume/dicom/seg.js';
import { describeGaps, formatSeriesList, groupSeries, placeSeriesImage, planSeries, summarize, type DicomFile, type SeriesSummary } from '../../volume/dicom/series.js';
import { fromItkImage, toItkImage } from '../../volume/itk-image.js';
import type { LabelArray, Volume } from '../../volume/volume.js';

/** A file of a folder: its path inside the folder and its bytes. */
export interface FolderFile {
  path: string;
  bytes: Uint8Array;
}

/** A series read in the page. */
export interface PageSeries {
  volume: Volume;
  /** The series' files in slice order (what a DICOM SEG references). */
  files: FolderFile[];
  /** What was chosen, for the user (another series in the folder). */
  notes: string[];
}

let configured = false;

/** Points itk-wasm at the pipeline worker and pipelines beside the app's script. */
function configure(): void {
  if (configured) return;
  const here = new URL('.', import.meta.url).href.replace(/\/$/, '');
  setPipelinesBaseUrl(here);
  setPipelineWorkerUrl(`${here}/itk-wasm-pipeline.worker.js`);
  configured = true;
}

/** The DICOM files among a folder's files, with their headers (files that are not DICOM are left out). */
export function dicomFilesOf(files: readonly FolderFile[]): DicomFile[] {
  const out: DicomFile[] = [];
  for (const f of files) {
    if (!hasDicomPreamble(f.bytes)) continue;
    try {
      out.push({ file: f.path, header: parseDicomHeader(f.bytes, true) });
    } catch (err) {
      if (!(err instanceof TruncatedHeader)) continue;
    }
  }
  return out;
}

/** A folder's image series, the one with the most files first (the default choice), each with its files. */
interface RankedSeries {
  summaries: SeriesSummary[];
  groups: Map<string, DicomFile[]>;
}

function rankSeries(folder: string, files: readonly FolderFile[]): RankedSeries {
  const all = dicomFilesOf(files);
  if (all.length === 0) throw new KeysliceError('FILE_UNREADABLE', `folder holds no DICOM file (files with the DICM preamble) among its ${files.length} file(s)`, folder);
  const groups = groupSeries(all);
  if (groups.size === 0) throw new KeysliceError('FILE_UNREADABLE', `folder holds ${all.length} DICOM file(s) but no image series (no pixel data or no series UID)`, folder);
  const folderOf = (p: string) => p.split('/').slice(0, -1).join('/') || '.';
  const summaries = [...groups].map(([uid, f]) => summarize(uid, f, folderOf)).sort((a, b) => b.files - a.files || a.uid.localeCompare(b.uid));
  return { summaries, groups };
}

/**
 * The image series among a folder's files, the one with the most files first (what opens when nobody chooses),
 * as `keyslice info --list-series` lists them: UID, modality, description, number of files, sub-folder.
 */
export function folderSeries(folder: string, files: readonly FolderFile[]): SeriesSummary[] {
  return rankSeries(folder, files).summaries;
}

/** Options of {@link readDicomFolder}. */
export interface ReadFolderOptions {
  /** Series instance UID to open; default the series with the most files (the others are named in `notes`). */
  series?: string;
}

/**
 * Reads one image series of a folder's files (`options.series`, by default the one with the most files; the
 * others named in `notes`), ordered along the slice normal and checked as one regular volume; a series with
 * gaps or uneven steps is refused, as `keyslice` does without `--allow-gaps`.
 */
export async function readDicomFolder(folder: string, files: readonly FolderFile[], options: ReadFolderOptions = {}): Promise<PageSeries> {
  configure();
  const { summaries, groups } = rankSeries(folder, files);
  const uid = options.series ?? summaries[0].uid;
  const series = groups.get(uid);
  if (!series) throw new KeysliceError('DICOM_SERIES_NOT_FOUND', `holds no series ${uid}; its series:\n${formatSeriesList(summaries)}`, folder);
  const notes: string[] = [];
  if (summaries.length > 1) {
    const others = summaries.filter((s) => s.uid !== uid);
    notes.push(`${folder} holds ${summaries.length} series; opened ${uid} (${series.length} files). The others:\n${formatSeriesList(others)}`);
  }
  const byPath = new Map(files.map((f) => [f.path, f]));
  let ordered: FolderFile[];
  let place: ((image: Parameters<typeof placeSeriesImage>[0]) => void) | null = null;
  if (series.length === 1) ordered = [byPath.get(series[0].file) as FolderFile];
  else {
    const plan = planSeries(series, folder);
    if (plan.gaps.length > 0) throw new KeysliceError('DICOM_SERIES_GAP', `${describeGaps(plan)}. Add the missing files, or open the series with keyslice on the command line (--allow-gaps)`, folder);
    ordered = plan.files.map((p) => byPath.get(p) as FolderFile);
    place = (image) => notes.push(...placeSeriesImage(image, plan, series[0].header, folder));
  }
  let result;
  try {
    result = await readImageDicomFileSeries({ inputImages: binaryFiles(ordered), singleSortedSeries: true });
  } catch (err) {
    throw new KeysliceError('FILE_UNREADABLE', `DICOM series could not be read (${(err as Error).message ?? String(err)})`, folder, { cause: err });
  } finally {
    result?.webWorkerPool?.terminateWorkers();
  }
  const image = result.outputImage;
  place?.(image);
  return { volume: fromItkImage(image, folder), files: ordered, notes };
}

/** Files under generated names (the pipelines see a flat folder; the names inside the picked folder vary). */
function binaryFiles(files: readonly FolderFile[]): BinaryFile[] {
  return files.map((f, i) => ({ path: `${String(i).padStart(6, '0')}.dcm`, data: f.bytes.slice() }));
}

/**
 * A DICOM SEG of `labels` referencing the series `files` (in slice order, on the labels' grid): one segment per
 * entry of `infos` that holds a voxel, numbered 1..n. Returns the file's bytes and notes for the user.
 */
export async function writeDicomSegBytes(labels: Volume<LabelArray>, infos: readonly LabelInfo[], files: readonly FolderFile[], shownAs: string): Promise<{ bytes: Uint8Array; notes: string[] }> {
  configure();
  const present = new Set<number>();
  for (let i = 0; i < labels.data.length; i++) if (labels.data[i]) present.add(labels.data[i]);
  const held = infos.filter((l) => present.has(l.value));
  if (held.length === 0) throw new KeysliceError('USAGE', 'no label holds a voxel yet (set key slices and propagate): a DICOM SEG needs a segment', shownAs);
  const { image, notes } = segLabelImage(labels, held, shownAs);
  const { outputDicomFile } = await writeSegmentation(toItkImage(image), segMetaInfo(held) as never, 'seg.dcm', {
    refDicomSeries: binaryFiles(files),
    useLabelidAsSegmentnumber: true,
  });
  return { bytes: outputDicomFile.data, notes };
}
