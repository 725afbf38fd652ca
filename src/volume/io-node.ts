/**
 * Reading and writing volumes in Node: NIfTI (.nii, .nii.gz), NRRD (.nrrd, .nhdr), MetaImage (.mha, .mhd)
 * through @itk-wasm/image-io, and DICOM series folders through @itk-wasm/dicom. Geometry (spacing, origin,
 * direction) is carried unchanged in both directions.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readImageNode, writeImageNode } from '@itk-wasm/image-io';
import { PixelTypes, type Image } from 'itk-wasm';
import { KeysliceError } from '../util/errors.js';
import { quietly, thirdPartyMessage } from '../util/quiet.js';
import { readDicomSeries, type DicomSeriesOptions } from './dicom/read-series-node.js';
import { peekImageSize } from './header-peek.js';
import { fromItkImage, toItkImage } from './itk-image.js';
import { checkNiftiFile, nonFiniteError } from './nifti-check.js';
import { readNifti, writeNifti } from './nifti-node.js';
import type { LabelArray, Volume } from './volume.js';

export { toItkImage };

const READ_EXTENSIONS = ['.nii', '.nii.gz', '.nrrd', '.nhdr', '.mha', '.mhd'];
const WRITE_EXTENSIONS = ['.nii', '.nii.gz', '.nrrd', '.mha'];

/** Bytes of working memory keyslice needs per voxel of a volume it segments (image, labels, distance maps). */
const WORKING_BYTES_PER_VOXEL = 16;
/** itk-wasm runs in 32-bit WebAssembly: one image buffer must stay well under 4 GiB. */
const WASM_MAX_BYTES = 2 ** 31;

/**
 * The largest volume (in voxels) that is accepted by default: what fits in half of this machine's memory at
 * {@link WORKING_BYTES_PER_VOXEL} bytes per voxel, and in one WebAssembly buffer. `KEYSLICE_MAX_VOXELS` overrides it.
 */
export function defaultMaxVoxels(): number {
  const env = Number(process.env.KEYSLICE_MAX_VOXELS);
  if (Number.isFinite(env) && env > 0) return Math.floor(env);
  return Math.floor(Math.min((os.totalmem() * 0.5) / WORKING_BYTES_PER_VOXEL, WASM_MAX_BYTES / 4));
}

export interface ReadVolumeOptions {
  /** Refuse volumes with more voxels than this (default {@link defaultMaxVoxels}). */
  maxVoxels?: number;
  /** Refuse NaN or infinite voxel values (default true). */
  rejectNonFinite?: boolean;
  /** DICOM folders: which series, and whether to accept missing slices (see {@link DicomSeriesOptions}). */
  dicom?: DicomSeriesOptions;
  /** Receives what reading repaired or chose (e.g. slices resampled over a gap), for the user. */
  notes?: string[];
  /** NIfTI reader: 'node' streams through node:zlib (default), 'itk' reads through itk-wasm like other formats. */
  niftiReader?: 'node' | 'itk';
  /** Receives the files of the DICOM series read (in slice order), when it was read without resampling. */
  dicomFiles?: string[];
}

function lowerExt(file: string): string {
  const f = file.toLowerCase();
  if (f.endsWith('.nii.gz')) return '.nii.gz';
  return path.extname(f);
}

/** Reads a NIfTI, NRRD or MetaImage file, or a folder holding one DICOM series, as a 3D scalar volume. */
export async function readVolume(file: string, options: ReadVolumeOptions = {}): Promise<Volume> {
  let stat;
  try {
    stat = await fsp.stat(file);
  } catch {
    throw new KeysliceError('FILE_NOT_FOUND', 'no such file or folder', file);
  }
  const maxVoxels = options.maxVoxels ?? defaultMaxVoxels();
  let image: Image;
  if (stat.isDirectory()) {
    const series = await readDicomSeries(file, options.dicom);
    options.notes?.push(...series.notes);
    if (series.notes.length === 0) options.dicomFiles?.push(...series.files);
    image = series.image;
  } else {
    if (!READ_EXTENSIONS.includes(lowerExt(file)) && !(await looksLikeDicom(file))) {
      throw new KeysliceError(
        'UNSUPPORTED_IMAGE',
        `unknown image format (expected ${READ_EXTENSIONS.join(', ')} or a DICOM series folder)`,
        file,
      );
    }
    const peeked = await peekImageSize(file);
    if (peeked) checkSize(peeked, file, maxVoxels);
    const fast = options.niftiReader === 'itk' ? null : await readNiftiFast(file, maxVoxels, options.rejectNonFinite ?? true);
    if (fast) return fast;
    let info: Image;
    try {
      info = await quietly(() => readImageNode(file, { informationOnly: true }));
    } catch (err) {
      throw new KeysliceError('FILE_UNREADABLE', `not a readable image (${errorText(err)})`, file, { cause: err });
    }
    checkShape(info, file, maxVoxels);
    const ext = lowerExt(file);
    if (ext === '.nii' || ext === '.nii.gz') await checkNiftiFile(file, options.rejectNonFinite ?? true);
    try {
      image = await quietly(() => readImageNode(file));
    } catch (err) {
      throw new KeysliceError('FILE_UNREADABLE', `image data could not be read (${errorText(err)})`, file, { cause: err });
    }
  }
  checkShape(image, file, maxVoxels);
  const vol = fromItkImage(image, file);
  if (options.rejectNonFinite ?? true) checkFinite(vol, file);
  return vol;
}

const errorText = thirdPartyMessage;

/** NIfTI-1 through nifti-node.ts; null for anything it leaves to itk-wasm. */
async function readNiftiFast(file: string, maxVoxels: number, rejectNonFinite: boolean): Promise<Volume | null> {
  const ext = lowerExt(file);
  if (ext !== '.nii' && ext !== '.nii.gz') return null;
  const read = await readNifti(file, { maxVoxels });
  if (!read) return null;
  let vol = read.volume;
  if (read.geometryFromItk) {
    let image: Image;
    try {
      image = await quietly(() => readImageNode(file, { informationOnly: true }));
    } catch (err) {
      throw new KeysliceError('FILE_UNREADABLE', `not a readable image (${errorText(err)})`, file, { cause: err });
    }
    vol = { ...fromItkImage({ ...image, data: vol.data } as Image, file), data: vol.data };
  }
  if (rejectNonFinite) checkFinite(vol, file);
  return vol;
}

async function looksLikeDicom(file: string): Promise<boolean> {
  try {
    const fh = await fsp.open(file, 'r');
    try {
      const buf = Buffer.alloc(132);
      const { bytesRead } = await fh.read(buf, 0, 132, 0);
      return bytesRead === 132 && buf.toString('latin1', 128, 132) === 'DICM';
    } finally {
      await fh.close();
    }
  } catch {
    return false;
  }
}

/** Refuses 4D data (beyond a singleton fourth axis) and volumes too large for this machine. */
function checkSize(size: readonly number[], file: string, maxVoxels: number): void {
  const dimension = size.length;
  if (dimension > 3 && size.slice(3).some((s) => s > 1)) {
    throw new KeysliceError(
      'UNSUPPORTED_IMAGE',
      `${dimension}D image of size ${size.join('x')}: keyslice segments 3D volumes; extract one volume first`,
      file,
    );
  }
  if (dimension < 2) throw new KeysliceError('UNSUPPORTED_IMAGE', `${dimension}D image: need a 3D volume`, file);
  const n = size.slice(0, 3).reduce((a, b) => a * b, 1);
  if (n > maxVoxels) {
    const gib = (n * WORKING_BYTES_PER_VOXEL) / 2 ** 30;
    throw new KeysliceError(
      'TOO_LARGE',
      `volume of ${size.join('x')} = ${n} voxels is too large (limit ${maxVoxels} voxels on this machine; ` +
        `segmenting it needs about ${gib.toFixed(1)} GiB). Crop or downsample it, or raise KEYSLICE_MAX_VOXELS.`,
      file,
    );
  }
}

/** Dimension, pixel type and size checks on an image's header. */
function checkShape(image: Image, file: string, maxVoxels: number): void {
  const { components, pixelType } = image.imageType;
  if (components !== 1 || pixelType !== PixelTypes.Scalar) {
    throw new KeysliceError(
      'UNSUPPORTED_IMAGE',
      `pixel type ${pixelType} with ${components} components is not supported: keyslice needs one scalar per voxel`,
      file,
    );
  }
  checkSize(image.size, file, maxVoxels);
}

function checkFinite(vol: Volume, file: string): void {
  const d = vol.data;
  if (!(d instanceof Float32Array || d instanceof Float64Array)) return;
  let bad = 0;
  let first = -1;
  for (let i = 0; i < d.length; i++) {
    if (!Number.isFinite(d[i])) {
      if (first < 0) first = i;
      bad++;
    }
  }
  if (bad > 0) {
    const x = first % vol.size[0];
    const y = Math.floor(first / vol.size[0]) % vol.size[1];
    const z = Math.floor(first / (vol.size[0] * vol.size[1]));
    throw nonFiniteError(file, bad, [x, y, z]);
  }
}

/**
 * Turns a volume read from a label file into integer labels (0..65535). Label files are often float32 holding
 * whole numbers; anything else (fractions, negatives, huge values) is refused with a message naming the file.
 */
export function toLabelVolume(vol: Volume, file: string): Volume<LabelArray> {
  const d = vol.data;
  let max = 0;
  for (let i = 0; i < d.length; i++) {
    const v = d[i];
    if (v !== 0 && (!Number.isInteger(v) || v < 0 || v > 65535)) {
      throw new KeysliceError(
        'INVALID_ANNOTATION',
        `label volume holds the value ${v}; labels must be whole numbers from 0 to 65535`,
        file,
      );
    }
    if (v > max) max = v;
  }
  if (d instanceof Uint8Array || (d instanceof Uint16Array && max > 255)) return { ...vol, data: d };
  const out = max <= 255 ? new Uint8Array(d.length) : new Uint16Array(d.length);
  for (let i = 0; i < d.length; i++) out[i] = d[i];
  return { ...vol, data: out };
}

/** Reads a label file as integer labels on its own grid. */
export async function readLabelVolume(file: string, options: ReadVolumeOptions = {}): Promise<Volume<LabelArray>> {
  return toLabelVolume(await readVolume(file, options), file);
}

export interface WriteVolumeOptions {
  /** Paths that must never be written (the inputs of the run). */
  protect?: string[];
  /** Compress where the format allows (default: true for .nii.gz and .nrrd, false otherwise). */
  compress?: boolean;
}

async function samePath(a: string, b: string): Promise<boolean> {
  const real = async (p: string) => {
    try {
      return await fsp.realpath(p);
    } catch {
      return path.resolve(p);
    }
  };
  return (await real(a)) === (await real(b));
}

/** Refuses an output path that is one of the inputs, or whose folder does not exist. Any kind of file. */
export async function checkOutputTarget(file: string, protect: string[] = []): Promise<void> {
  for (const p of protect) {
    if (await samePath(file, p)) {
      throw new KeysliceError('OUTPUT_CONFLICT', 'output would overwrite an input file; choose another output path', file);
    }
  }
  const dir = path.dirname(path.resolve(file));
  const st = await fsp.stat(dir).catch(() => null);
  if (!st?.isDirectory()) throw new KeysliceError('WRITE_FAILED', `output folder ${dir} does not exist`, file);
}

/** {@link checkOutputTarget} for a volume, plus an extension keyslice can write. */
export async function checkOutputPath(file: string, protect: string[] = []): Promise<void> {
  const ext = lowerExt(file);
  if (!WRITE_EXTENSIONS.includes(ext)) {
    throw new KeysliceError('USAGE', `cannot write "${ext || 'no extension'}"; use one of ${WRITE_EXTENSIONS.join(', ')}`, file);
  }
  await checkOutputTarget(file, protect);
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

/** Writes a text file through a temporary file and a rename, refusing to replace an input. */
export async function writeTextAtomic(file: string, text: string, protect: string[] = []): Promise<void> {
  await checkOutputTarget(file, protect);
  const tmp = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.tmp-${process.pid}`);
  try {
    await fsp.writeFile(tmp, text);
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw new KeysliceError('WRITE_FAILED', `the text writer failed: ${errorText(err)}`, file, { cause: err });
  }
}

/**
 * Writes a volume (NIfTI, NRRD or MetaImage, chosen by extension) to a temporary file beside the target and
 * renames it into place, so that a failed write never leaves a partial file and never touches an input.
 */
export async function writeVolume(vol: Volume, file: string, options: WriteVolumeOptions = {}): Promise<void> {
  await checkOutputPath(file, options.protect);
  const ext = lowerExt(file);
  const dir = path.dirname(path.resolve(file));
  const base = path.basename(file).slice(0, -ext.length);
  const tmp = path.join(dir, `.${base}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}${ext}`);
  const compress = options.compress ?? (ext === '.nii.gz' || ext === '.nrrd');
  let writer = `${ext} writer (@itk-wasm/image-io writeImage)`;
  try {
    const nifti = ext === '.nii' || ext === '.nii.gz';
    const itkWriter = writer;
    if (nifti) writer = `${ext} writer (node:zlib)`;
    if (!nifti || !(await writeNifti(vol, tmp, { compress }))) {
      writer = itkWriter;
      await quietly(() => writeImageNode(toItkImage(vol), tmp, { useCompression: compress }));
    }
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw new KeysliceError('WRITE_FAILED', `the ${writer} failed: ${errorText(err)}`, file, { cause: err });
  }
}
