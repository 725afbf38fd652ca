/**
 * Reads the grid size from an image header without reading voxel data, so that impossible volumes (too large,
 * 4D) are refused with a clear message before any reader allocates memory for them. Supports NIfTI-1 (plain or
 * gzip), NRRD/NHDR and MetaImage (MHA/MHD) headers; returns null for anything else.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import { createGunzip } from 'node:zlib';

async function firstBytes(file: string, n: number, gzip: boolean): Promise<Buffer> {
  if (!gzip) {
    const fh = await fsp.open(file, 'r');
    try {
      const buf = Buffer.alloc(n);
      const { bytesRead } = await fh.read(buf, 0, n, 0);
      return buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const src = createReadStream(file);
    const gz = createGunzip();
    const done = () => {
      src.destroy();
      gz.destroy();
      resolve(Buffer.concat(chunks).subarray(0, n));
    };
    gz.on('data', (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got >= n) done();
    });
    gz.on('end', done);
    gz.on('error', done);
    src.on('error', done);
    src.pipe(gz);
  });
}

export interface NiftiHeader {
  littleEndian: boolean;
  /** dim[1..dim[0]], each at least 1. */
  size: number[];
  datatype: number;
  bitpix: number;
  /** Byte offset of the voxel data (at least 352). */
  voxOffset: number;
}

/** The few NIfTI-1 header fields keyslice checks; null when `buf` does not start with a NIfTI-1 header. */
export function parseNiftiHeader(buf: Buffer): NiftiHeader | null {
  if (buf.length < 348) return null;
  const le = buf.readInt32LE(0) === 348;
  if (!le && buf.readInt32BE(0) !== 348) return null;
  const i16 = (o: number) => (le ? buf.readInt16LE(o) : buf.readInt16BE(o));
  const ndim = i16(40);
  if (ndim < 1 || ndim > 7) return null;
  const size: number[] = [];
  for (let d = 1; d <= ndim; d++) size.push(Math.max(1, i16(40 + 2 * d)));
  const voxOffset = Math.max(352, Math.floor(le ? buf.readFloatLE(108) : buf.readFloatBE(108)));
  return { littleEndian: le, size, datatype: i16(70), bitpix: i16(72), voxOffset };
}

function textHeaderSize(text: string, key: RegExp): number[] | null {
  const m = key.exec(text);
  if (!m) return null;
  const size = m[1].trim().split(/\s+/).map(Number);
  return size.every((s) => Number.isInteger(s) && s > 0) ? size : null;
}

/** Grid size from the header, or null when the format is not one of those above or the header is unreadable. */
export async function peekImageSize(file: string): Promise<number[] | null> {
  const f = file.toLowerCase();
  try {
    if (f.endsWith('.nii') || f.endsWith('.nii.gz')) return parseNiftiHeader(await firstBytes(file, 348, f.endsWith('.gz')))?.size ?? null;
    if (f.endsWith('.nrrd') || f.endsWith('.nhdr')) {
      const text = (await firstBytes(file, 8192, false)).toString('latin1').split(/\r?\n\r?\n/)[0];
      return textHeaderSize(text, /^sizes:\s*([^\n]+)$/m);
    }
    if (f.endsWith('.mha') || f.endsWith('.mhd')) {
      const text = (await firstBytes(file, 8192, false)).toString('latin1');
      return textHeaderSize(text, /^DimSize\s*=\s*([^\n]+)$/m);
    }
  } catch {
    return null;
  }
  return null;
}
