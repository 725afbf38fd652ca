/**
 * Label volumes in and out in the formats of the tools users segment with (Node): plain volumes (NIfTI, NRRD,
 * MetaImage) with a 3D Slicer colour table and an ITK-SNAP label description beside them, Slicer `.seg.nrrd`
 * segmentations, and DICOM SEG. Input label volumes on another grid of the image's lattice are placed by geometry.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { KeysliceError } from '../util/errors.js';
import { thirdPartyMessage } from '../util/quiet.js';
import { itkSnapLabelDescription, slicerColorTable, type LabelInfo } from '../labels/label-table.js';
import { checkOutputPath, checkOutputTarget, readLabelVolume, writeTextAtomic, writeVolume, type ReadVolumeOptions } from './io-node.js';
import { readDicomSeg, writeDicomSeg } from './dicom/seg-node.js';
import { hasDicomPreamble } from './dicom/header.js';
import { writeDicomSeries } from './dicom/write-series-node.js';
import { placeOnGrid } from './lattice.js';
import { formatSegNrrd, parseSegNrrd } from './seg-nrrd-node.js';
import { gridDifference, type Geometry, type LabelArray, type Volume } from './volume.js';

export type LabelFormat = 'volume' | 'seg-nrrd' | 'dicom-seg';
export const LABEL_FORMATS: readonly LabelFormat[] = ['volume', 'seg-nrrd', 'dicom-seg'];

/** The output format: `format` when given, else from the file name (`.seg.nrrd`, `.dcm`, else a plain volume). */
export function labelOutputFormat(file: string, format?: string): LabelFormat {
  if (format !== undefined) {
    if (!(LABEL_FORMATS as readonly string[]).includes(format)) {
      throw new KeysliceError('USAGE', `--format must be one of ${LABEL_FORMATS.join(', ')}, got "${format}"`);
    }
    return format as LabelFormat;
  }
  const f = file.toLowerCase();
  if (f.endsWith('.seg.nrrd')) return 'seg-nrrd';
  if (f.endsWith('.dcm')) return 'dicom-seg';
  return 'volume';
}

/** Checks an output path for its format before anything is computed. */
export async function checkLabelOutput(file: string, format: LabelFormat, protect: string[] = []): Promise<void> {
  if (format === 'volume') return checkOutputPath(file, protect);
  await checkOutputTarget(file, protect);
}

/** The colour-table files written beside a plain label volume. */
export function colorTablePaths(file: string): { ctbl: string; itksnap: string } {
  const base = file.replace(/(\.nii\.gz|\.nii|\.nrrd|\.nhdr|\.mha|\.mhd)$/i, '');
  return { ctbl: `${base}.ctbl`, itksnap: `${base}.itksnap.txt` };
}

export interface WriteLabelsOptions {
  format: LabelFormat;
  infos: readonly LabelInfo[];
  protect?: string[];
  /** The image's DICOM series files (DICOM SEG references them); without them, the image is written as a series. */
  dicomFiles?: string[];
  /** The image (to write as the referenced series when there are no `dicomFiles`). */
  image?: Volume;
}

export interface WriteLabelsResult {
  files: string[];
  notes: string[];
}

async function writeBytesAtomic(file: string, bytes: Uint8Array, writer: string, protect: string[]): Promise<void> {
  await checkOutputTarget(file, protect);
  const tmp = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.tmp-${process.pid}`);
  try {
    await fsp.writeFile(tmp, bytes);
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw new KeysliceError('WRITE_FAILED', `the ${writer} failed: ${thirdPartyMessage(err)}`, file, { cause: err });
  }
}

/** Writes a label volume in `format`, with its names and colours. */
export async function writeLabelOutput(labels: Volume<LabelArray>, file: string, options: WriteLabelsOptions): Promise<WriteLabelsResult> {
  const protect = options.protect ?? [];
  if (options.format === 'volume') {
    await writeVolume(labels, file, { protect });
    const { ctbl, itksnap } = colorTablePaths(file);
    await writeTextAtomic(ctbl, slicerColorTable(options.infos), [...protect, file]);
    await writeTextAtomic(itksnap, itkSnapLabelDescription(options.infos), [...protect, file]);
    return { files: [file, ctbl, itksnap], notes: [] };
  }
  if (options.format === 'seg-nrrd') {
    await writeBytesAtomic(file, formatSegNrrd(labels, options.infos), '.seg.nrrd writer', protect);
    return { files: [file], notes: [] };
  }
  return writeSegOutput(labels, file, options, protect);
}

async function writeSegOutput(labels: Volume<LabelArray>, file: string, options: WriteLabelsOptions, protect: string[]): Promise<WriteLabelsResult> {
  const files: string[] = [];
  const notes: string[] = [];
  let reference = options.dicomFiles;
  if (!reference?.length) {
    if (!options.image) throw new KeysliceError('USAGE', 'a DICOM SEG needs the image it segments', file);
    const dir = file.replace(/\.dcm$/i, '') + '_image';
    const existing = await fsp.readdir(dir).catch(() => null);
    if (existing && existing.length > 0) {
      throw new KeysliceError('OUTPUT_CONFLICT', `${dir} (the image series the DICOM SEG references) exists and is not empty; choose another output name`, file);
    }
    try {
      const series = await writeDicomSeries(options.image, dir, { seriesDescription: 'keyslice image' });
      reference = series.files;
    } catch (err) {
      throw new KeysliceError('WRITE_FAILED', `the DICOM series writer failed: ${thirdPartyMessage(err)}`, dir, { cause: err });
    }
    files.push(dir);
    notes.push(`${file}: the image was not DICOM, so the DICOM SEG references a copy of it written as a DICOM series in ${dir}/`);
  }
  await checkOutputTarget(file, protect);
  const tmp = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.tmp-${process.pid}.dcm`);
  try {
    notes.push(...(await writeDicomSeg(labels, options.infos, tmp, reference, file)));
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw new KeysliceError('WRITE_FAILED', `the DICOM SEG writer (@itk-wasm/dicom writeSegmentation) failed: ${thirdPartyMessage(err)}`, file, { cause: err });
  }
  return { files: [file, ...files], notes };
}

export interface AnnotationLabels {
  volume: Volume<LabelArray>;
  /** Names and colours the file carries (.seg.nrrd, DICOM SEG). */
  infos: LabelInfo[];
  notes: string[];
}

async function isDicomFile(file: string): Promise<boolean> {
  const fh = await fsp.open(file, 'r').catch(() => null);
  if (!fh) return false;
  try {
    const b = Buffer.alloc(132);
    const { bytesRead } = await fh.read(b, 0, 132, 0);
    return hasDicomPreamble(b.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

/** Reads an annotation label file of any supported kind, on its own grid. */
export async function readAnnotationLabels(file: string, read: ReadVolumeOptions = {}): Promise<AnnotationLabels> {
  const st = await fsp.stat(file).catch(() => null);
  if (!st) throw new KeysliceError('FILE_NOT_FOUND', 'no such file or folder', file);
  if (st.isFile() && file.toLowerCase().endsWith('.seg.nrrd')) {
    const seg = parseSegNrrd(new Uint8Array(await fsp.readFile(file)), file);
    const notes = seg.overlapping > 0 ? [`${file}: ${seg.overlapping} voxel(s) belong to several segments; the later segment was kept`] : [];
    return { volume: seg.labels, infos: seg.segments, notes };
  }
  if (st.isFile() && (await isDicomFile(file))) {
    const seg = await readDicomSeg(file);
    return { volume: seg.labels, infos: seg.segments, notes: [] };
  }
  return { volume: await readLabelVolume(file, { ...read, dicom: undefined }), infos: [], notes: [] };
}

/**
 * `labels` on the image grid: unchanged when the grids match, placed by geometry when they share the image's
 * lattice (a crop or padding), else GRID_MISMATCH naming both grids.
 */
export function labelsOnImageGrid(labels: Volume<LabelArray>, image: Geometry, file: string, imageFile?: string): { volume: Volume<LabelArray>; notes: string[] } {
  if (gridDifference(image, labels) === null) return { volume: labels, notes: [] };
  const placed = placeOnGrid(labels, image, file, imageFile ?? 'the image');
  const notes = [`${file}: grid ${labels.size.join('x')} placed on the image grid at voxel offset ${placed.offset.join(', ')}`];
  if (placed.outside > 0) notes.push(`${file}: ${placed.outside} label voxel(s) lie outside the image and are ignored`);
  return { volume: placed.volume, notes };
}
