/**
 * Integrity checks on NIfTI-1 files that ITK's reader lets pass silently: a truncated or corrupt gzip stream
 * (read as zero voxels) and NaN or infinite float voxels (read as 0). Only the header fields needed for the
 * checks are decoded; ITK remains the reader.
 */
import { promises as fsp } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { KeysliceError } from '../util/errors.js';

/** NIfTI datatype codes of float voxels: 16 float32, 64 float64. */
const FLOAT_TYPES: Record<number, number> = { 16: 4, 64: 8 };

/** The error for non-finite voxels, shared by every reader. */
export function nonFiniteError(file: string, count: number, at: number[]): KeysliceError {
  return new KeysliceError(
    'NON_FINITE_VOXELS',
    `${count} voxel(s) are NaN or infinite (first at voxel [${at.join(', ')}]); fix or mask them before segmenting`,
    file,
  );
}

export async function checkNiftiFile(file: string, checkFinite = true): Promise<void> {
  let buf = await fsp.readFile(file);
  if (file.toLowerCase().endsWith('.gz')) {
    try {
      buf = gunzipSync(buf);
    } catch (err) {
      throw new KeysliceError('FILE_UNREADABLE', `compressed data is damaged or truncated (${(err as Error).message})`, file);
    }
  }
  if (buf.length < 348) throw new KeysliceError('FILE_UNREADABLE', `only ${buf.length} bytes: too short for a NIfTI header`, file);
  const le = buf.readInt32LE(0) === 348;
  const be = buf.readInt32BE(0) === 348;
  if (!le && !be) return; // NIfTI-2 or not NIfTI at all: left to the reader
  const i16 = (o: number) => (le ? buf.readInt16LE(o) : buf.readInt16BE(o));
  const ndim = i16(40);
  if (ndim < 1 || ndim > 7) return;
  let n = 1;
  for (let d = 1; d <= ndim; d++) n *= Math.max(1, i16(40 + 2 * d));
  const datatype = i16(70);
  const bitpix = i16(72);
  const voxOffset = Math.max(352, Math.floor(le ? buf.readFloatLE(108) : buf.readFloatBE(108)));
  const expected = voxOffset + (n * bitpix) / 8;
  if (buf.length < expected) {
    throw new KeysliceError(
      'FILE_UNREADABLE',
      `file is truncated: the header promises ${expected} bytes, only ${buf.length} are present`,
      file,
    );
  }
  const width = FLOAT_TYPES[datatype];
  if (!width || !checkFinite) return;
  let bad = 0;
  let first = -1;
  for (let i = 0; i < n; i++) {
    const o = voxOffset + i * width;
    const v = width === 4 ? (le ? buf.readFloatLE(o) : buf.readFloatBE(o)) : le ? buf.readDoubleLE(o) : buf.readDoubleBE(o);
    if (!Number.isFinite(v)) {
      if (first < 0) first = i;
      bad++;
    }
  }
  if (bad > 0) {
    const nx = Math.max(1, i16(42));
    const ny = Math.max(1, i16(44));
    const at = [first % nx, Math.floor(first / nx) % ny, Math.floor(first / (nx * ny))];
    throw nonFiniteError(file, bad, at);
  }
}
