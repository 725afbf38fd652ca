/**
 * 3D Slicer segmentation files (`.seg.nrrd`): a NRRD label map with one `SegmentN_*` key set per segment (name,
 * colour, label value, layer, extent) and the `Segmentation_*` keys Slicer writes. Reads what Slicer writes:
 * one shared layer (3D) or several layers (4D, a "list" first axis), any space (LPS or RAS), raw or gzip,
 * cropped to the segments' extent or not; writes one layer on the full grid of the labels given.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { KeysliceError } from '../util/errors.js';
import type { LabelInfo, Rgb } from '../labels/label-table.js';
import { allocLabels, type LabelArray, type Vec3, type Volume } from './volume.js';
import { segNrrdBytes } from './seg-nrrd.js';

export { labelExtent, segNrrdBytes } from './seg-nrrd.js';

export interface Segment extends LabelInfo {
  /** Slicer's segment ID. */
  id: string;
}

export interface SegNrrd {
  /** All segments merged into one label volume on the file's grid: segment i has label value `segments[i].value`. */
  labels: Volume<LabelArray>;
  segments: Segment[];
  /** Slicer's `Segmentation_ReferenceImageExtentOffset` (the crop's offset in its reference image), when given. */
  referenceOffset?: Vec3;
  /** Voxels claimed by more than one segment (the later segment kept). */
  overlapping: number;
}

const TYPES: Record<string, { bytes: number; get: (v: DataView, o: number, le: boolean) => number }> = {
  uint8: { bytes: 1, get: (v, o) => v.getUint8(o) },
  int8: { bytes: 1, get: (v, o) => v.getInt8(o) },
  uint16: { bytes: 2, get: (v, o, le) => v.getUint16(o, le) },
  int16: { bytes: 2, get: (v, o, le) => v.getInt16(o, le) },
  uint32: { bytes: 4, get: (v, o, le) => v.getUint32(o, le) },
  int32: { bytes: 4, get: (v, o, le) => v.getInt32(o, le) },
  float: { bytes: 4, get: (v, o, le) => v.getFloat32(o, le) },
  double: { bytes: 8, get: (v, o, le) => v.getFloat64(o, le) },
};

const TYPE_ALIASES: Record<string, string> = {
  'unsigned char': 'uint8', uchar: 'uint8', uint8: 'uint8', uint8_t: 'uint8',
  'signed char': 'int8', char: 'int8', int8: 'int8', int8_t: 'int8',
  'unsigned short': 'uint16', ushort: 'uint16', uint16: 'uint16', uint16_t: 'uint16', 'unsigned short int': 'uint16',
  short: 'int16', 'short int': 'int16', 'signed short': 'int16', int16: 'int16', int16_t: 'int16',
  'unsigned int': 'uint32', uint: 'uint32', uint32: 'uint32', uint32_t: 'uint32',
  int: 'int32', 'signed int': 'int32', int32: 'int32', int32_t: 'int32',
  float: 'float', double: 'double',
};

function vector(text: string): number[] | null {
  const m = /^\(([^)]*)\)$/.exec(text.trim());
  return m ? m[1].split(',').map(Number) : null;
}

/** Parses a `.seg.nrrd` (or any NRRD label map) from its bytes. */
export function parseSegNrrd(bytes: Uint8Array, file: string): SegNrrd {
  const fail = (msg: string): never => {
    throw new KeysliceError('FILE_UNREADABLE', `not a readable segmentation NRRD: ${msg}`, file);
  };
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (head.toString('latin1', 0, 4) !== 'NRRD') fail('no "NRRD" magic');
  let end = head.indexOf('\n\n', 0, 'latin1');
  let skip = 2;
  const crlf = head.indexOf('\r\n\r\n', 0, 'latin1');
  if (crlf >= 0 && (end < 0 || crlf < end)) {
    end = crlf;
    skip = 4;
  }
  if (end < 0) fail('header has no end');
  const fields = new Map<string, string>();
  const keys = new Map<string, string>();
  for (const raw of head.toString('latin1', 0, end).split(/\r?\n/).slice(1)) {
    if (raw.startsWith('#') || raw.trim() === '') continue;
    const kv = raw.indexOf(':=');
    const f = raw.indexOf(': ');
    if (kv >= 0 && (f < 0 || kv < f)) keys.set(raw.slice(0, kv), raw.slice(kv + 2));
    else if (f >= 0) fields.set(raw.slice(0, f).trim().toLowerCase(), raw.slice(f + 2).trim());
  }
  const type = TYPE_ALIASES[fields.get('type') ?? ''];
  if (!type) fail(`voxel type "${fields.get('type')}" is not a label type`);
  if (fields.has('data file') || fields.has('datafile')) fail('detached data files are not supported; save the segmentation as one .seg.nrrd');
  const dimension = Number(fields.get('dimension'));
  const sizes = (fields.get('sizes') ?? '').split(/\s+/).map(Number);
  if (!(dimension === 3 || dimension === 4) || sizes.length !== dimension) fail(`dimension ${dimension} with sizes "${fields.get('sizes')}"`);
  const layers = dimension === 4 ? sizes[0] : 1;
  const size = sizes.slice(dimension - 3) as Vec3;
  const dirs = [...(fields.get('space directions') ?? '').matchAll(/\([^)]*\)/g)].map((m) => vector(m[0]));
  if (dirs.length !== 3 || dirs.some((d) => d === null || d.length !== 3)) fail(`space directions "${fields.get('space directions')}"`);
  const space = (fields.get('space') ?? 'left-posterior-superior').toLowerCase();
  const ras = space === 'right-anterior-superior' || space === 'ras';
  if (!ras && !(space === 'left-posterior-superior' || space === 'lps')) fail(`space "${space}" (expected LPS or RAS)`);
  const flip = (v: number[]) => (ras ? [-v[0] + 0, -v[1] + 0, v[2]] : v);
  const cols = (dirs as number[][]).map(flip);
  const spacing = cols.map((c) => Math.hypot(c[0], c[1], c[2])) as Vec3;
  const direction = [0, 1, 2].flatMap((r) => [0, 1, 2].map((c) => cols[c][r] / spacing[c] + 0));
  const origin = flip(vector(fields.get('space origin') ?? '(0,0,0)') ?? [0, 0, 0]) as Vec3;
  const encoding = (fields.get('encoding') ?? 'raw').toLowerCase();
  let data = bytes.subarray(end + skip);
  if (encoding === 'gzip' || encoding === 'gz') {
    try {
      data = gunzipSync(data);
    } catch {
      fail('gzip data could not be decompressed (truncated file?)');
    }
  } else if (encoding !== 'raw') fail(`encoding "${encoding}" (expected raw or gzip)`);
  const t = TYPES[type];
  const n = size[0] * size[1] * size[2];
  if (data.length < n * layers * t.bytes) fail(`data holds ${data.length} bytes, the header needs ${n * layers * t.bytes}`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const le = (fields.get('endian') ?? 'little') !== 'big';

  const segments: Segment[] = [];
  const raw: { layer: number; labelValue: number }[] = [];
  for (let i = 0; keys.has(`Segment${i}_ID`) || keys.has(`Segment${i}_Name`); i++) {
    const color = (keys.get(`Segment${i}_Color`) ?? '').split(/\s+/).map(Number);
    const rgb = (color.length === 3 && color.every(Number.isFinite) ? color.map((c) => Math.round(c * 255)) : [128, 128, 128]) as Rgb;
    const layer = Number(keys.get(`Segment${i}_Layer`) ?? (layers > 1 ? i : 0));
    const labelValue = Number(keys.get(`Segment${i}_LabelValue`) ?? 1);
    segments.push({ value: i + 1, id: keys.get(`Segment${i}_ID`) ?? `Segment_${i + 1}`, name: keys.get(`Segment${i}_Name`) ?? `Segment_${i + 1}`, color: rgb });
    raw.push({ layer, labelValue });
  }
  // Without segment keys: a plain label map, its values taken as they are.
  const plain = segments.length === 0;
  // Keep Slicer's label values as keyslice's when one layer holds every segment with distinct values.
  const keepValues = !plain && layers === 1 && new Set(raw.map((r) => r.labelValue)).size === raw.length && raw.every((r) => r.labelValue >= 1 && r.labelValue <= 65535);
  if (keepValues) raw.forEach((r, i) => (segments[i].value = r.labelValue));
  const lookup = new Map<string, number>();
  raw.forEach((r, i) => lookup.set(`${r.layer}:${r.labelValue}`, segments[i].value));
  let maxValue = 0;
  for (let i = 0; i < (plain ? n : 0); i++) maxValue = Math.max(maxValue, t.get(view, i * t.bytes, le));
  const out = allocLabels(n, plain ? maxValue : Math.max(1, ...segments.map((s) => s.value)));
  let overlapping = 0;
  for (let i = 0; i < n; i++) {
    for (let l = 0; l < layers; l++) {
      const v = t.get(view, (i * layers + l) * t.bytes, le);
      if (v === 0) continue;
      let value: number | undefined;
      if (plain) {
        if (!Number.isInteger(v) || v < 0 || v > 65535) fail(`voxel value ${v} is not a label`);
        value = v;
      } else value = lookup.get(`${l}:${v}`);
      if (value === undefined) continue;
      if (out[i] !== 0 && out[i] !== value) overlapping++;
      out[i] = value;
    }
  }
  const off = (keys.get('Segmentation_ReferenceImageExtentOffset') ?? '').split(/\s+/).map(Number);
  return {
    labels: { size, spacing, origin, direction, data: out },
    segments: segments.sort((a, b) => a.value - b.value),
    ...(off.length === 3 && off.every(Number.isInteger) ? { referenceOffset: off as Vec3 } : {}),
    overlapping,
  };
}

/** The bytes of a `.seg.nrrd` holding `labels` (one layer, full grid) with one segment per entry of `infos`. */
export function formatSegNrrd(labels: Volume<LabelArray>, infos: readonly LabelInfo[]): Buffer {
  const bytes = segNrrdBytes(labels, infos, (raw) => gzipSync(raw));
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
