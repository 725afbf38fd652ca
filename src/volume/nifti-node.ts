/**
 * NIfTI-1 (.nii, .nii.gz) reading and writing at the speed of (de)compression: the header is parsed with
 * nifti-reader-js, voxels stream through node:zlib straight into the volume's own typed array (one copy, no
 * intermediate whole-file buffers), and writes stream the volume's bytes through gzip into a temporary file.
 * Geometry follows ITK's NIfTI rules exactly (see nifti-geometry.ts), so volumes read here equal those read by
 * itk-wasm. Headers outside what is handled here (NIfTI-2, Analyze, vectors, 64-bit integers, complex or RGB
 * voxels, fewer than three dimensions) are reported as `null` so that the caller can use itk-wasm instead.
 */
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { KeysliceError } from '../util/errors.js';
import { CHUNK, HEADER_BYTES, mustRescale, niftiHeaderBytes, parseNifti, rescaleVoxels, swapBytes, type ParsedNifti } from './nifti-bytes.js';
import type { Volume, VoxelArray } from './volume.js';

export { parseNifti, rescaleVoxels, type ParsedNifti } from './nifti-bytes.js';

function damaged(file: string, err: unknown): KeysliceError {
  return new KeysliceError('FILE_UNREADABLE', `compressed data is damaged or truncated (${(err as Error).message})`, file, {
    cause: err,
  });
}

function truncated(file: string, expected: number, present: number): KeysliceError {
  return new KeysliceError(
    'FILE_UNREADABLE',
    `file is truncated: the header promises ${expected} bytes, only ${present} are present`,
    file,
  );
}

/** Where streamed bytes go: the first ones into the header, those from vox_offset into the voxel buffer. */
class Sink {
  readonly head = Buffer.alloc(HEADER_BYTES);
  headLen = 0;
  parsed: ParsedNifti | null = null;
  voxels: Uint8Array | null = null;
  /** Bytes of the decompressed stream seen so far. */
  pos = 0;

  constructor(private readonly onHeader: (head: Buffer) => ParsedNifti | null) {}

  /** Takes a chunk; returns false when the file turned out not to be one this module reads. */
  push(chunk: Buffer): boolean {
    let off = 0;
    if (this.headLen < HEADER_BYTES) {
      const take = Math.min(HEADER_BYTES - this.headLen, chunk.length);
      chunk.copy(this.head, this.headLen, 0, take);
      this.headLen += take;
      off = take;
      this.pos += take;
      if (this.headLen < HEADER_BYTES) return true;
      this.parsed = this.onHeader(this.head);
      if (!this.parsed) return false;
      const p = this.parsed;
      this.voxels = new Uint8Array(p.size[0] * p.size[1] * p.size[2] * p.ctor.BYTES_PER_ELEMENT);
    }
    const p = this.parsed as ParsedNifti;
    const vox = this.voxels as Uint8Array;
    const start = this.pos; // stream position of chunk[off]
    const end = this.pos + (chunk.length - off);
    const from = Math.max(start, p.voxOffset);
    const to = Math.min(end, p.voxOffset + vox.length);
    if (to > from) vox.set(chunk.subarray(off + (from - start), off + (to - start)), from - p.voxOffset);
    this.pos = end;
    return true;
  }

  /** Bytes of voxel data received. */
  received(): number {
    const p = this.parsed;
    if (!p || !this.voxels) return 0;
    return Math.max(0, Math.min(this.pos - p.voxOffset, this.voxels.length));
  }
}

async function streamInto(file: string, gzip: boolean, sink: Sink): Promise<boolean> {
  const src = createReadStream(file, { highWaterMark: CHUNK });
  const stream = gzip ? src.pipe(createGunzip({ chunkSize: CHUNK })) : src;
  let ok = true;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (!sink.push(chunk)) {
        ok = false;
        break;
      }
    }
  } catch (err) {
    if (String((err as NodeJS.ErrnoException).code ?? '').startsWith('Z_')) throw damaged(file, err);
    throw new KeysliceError('FILE_UNREADABLE', `could not be read (${(err as Error).message})`, file, { cause: err });
  } finally {
    src.destroy();
    if (stream !== src) (stream as NodeJS.ReadableStream & { destroy(): void }).destroy();
  }
  return ok;
}

async function readPlain(file: string, sink: Sink): Promise<boolean> {
  const fh = await fsp.open(file, 'r');
  try {
    const { bytesRead } = await fh.read(sink.head, 0, HEADER_BYTES, 0);
    sink.headLen = bytesRead;
    sink.pos = bytesRead;
    if (bytesRead < 348) return false;
    if (bytesRead < HEADER_BYTES) sink.head.fill(0, bytesRead);
    const p = parseNifti(sink.head);
    if (!p) return false;
    sink.parsed = p;
    const vox = new Uint8Array(p.size[0] * p.size[1] * p.size[2] * p.ctor.BYTES_PER_ELEMENT);
    sink.voxels = vox;
    let got = 0;
    while (got < vox.length) {
      const { bytesRead: r } = await fh.read(vox, got, Math.min(vox.length - got, 1 << 30), p.voxOffset + got);
      if (r === 0) break;
      got += r;
    }
    sink.pos = p.voxOffset + got;
    return true;
  } finally {
    await fh.close();
  }
}

export interface NiftiReadResult {
  /** The volume, with geometry unless {@link geometryFromItk} is true (then spacing/origin/direction are placeholders). */
  volume: Volume;
  /** True where the caller must take the geometry from ITK (an sform/qform choice ITK makes by SVD). */
  geometryFromItk: boolean;
}

/**
 * Reads a NIfTI-1 file; null when it is a kind this reader leaves to itk-wasm. Errors name the file: damaged
 * compression, truncated voxel data, unreadable file.
 */
export async function readNifti(file: string, options: { maxVoxels?: number } = {}): Promise<NiftiReadResult | null> {
  const gzip = file.toLowerCase().endsWith('.gz');
  const sink = new Sink((head) => {
    const p = parseNifti(head);
    if (p && options.maxVoxels !== undefined && p.size[0] * p.size[1] * p.size[2] > options.maxVoxels) return null;
    return p;
  });
  const ok = gzip ? await streamInto(file, true, sink) : await readPlain(file, sink);
  if (!ok) return null;
  if (!sink.parsed || !sink.voxels) return null; // too short for a header, or not NIfTI-1: itk-wasm says why
  const p = sink.parsed;
  const got = sink.received();
  if (got < sink.voxels.length) throw truncated(file, p.voxOffset + sink.voxels.length, p.voxOffset + got);
  const width = p.ctor.BYTES_PER_ELEMENT;
  if (width > 1 && p.header.littleEndian !== (os.endianness() === 'LE')) swapBytes(sink.voxels, width);
  let data: VoxelArray = new p.ctor(sink.voxels.buffer as ArrayBuffer, sink.voxels.byteOffset, sink.voxels.length / width);
  if (mustRescale(p)) data = rescaleVoxels(data, p.slope, p.intercept);
  const g = p.geometry;
  const volume: Volume = {
    size: p.size,
    spacing: g?.spacing ?? [1, 1, 1],
    origin: g?.origin ?? [0, 0, 0],
    direction: g?.direction ?? [1, 0, 0, 0, 1, 0, 0, 0, 1],
    data,
  };
  return { volume, geometryFromItk: g === null };
}

/**
 * The 352-byte NIfTI-1 header of a volume as ITK writes it: qform and sform both scanner-anatomical and both
 * holding the grid's placement (LPS turned into RAS), pixdim the spacing in mm, no scaling.
 */
export function niftiHeaderFor(vol: Volume): Buffer {
  const h = niftiHeaderBytes(vol);
  return Buffer.from(h.buffer, h.byteOffset, h.byteLength);
}

function* pieces(header: Buffer, data: VoxelArray): Generator<Buffer> {
  yield header;
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  for (let o = 0; o < bytes.length; o += CHUNK) yield bytes.subarray(o, Math.min(o + CHUNK, bytes.length));
}

export interface NiftiWriteOptions {
  /** gzip the file (default: true when the name ends in .gz). */
  compress?: boolean;
  /** gzip level 1 (fastest) to 9 (smallest); default 1, as fast as the disk for CT-sized volumes. */
  level?: number;
}

/**
 * Writes a volume as NIfTI-1 to `file` exactly (the caller picks a temporary name and renames it). Returns false
 * on a big-endian machine, where the caller should use another writer.
 */
export async function writeNifti(vol: Volume, file: string, options: NiftiWriteOptions = {}): Promise<boolean> {
  if (os.endianness() !== 'LE') return false;
  const header = niftiHeaderFor(vol);
  const compress = options.compress ?? file.toLowerCase().endsWith('.gz');
  const out = createWriteStream(file);
  if (compress) {
    await pipeline(Readable.from(pieces(header, vol.data)), createGzip({ level: options.level ?? 1, chunkSize: CHUNK }), out);
  } else {
    await pipeline(Readable.from(pieces(header, vol.data)), out);
  }
  return true;
}
