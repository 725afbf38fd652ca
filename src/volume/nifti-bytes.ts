/**
 * NIfTI-1 in memory, without a file system (browsers, workers): the header parsed with nifti-reader-js and its
 * geometry in ITK's conventions (nifti-geometry.ts), voxels taken from the file's bytes (gzip or not), and a
 * volume written back as a NIfTI-1 file's bytes. The Node reader (nifti-node.ts) streams files through the same
 * header rules, so a file read either way gives the same volume.
 */
import { gunzipSync, gzipSync } from 'fflate';
import { isNIFTI1, NIFTI1 } from 'nifti-reader-js';
import { KeysliceError } from '../util/errors.js';
import { niftiGridGeometry, rotationToQuaternion, type GridGeometry } from './nifti-geometry.js';
import type { Vec3, Volume, VoxelArray } from './volume.js';

/** Bytes read before the header is parsed: the 348-byte header and the 4-byte extension flag. */
export const HEADER_BYTES = 352;
/** Size of the pieces zlib hands over and the writer feeds it. */
export const CHUNK = 1 << 20;

export type TypedCtor =
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
export function mustRescale(p: ParsedNifti): boolean {
  return Math.abs(p.slope - 1) > Number.EPSILON || Math.abs(p.intercept) > Number.EPSILON;
}

export function swapBytes(bytes: Uint8Array, width: number): void {
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
export function niftiHeaderBytes(vol: Volume): Uint8Array {
  const t = DATATYPE_OF.get(vol.data.constructor as TypedCtor);
  if (!t) throw new Error('unsupported voxel type');
  for (const s of vol.size) if (s > 32767) throw new Error(`size ${vol.size.join('x')} does not fit a NIfTI-1 header`);
  const bytes = new Uint8Array(HEADER_BYTES);
  const h = new DataView(bytes.buffer);
  h.setInt32(0, 348, true);
  h.setInt16(40, 3, true);
  for (let i = 0; i < 3; i++) h.setInt16(42 + 2 * i, vol.size[i], true);
  for (let i = 3; i < 7; i++) h.setInt16(42 + 2 * i, 1, true);
  h.setInt16(70, t.code, true);
  h.setInt16(72, t.bits, true);
  // RAS matrix: rows x and y of the LPS placement negated.
  const flip = [-1, -1, 1];
  const rot: number[] = [];
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) rot.push(flip[r] * vol.direction[r * 3 + c]);
  const q = rotationToQuaternion(rot);
  h.setFloat32(76, q.qfac, true);
  for (let i = 0; i < 3; i++) h.setFloat32(80 + 4 * i, vol.spacing[i], true);
  for (let i = 3; i < 7; i++) h.setFloat32(80 + 4 * i, 1, true);
  h.setFloat32(108, HEADER_BYTES, true);
  h.setFloat32(112, 1, true);
  h.setFloat32(116, 0, true);
  h.setUint8(123, 2 | 8); // mm, seconds
  h.setInt16(252, 1, true);
  h.setInt16(254, 1, true);
  h.setFloat32(256, q.b, true);
  h.setFloat32(260, q.c, true);
  h.setFloat32(264, q.d, true);
  for (let r = 0; r < 3; r++) h.setFloat32(268 + 4 * r, flip[r] * vol.origin[r], true);
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) h.setFloat32(280 + 16 * r + 4 * c, rot[r * 3 + c] * vol.spacing[c], true);
    h.setFloat32(280 + 16 * r + 12, flip[r] * vol.origin[r], true);
  }
  bytes.set([0x6e, 0x2b, 0x31, 0], 344); // "n+1\0"
  return bytes;
}

const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * A NIfTI-1 file's bytes (gzip-compressed or not) as a volume. `name` is used in errors. Headers whose geometry
 * only ITK decides (an sform that is not a rotation plus scaling) and the kinds the Node reader leaves to
 * itk-wasm are refused with UNSUPPORTED_IMAGE.
 */
export function niftiFromBytes(file: Uint8Array, name: string): Volume {
  let bytes = file;
  if (file.length >= 2 && file[0] === 0x1f && file[1] === 0x8b) {
    try {
      bytes = gunzipSync(file);
    } catch (err) {
      throw new KeysliceError('FILE_UNREADABLE', `compressed data is damaged or truncated (${(err as Error).message})`, name, { cause: err });
    }
  }
  const head = new Uint8Array(HEADER_BYTES);
  head.set(bytes.subarray(0, HEADER_BYTES));
  const p = bytes.length >= 348 ? parseNifti(head) : null;
  if (!p) throw new KeysliceError('UNSUPPORTED_IMAGE', 'not a 3D scalar NIfTI-1 image this reader handles', name);
  if (!p.geometry) throw new KeysliceError('UNSUPPORTED_IMAGE', 'its sform is not a rotation plus scaling; open it on a keyslice server', name);
  const width = p.ctor.BYTES_PER_ELEMENT;
  const n = p.size[0] * p.size[1] * p.size[2];
  if (bytes.length < p.voxOffset + n * width) {
    throw new KeysliceError('FILE_UNREADABLE', `file is truncated: the header promises ${p.voxOffset + n * width} bytes, only ${bytes.length} are present`, name);
  }
  const voxels = bytes.slice(p.voxOffset, p.voxOffset + n * width);
  if (width > 1 && p.header.littleEndian !== littleEndianHost) swapBytes(voxels, width);
  let data: VoxelArray = new p.ctor(voxels.buffer, 0, n);
  if (mustRescale(p)) data = rescaleVoxels(data, p.slope, p.intercept);
  const g = p.geometry;
  return { size: p.size, spacing: g.spacing, origin: g.origin, direction: g.direction, data };
}

/** A volume as a NIfTI-1 file's bytes, gzip-compressed unless `gzip` is false. */
export function niftiToBytes(vol: Volume, gzip = true): Uint8Array {
  if (!littleEndianHost) throw new Error('writing NIfTI needs a little-endian host');
  const header = niftiHeaderBytes(vol);
  const out = new Uint8Array(header.length + vol.data.byteLength);
  out.set(header);
  out.set(new Uint8Array(vol.data.buffer, vol.data.byteOffset, vol.data.byteLength), header.length);
  return gzip ? gzipSync(out, { level: 1 }) : out;
}
