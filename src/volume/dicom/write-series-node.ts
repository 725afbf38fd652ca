/**
 * Writing a volume as a DICOM image series (one explicit-VR little-endian Part 10 file per slice along axis 2),
 * with its geometry in Image Position/Orientation (Patient) and Pixel Spacing and its voxels as int16 with
 * rescale slope and intercept. keyslice writes one beside a DICOM SEG when the image was not DICOM, so that the
 * segmentation references a series that exists.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Volume } from '../volume.js';

const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';
const MR_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.4';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
/** keyslice's implementation class UID (a UUID-derived 2.25 UID). */
const IMPLEMENTATION_UID = '2.25.178839142470215236066226453431562412033';

/** A new globally unique UID (2.25 + a random 128-bit number, as DICOM PS3.5 B.2 allows). */
export function newUid(): string {
  return `2.25.${BigInt(`0x${randomBytes(16).toString('hex')}`).toString()}`;
}

type Value = string | number[] | Uint8Array;
interface Element {
  tag: number;
  vr: string;
  value: Value;
}

const LONG_VRS = new Set(['OB', 'OW', 'OF', 'SQ', 'UT', 'UN']);

function encodeValue(vr: string, value: Value): Buffer {
  if (value instanceof Uint8Array) {
    const b = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    return b.length % 2 ? Buffer.concat([b, Buffer.alloc(1)]) : b;
  }
  if (vr === 'US') {
    const b = Buffer.alloc(2 * (value as number[]).length);
    (value as number[]).forEach((v, i) => b.writeUInt16LE(v, 2 * i));
    return b;
  }
  if (vr === 'UL') {
    const b = Buffer.alloc(4);
    b.writeUInt32LE((value as number[])[0]);
    return b;
  }
  const text = Array.isArray(value) ? value.map((v) => (vr === 'DS' ? dsText(v) : String(v))).join('\\') : value;
  const pad = vr === 'UI' ? '\0' : ' ';
  return Buffer.from(text.length % 2 ? text + pad : text, 'latin1');
}

/** A decimal string of at most 16 characters (DICOM DS). */
function dsText(v: number): string {
  for (let p = 16; p > 1; p--) {
    const s = String(+v.toPrecision(p));
    if (s.length <= 16) return s;
  }
  return v.toExponential(8);
}

function encodeElements(elements: Element[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of [...elements].sort((a, b) => a.tag - b.tag)) {
    const v = encodeValue(e.vr, e.value);
    const long = LONG_VRS.has(e.vr);
    const h = Buffer.alloc(long ? 12 : 8);
    h.writeUInt16LE(e.tag >>> 16, 0);
    h.writeUInt16LE(e.tag & 0xffff, 2);
    h.write(e.vr, 4, 'latin1');
    if (long) h.writeUInt32LE(v.length, 8);
    else h.writeUInt16LE(v.length, 6);
    parts.push(h, v);
  }
  return Buffer.concat(parts);
}

/** A Part 10 file: preamble, file meta group, data set. */
export function part10(sopClass: string, sopInstance: string, dataset: Element[]): Buffer {
  const meta = encodeElements([
    { tag: 0x00020001, vr: 'OB', value: new Uint8Array([0, 1]) },
    { tag: 0x00020002, vr: 'UI', value: sopClass },
    { tag: 0x00020003, vr: 'UI', value: sopInstance },
    { tag: 0x00020010, vr: 'UI', value: EXPLICIT_LE },
    { tag: 0x00020012, vr: 'UI', value: IMPLEMENTATION_UID },
  ]);
  const groupLength = encodeElements([{ tag: 0x00020000, vr: 'UL', value: [meta.length] }]);
  const preamble = Buffer.alloc(132);
  preamble.write('DICM', 128, 'latin1');
  return Buffer.concat([preamble, groupLength, meta, encodeElements(dataset)]);
}

export interface WriteSeriesOptions {
  /** 'CT' (Hounsfield units) or 'MR' (anything else); default: CT when the voxels look like HU. */
  modality?: 'CT' | 'MR';
  seriesDescription?: string;
  patientName?: string;
  patientId?: string;
}

export interface WrittenSeries {
  files: string[];
  studyUid: string;
  seriesUid: string;
  frameOfReferenceUid: string;
}

/** Int16 storage of the voxels: stored = round((value - intercept) / slope). */
function storage(data: ArrayLike<number>): { slope: number; intercept: number } {
  let min = Infinity;
  let max = -Infinity;
  let whole = true;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < min) min = v;
    if (v > max) max = v;
    if (whole && !Number.isInteger(v)) whole = false;
  }
  if (whole && min >= -32768 && max <= 32767) return { slope: 1, intercept: 0 };
  const slope = (max - min) / 65000 || 1;
  return { slope, intercept: min + 32500 * slope };
}

/** Writes `vol` as a DICOM series into `dir` (created), one file per slice along axis 2. */
export async function writeDicomSeries(vol: Volume, dir: string, options: WriteSeriesOptions = {}): Promise<WrittenSeries> {
  await fsp.mkdir(dir, { recursive: true });
  const [nx, ny, nz] = vol.size;
  const d = vol.direction;
  const col = (c: number) => [d[c], d[3 + c], d[6 + c]];
  let min = Infinity;
  for (let i = 0; i < vol.data.length; i += 97) min = Math.min(min, vol.data[i]);
  const modality = options.modality ?? (min <= -900 ? 'CT' : 'MR');
  const sopClass = modality === 'CT' ? CT_IMAGE_STORAGE : MR_IMAGE_STORAGE;
  const { slope, intercept } = storage(vol.data);
  const studyUid = newUid();
  const seriesUid = newUid();
  const frameOfReferenceUid = newUid();
  const files: string[] = [];
  const area = nx * ny;
  for (let k = 0; k < nz; k++) {
    const px = new Int16Array(area);
    for (let i = 0; i < area; i++) px[i] = Math.max(-32768, Math.min(32767, Math.round((vol.data[k * area + i] - intercept) / slope)));
    const ipp = [0, 1, 2].map((r) => vol.origin[r] + col(2)[r] * vol.spacing[2] * k);
    const sop = newUid();
    const ds: Element[] = [
      { tag: 0x00080016, vr: 'UI', value: sopClass },
      { tag: 0x00080018, vr: 'UI', value: sop },
      { tag: 0x00080060, vr: 'CS', value: modality },
      { tag: 0x0008103e, vr: 'LO', value: options.seriesDescription ?? 'keyslice image' },
      { tag: 0x00100010, vr: 'PN', value: options.patientName ?? 'Anonymous' },
      { tag: 0x00100020, vr: 'LO', value: options.patientId ?? 'keyslice' },
      { tag: 0x00180050, vr: 'DS', value: [vol.spacing[2]] },
      { tag: 0x0020000d, vr: 'UI', value: studyUid },
      { tag: 0x0020000e, vr: 'UI', value: seriesUid },
      { tag: 0x00200011, vr: 'IS', value: [1] },
      { tag: 0x00200013, vr: 'IS', value: [k + 1] },
      { tag: 0x00200032, vr: 'DS', value: ipp },
      { tag: 0x00200037, vr: 'DS', value: [...col(0), ...col(1)] },
      { tag: 0x00200052, vr: 'UI', value: frameOfReferenceUid },
      { tag: 0x00280002, vr: 'US', value: [1] },
      { tag: 0x00280004, vr: 'CS', value: 'MONOCHROME2' },
      { tag: 0x00280010, vr: 'US', value: [ny] },
      { tag: 0x00280011, vr: 'US', value: [nx] },
      { tag: 0x00280030, vr: 'DS', value: [vol.spacing[1], vol.spacing[0]] },
      { tag: 0x00280100, vr: 'US', value: [16] },
      { tag: 0x00280101, vr: 'US', value: [16] },
      { tag: 0x00280102, vr: 'US', value: [15] },
      { tag: 0x00280103, vr: 'US', value: [1] },
      { tag: 0x00281052, vr: 'DS', value: [intercept] },
      { tag: 0x00281053, vr: 'DS', value: [slope] },
      { tag: 0x7fe00010, vr: 'OW', value: new Uint8Array(px.buffer) },
    ];
    const file = path.join(dir, `slice${String(k + 1).padStart(4, '0')}.dcm`);
    await fsp.writeFile(file, part10(sopClass, sop, ds));
    files.push(file);
  }
  return { files, studyUid, seriesUid, frameOfReferenceUid };
}
