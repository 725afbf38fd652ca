/**
 * Reads a stored upload as a volume: image files directly, a zip of one DICOM series by writing its members
 * under generated names (never the names inside the zip) into a fresh folder and reading that as a series.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { unzipSync } from 'fflate';
import { KeysliceError } from '../util/errors.js';
import { readVolume } from '../volume/io-node.js';
import type { Volume } from '../volume/volume.js';
import type { ImageKind } from './upload.js';

/** Largest sum of member sizes a DICOM zip may unpack to, and most members. */
export const ZIP_LIMITS = { bytes: 4 * 2 ** 30, files: 20000 };

export async function readStoredImage(file: string, kind: ImageKind, tmpDir: string): Promise<Volume> {
  if (kind !== 'zip') return readVolume(file);
  return withUnpackedSeries(file, tmpDir, (dir) => readVolume(dir));
}

/**
 * Runs `fn` on the DICOM series of a stored zip: its image and the series' files in slice order (empty when
 * reading it resampled slices, e.g. over a gap: then the image is not on the files' grid).
 */
export async function withStoredSeries<T>(file: string, tmpDir: string, fn: (image: Volume, files: string[]) => Promise<T>): Promise<T> {
  return withUnpackedSeries(file, tmpDir, async (dir) => {
    const files: string[] = [];
    const image = await readVolume(dir, { dicomFiles: files });
    return fn(image, files);
  });
}

/** Unpacks a stored zip into a fresh folder under generated names, runs `fn` on it, and removes it. */
async function withUnpackedSeries<T>(file: string, tmpDir: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const bytes = await fsp.readFile(file);
  let total = 0;
  let count = 0;
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes, {
      filter: (f) => {
        if (f.name.endsWith('/') || f.name.includes('__MACOSX')) return false;
        total += f.originalSize;
        count++;
        if (total > ZIP_LIMITS.bytes || count > ZIP_LIMITS.files) {
          throw new KeysliceError('TOO_LARGE', `zip unpacks to more than ${ZIP_LIMITS.bytes / 2 ** 30} GiB or ${ZIP_LIMITS.files} files`);
        }
        return true;
      },
    });
  } catch (err) {
    if (err instanceof KeysliceError) throw err;
    throw new KeysliceError('FILE_UNREADABLE', 'not a readable zip file', 'upload');
  }
  const dir = path.join(tmpDir, `dicom-${randomBytes(8).toString('hex')}`);
  await fsp.mkdir(dir, { recursive: true });
  try {
    let n = 0;
    for (const data of Object.values(files)) await fsp.writeFile(path.join(dir, `${String(n++).padStart(6, '0')}.dcm`), data);
    if (n === 0) throw new KeysliceError('UNSUPPORTED_IMAGE', 'the zip holds no files', 'upload');
    return await fn(dir);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}
