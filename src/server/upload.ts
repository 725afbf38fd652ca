/**
 * Uploaded images: the format is told from the bytes (never from a client's file name), headers that would
 * make a reader open another file (detached NRRD or MetaImage data) are refused, and the bytes are stored
 * under the data folder by their SHA-256, so the stored file is the session's image reference.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { HttpError } from './errors.js';

export type ImageKind = 'nii' | 'nii.gz' | 'nrrd' | 'mha' | 'zip';

export const IMAGE_KINDS: readonly ImageKind[] = ['nii', 'nii.gz', 'nrrd', 'mha', 'zip'];

function niftiHeader(b: Uint8Array): boolean {
  if (b.length < 348) return false;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const n = dv.getInt32(0, true);
  const nb = dv.getInt32(0, false);
  return n === 348 || nb === 348 || n === 540 || nb === 540;
}

function headerText(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, Math.min(b.byteLength, 65536)).toString('latin1');
}

/** The image kind of uploaded bytes, or a 400 naming what was expected. */
export function detectImageKind(bytes: Uint8Array): ImageKind {
  const bad = (why: string) => new HttpError(400, 'UNSUPPORTED_IMAGE', `upload: ${why} (expected NIfTI, NRRD, MetaImage or a zip of one DICOM series)`);
  if (bytes.length < 4) throw bad('too short to be an image');
  if (bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04) return 'zip';
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    let head: Uint8Array;
    try {
      // The header is in the first few hundred bytes: inflate only a little (this runs on the event loop).
      head = gunzipSync(bytes.subarray(0, Math.min(bytes.length, 8192)), { finishFlush: 2 });
    } catch {
      throw bad('gzip data that does not decompress');
    }
    if (!niftiHeader(head)) throw bad('gzip data that is not a NIfTI image');
    return 'nii.gz';
  }
  if (niftiHeader(bytes)) return 'nii';
  const text = headerText(bytes);
  if (text.startsWith('NRRD')) {
    const header = text.split(/\r?\n\r?\n/)[0];
    if (/^\s*data\s*file\s*:/im.test(header)) throw bad('a NRRD header that points at separate data files');
    return 'nrrd';
  }
  const element = /^\s*ElementDataFile\s*=\s*(.*)$/m.exec(text);
  if (/^\s*(ObjectType|NDims)\s*=/m.test(text) && element) {
    if (element[1].trim() !== 'LOCAL') throw bad('a MetaImage header that points at a separate data file');
    return 'mha';
  }
  throw bad('unknown format');
}

export function imageHash(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Where the image of a hash and kind lives under the data folder (both checked: never a client path). */
export function imagePath(dataDir: string, hash: string, kind: ImageKind): string {
  if (!/^[0-9a-f]{64}$/.test(hash) || !IMAGE_KINDS.includes(kind)) throw new HttpError(500, 'INTERNAL', 'bad image reference');
  return path.join(dataDir, 'images', `${hash}.${kind}`);
}

/** Writes (once) the uploaded bytes to their content-hashed file, fsync'd, through a temporary file. */
export async function storeImage(dataDir: string, bytes: Uint8Array): Promise<{ hash: string; kind: ImageKind; file: string }> {
  const kind = detectImageKind(bytes);
  const hash = imageHash(bytes);
  const file = imagePath(dataDir, hash, kind);
  if (await fsp.stat(file).then((s) => s.size === bytes.length, () => false)) return { hash, kind, file };
  const tmp = path.join(dataDir, 'tmp', `${randomBytes(8).toString('hex')}.upload`);
  const fh = await fsp.open(tmp, 'w');
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fsp.rename(tmp, file);
  return { hash, kind, file };
}
