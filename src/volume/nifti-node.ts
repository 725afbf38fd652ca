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
import { isNIFTI1, NIFTI1 } from 'nifti-reader-js';
import { KeysliceError } from '../util/errors.js';
import { niftiGridGeometry, rotationToQuaternion, type GridGeometry } from './nifti-geometry.js';
import type { Vec3, Volume, VoxelArray } from './volume.js';

/** Bytes read before the header is parsed: the 348-byte header and the 4-byte extension flag. */
const HEADER_BYTES = 352;
/** Size of the pieces zlib hands over and the writer feeds it. */
const CHUNK = 1 << 20;

type TypedCtor =
  | Uint8ArrayConstructor
  | Int8ArrayConstructor
  | Uint16ArrayConstructor
  | Int16ArrayConstructor
  | Uint32ArrayConstructor
  | Int32ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor;

/** NIfTI datatype code -> typed array of that voxel type. */
const DATATYPES: Record<number, TypedCtor> = {
  2: Uint8Array,
  4: Int16Array,
  8: Int32Array,
  16: Float32Array,
  64: Float64Array,
  256: Int8Array,
  512: Uint16Array,
  768: Uint32Array,
};

/** Intent codes that make ITK read vectors or matrices rather than scalars. */
const NON_SCALAR_INTENTS = new Set([1004, 1005, 1007]);

export interface ParsedNifti {
  header: NIFTI1;
  size: Vec3;
  ctor: TypedCtor;
  voxOffset: number;
  /** Geometry, or null where ITK's choice between sform and qform must be asked of ITK. */
  geometry: GridGeometry | null;
  slope: number;
  intercept: number;
}

/** Parses the first bytes of a NIfTI file; null when the file is not one this module reads. */
export function parseNifti(first: Uint8Array): ParsedNifti | null {
  if (first.length < 348) return null;
  const ab = first.buffer.slice(first.byteOffset, first.byteOffset + Math.min(first.length, HEADER_BYTES)) as ArrayBuffer;
  if (!isNIFTI1(ab)) return null;
  const header = new NIFTI1();
  header.readHeader(ab);
  const dims = header.dims;
  const ndim = dims[0];
  if (ndim < 3 || ndim > 7) return null;
  for (let d = 4; d <= ndim; d++) if (dims[d] > 1) return null;
  if (dims[1] < 1 || dims[2] < 1 || dims[3] < 1) return null;
  if (NON_SCALAR_INTENTS.has(header.intent_code)) return null;
  const ctor = DATATYPES[header.datatypeCode];
  if (!ctor) return null;
  const dv = new DataView(ab);
  const srow: number[] = [];
  for (let i = 0; i < 12; i++) srow.push(dv.getFloat32(280 + 4 * i, header.littleEndian));
  const geometry = niftiGridGeometry({
    dims,
    pixDims: header.pixDims,
    xyztUnits: header.xyzt_units,
    qformCode: header.qform_code,
    sformCode: header.sform_code,
    quaternB: header.quatern_b,
    quaternC: header.quatern_c,
    quaternD: header.quatern_d,
    qoffset: [header.qoffset_x, header.qoffset_y, header.qoffset_z],
    srow,
  });
  let slope = Number.isFinite(header.scl_slope) ? header.scl_slope : 0;
  const intercept = Number.isFinite(header.scl_inter) ? header.scl_inter : 0;
  if (Math.abs(slope) < Number.EPSILON) slope = 1;
  const voxOffset = Math.max(HEADER_BYTES, Math.floor(header.vox_offset));
  return { header, size: [dims[1], dims[2], dims[3]], ctor, voxOffset, geometry, slope, intercept };
}

/** Whether ITK would apply the header's scaling (and so report float voxels). */
function mustRescale(p: ParsedNifti): boolean {
  return Math.abs(p.slope - 1) > Number.EPSILON || Math.abs(p.intercept) > Number.EPSILON;
}

function swapBytes(bytes: Uint8Array, width: number): void {
  for (let i = 0; i + width <= bytes.length; i += width) {
    for (let a = i, b = i + width - 1; a < b; a++, b--) {
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
  }
}

/** Applies scl_slope/scl_inter the way ITK does: integer voxels become float32, float voxels keep their type. */
export function rescaleVoxels(data: VoxelArray, slope: number, intercept: number): Float32Array | Float64Array {
  if (data instanceof Float64Array) {
    for (let i = 0; i < data.length; i++) data[i] = data[i] * slope + intercept;
    return data;
  }
  // Integers are first cast to float32, then scaled in double precision and stored as float32.
  const out = data instanceof Float32Array ? data : new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = Math.fround(data[i]) * slope + intercept;
  return out;
}

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

const DATATYPE_OF = new Map<TypedCtor, { code: number; bits: number }>([
  [Uint8Array, { code: 2, bits: 8 }],
  [Int16Array, { code: 4, bits: 16 }],
  [Int32Array, { code: 8, bits: 32 }],
  [Float32Array, { code: 16, bits: 32 }],
  [Float64Array, { code: 64, bits: 64 }],
  [Int8Array, { code: 256, bits: 8 }],
  [Uint16Array, { code: 512, bits: 16 }],
  [Uint32Array, { code: 768, bits: 32 }],
]);

/**
 * The 352-byte NIfTI-1 header of a volume as ITK writes it: qform and sform both scanner-anatomical and both
 * holding the grid's placement (LPS turned into RAS), pixdim the spacing in mm, no scaling.
 */
export function niftiHeaderFor(vol: Volume): Buffer {
  const t = DATATYPE_OF.get(vol.data.constructor as TypedCtor);
  if (!t) throw new Error('unsupported voxel type');
  for (const s of vol.size) if (s > 32767) throw new Error(`size ${vol.size.join('x')} does not fit a NIfTI-1 header`);
  const h = Buffer.alloc(HEADER_BYTES);
  h.writeInt32LE(348, 0);
  h.writeInt16LE(3, 40);
  for (let i = 0; i < 3; i++) h.writeInt16LE(vol.size[i], 42 + 2 * i);
  for (let i = 3; i < 7; i++) h.writeInt16LE(1, 42 + 2 * i);
  h.writeInt16LE(t.code, 70);
  h.writeInt16LE(t.bits, 72);
  // RAS matrix: rows x and y of the LPS placement negated.
  const flip = [-1, -1, 1];
  const rot: number[] = [];
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) rot.push(flip[r] * vol.direction[r * 3 + c]);
  const q = rotationToQuaternion(rot);
  h.writeFloatLE(q.qfac, 76);
  for (let i = 0; i < 3; i++) h.writeFloatLE(vol.spacing[i], 80 + 4 * i);
  for (let i = 3; i < 7; i++) h.writeFloatLE(1, 80 + 4 * i);
  h.writeFloatLE(HEADER_BYTES, 108);
  h.writeFloatLE(1, 112);
  h.writeFloatLE(0, 116);
  h.writeUInt8(2 | 8, 123); // mm, seconds
  h.writeInt16LE(1, 252);
  h.writeInt16LE(1, 254);
  h.writeFloatLE(q.b, 256);
  h.writeFloatLE(q.c, 260);
  h.writeFloatLE(q.d, 264);
  for (let r = 0; r < 3; r++) h.writeFloatLE(flip[r] * vol.origin[r], 268 + 4 * r);
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) h.writeFloatLE(rot[r * 3 + c] * vol.spacing[c], 280 + 16 * r + 4 * c);
    h.writeFloatLE(flip[r] * vol.origin[r], 280 + 16 * r + 12);
  }
  h.write('n+1\0', 344, 'latin1');
  return h;
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
