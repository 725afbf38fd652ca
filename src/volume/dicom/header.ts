/**
 * A small DICOM header reader: the attributes keyslice needs to group, order and check the slices of a series,
 * read from the bytes before the pixel data (Part 10 files; implicit and explicit VR little endian, and the
 * explicit little-endian header of compressed transfer syntaxes). Sequences are skipped, never interpreted.
 */

/** What keyslice reads from one DICOM file's header. Absent attributes are undefined. */
export interface DicomHeader {
  transferSyntax?: string;
  sopClassUid?: string;
  sopInstanceUid?: string;
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
  seriesDescription?: string;
  modality?: string;
  instanceNumber?: number;
  /** (0020,0032), mm. */
  imagePosition?: [number, number, number];
  /** (0020,0037): row direction then column direction. */
  imageOrientation?: [number, number, number, number, number, number];
  rows?: number;
  columns?: number;
  /** (0028,0030): row spacing (between rows, along the column direction), then column spacing. */
  pixelSpacing?: [number, number];
  numberOfFrames?: number;
  rescaleSlope?: number;
  rescaleIntercept?: number;
  /** True when the pixel data element was reached: the file holds an image. */
  hasPixelData: boolean;
}

/** Thrown when the bytes end before the header does; the caller reads more of the file and tries again. */
export class TruncatedHeader extends Error {}

const IMPLICIT_LE = '1.2.840.10008.1.2';
const EXPLICIT_BE = '1.2.840.10008.1.2.2';
const DEFLATED = '1.2.840.10008.1.2.1.99';
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const UNDEFINED = 0xffffffff;
const PIXEL_DATA = 0x7fe00010;
const ITEM = 0xfffee000;
const ITEM_END = 0xfffee00d;
const SEQ_END = 0xfffee0dd;

/** True when `buf` starts with a Part 10 preamble ("DICM" at byte 128). */
export function hasDicomPreamble(buf: Uint8Array): boolean {
  return buf.length >= 132 && buf[128] === 0x44 && buf[129] === 0x49 && buf[130] === 0x43 && buf[131] === 0x4d;
}

class Reader {
  pos: number;
  constructor(
    readonly view: DataView,
    readonly bytes: Uint8Array,
    start: number,
    public explicit: boolean,
  ) {
    this.pos = start;
  }

  need(n: number): void {
    if (this.pos + n > this.bytes.length) throw new TruncatedHeader('header runs past the bytes read');
  }

  /** Reads one element's tag, VR and length; leaves `pos` at the value. */
  element(): { tag: number; vr: string; length: number } {
    this.need(8);
    const group = this.view.getUint16(this.pos, true);
    const elem = this.view.getUint16(this.pos + 2, true);
    const tag = ((group << 16) | elem) >>> 0;
    if (group === 0xfffe) {
      const length = this.view.getUint32(this.pos + 4, true);
      this.pos += 8;
      return { tag, vr: '', length };
    }
    if (this.explicit) {
      const vr = String.fromCharCode(this.bytes[this.pos + 4], this.bytes[this.pos + 5]);
      if (LONG_VRS.has(vr)) {
        this.need(12);
        const length = this.view.getUint32(this.pos + 8, true);
        this.pos += 12;
        return { tag, vr, length };
      }
      const length = this.view.getUint16(this.pos + 6, true);
      this.pos += 8;
      return { tag, vr, length };
    }
    const length = this.view.getUint32(this.pos + 4, true);
    this.pos += 8;
    return { tag, vr: '', length };
  }

  /** Skips the content of an element of undefined length (a sequence, or encapsulated data). */
  skipUndefined(): void {
    for (;;) {
      const { tag, length } = this.element();
      if (tag === SEQ_END) return;
      if (tag === ITEM) {
        if (length === UNDEFINED) this.skipItem();
        else this.skip(length);
      } else {
        throw new Error(`unexpected element (${hex(tag)}) inside a sequence`);
      }
    }
  }

  /** Skips the elements of an item of undefined length up to its delimiter. */
  private skipItem(): void {
    for (;;) {
      const { tag, length } = this.element();
      if (tag === ITEM_END) return;
      if (length === UNDEFINED) this.skipUndefined();
      else this.skip(length);
    }
  }

  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  text(n: number): string {
    this.need(n);
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(this.bytes[this.pos + i]);
    this.pos += n;
    return s.replace(/[\0 ]+$/, '').replace(/^ +/, '');
  }
}

function hex(tag: number): string {
  const h = tag.toString(16).padStart(8, '0').toUpperCase();
  return `${h.slice(0, 4)},${h.slice(4)}`;
}

function numbers(s: string): number[] {
  return s.split('\\').map((x) => Number(x.trim()));
}

function fixed<N extends number>(s: string, n: N): number[] | undefined {
  const v = numbers(s);
  return v.length === n && v.every(Number.isFinite) ? v : undefined;
}

function finite(s: string): number | undefined {
  const v = Number(s.split('\\')[0]);
  return s.trim() !== '' && Number.isFinite(v) ? v : undefined;
}

/**
 * Parses the header of a Part 10 DICOM file from its first bytes. Throws {@link TruncatedHeader} when the bytes
 * end before the pixel data (read more and call again), and an Error for a file that is not Part 10 DICOM or
 * uses an encoding keyslice does not read (big endian, deflated).
 */
export function parseDicomHeader(bytes: Uint8Array, complete = false): DicomHeader {
  if (!hasDicomPreamble(bytes)) throw new Error('not a DICOM Part 10 file (no "DICM" at byte 128)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const r = new Reader(view, bytes, 132, true);
  const h: DicomHeader = { hasPixelData: false };
  // File meta group (0002), always explicit VR little endian.
  while (r.pos + 8 <= bytes.length && view.getUint16(r.pos, true) === 0x0002) {
    const { tag, length } = r.element();
    if (tag === 0x00020010) h.transferSyntax = r.text(length);
    else r.skip(length);
  }
  if (h.transferSyntax === EXPLICIT_BE) throw new Error('explicit VR big endian DICOM is not supported');
  if (h.transferSyntax === DEFLATED) throw new Error('deflated DICOM is not supported');
  r.explicit = h.transferSyntax !== IMPLICIT_LE;
  // Files at the end of the bytes read: a complete file may simply have no pixel data.
  while (r.pos < bytes.length) {
    if (complete && r.pos + 8 > bytes.length) break;
    const { tag, vr, length } = r.element();
    if (tag === PIXEL_DATA) {
      h.hasPixelData = true;
      break;
    }
    if (length === UNDEFINED) {
      r.skipUndefined();
      continue;
    }
    if (vr === 'SQ' || tag > PIXEL_DATA) {
      r.skip(length);
      continue;
    }
    readAttribute(h, tag, r, length);
  }
  return h;
}

function readAttribute(h: DicomHeader, tag: number, r: Reader, length: number): void {
  switch (tag) {
    case 0x00080016: h.sopClassUid = r.text(length); return;
    case 0x00080018: h.sopInstanceUid = r.text(length); return;
    case 0x00080060: h.modality = r.text(length); return;
    case 0x0008103e: h.seriesDescription = r.text(length); return;
    case 0x0020000d: h.studyInstanceUid = r.text(length); return;
    case 0x0020000e: h.seriesInstanceUid = r.text(length); return;
    case 0x00200013: h.instanceNumber = finite(r.text(length)); return;
    case 0x00200032: h.imagePosition = fixed(r.text(length), 3) as DicomHeader['imagePosition']; return;
    case 0x00200037: h.imageOrientation = fixed(r.text(length), 6) as DicomHeader['imageOrientation']; return;
    case 0x00280008: h.numberOfFrames = finite(r.text(length)); return;
    case 0x00280010: h.rows = uint16(r, length); return;
    case 0x00280011: h.columns = uint16(r, length); return;
    case 0x00280030: h.pixelSpacing = fixed(r.text(length), 2) as DicomHeader['pixelSpacing']; return;
    case 0x00281052: h.rescaleIntercept = finite(r.text(length)); return;
    case 0x00281053: h.rescaleSlope = finite(r.text(length)); return;
    default: r.skip(length);
  }
}

function uint16(r: Reader, length: number): number | undefined {
  r.need(length);
  const v = length >= 2 ? r.view.getUint16(r.pos, true) : undefined;
  r.pos += length;
  return v;
}
