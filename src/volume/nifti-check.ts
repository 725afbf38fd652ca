/**
 * Integrity checks on NIfTI-1 files that ITK's reader lets pass silently: a truncated or corrupt gzip stream
 * (read as zero voxels) and NaN or infinite float voxels (read as 0). Only the header fields needed for the
 * checks are decoded; ITK remains the reader.
 */
import { promises as fsp } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { KeysliceError } from '../util/errors.js';
import { parseNiftiHeader } from './header-peek.js';

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
  const h = parseNiftiHeader(buf);
  if (!h) return; // NIfTI-2 or not NIfTI at all: left to the reader
  const le = h.littleEndian;
  const n = h.size.reduce((a, b) => a * b, 1);
  const { datatype, bitpix, voxOffset } = h;
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
    const nx = h.size[0];
    const ny = h.size[1] ?? 1;
    const at = [first % nx, Math.floor(first / nx) % ny, Math.floor(first / (nx * ny))];
    throw nonFiniteError(file, bad, at);
  }
}
