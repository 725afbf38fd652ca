/**
 * The annotation app's static build (made by `npm run build` into dist/app): where it is, and copying it into a
 * folder that any static web server can serve (`keyslice app --out DIR`).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KeysliceError } from '../util/errors.js';

/** The itk-wasm pipelines the app runs in the page: reading a DICOM series, writing a DICOM SEG. */
export const ITK_PIPELINES = ['read-image-dicom-file-series', 'write-segmentation'] as const;

/** itk-wasm's pipeline worker, as the build names it. */
export const ITK_WORKER = 'itk-wasm-pipeline.worker.js';

/** The itk-wasm files of the build: the pipeline worker, and each pipeline's module and compressed WebAssembly. */
export const ITK_FILES: readonly string[] = [ITK_WORKER, ...ITK_PIPELINES.flatMap((p) => [`${p}.js`, `${p}.wasm.zst`])];

/** The files of the app's static build. */
export const APP_FILES: readonly string[] = ['index.html', 'app.css', 'app.js', 'worker.js', ...ITK_FILES];

/** Folder holding the app's static build. */
export function appDir(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../app');
}

/** Whether the static build is present. */
export async function appBuilt(dir = appDir()): Promise<boolean> {
  for (const f of APP_FILES) {
    if (!(await fsp.stat(path.join(dir, f)).catch(() => null))?.isFile()) return false;
  }
  return true;
}

/**
 * Copies the app into `out` (created when missing; files of the same names are replaced, nothing else is
 * touched). Returns the files written and their total size.
 */
export async function writeApp(out: string): Promise<{ files: string[]; bytes: number }> {
  const dir = appDir();
  if (!(await appBuilt(dir))) throw new KeysliceError('FILE_NOT_FOUND', 'the app is not built: run npm run build', dir);
  await fsp.mkdir(out, { recursive: true }).catch((err: Error) => {
    throw new KeysliceError('WRITE_FAILED', `cannot create the folder (${err.message})`, out, { cause: err });
  });
  let bytes = 0;
  const files: string[] = [];
  for (const f of APP_FILES) {
    const target = path.join(out, f);
    const tmp = `${target}.tmp-${process.pid}`;
    await fsp.copyFile(path.join(dir, f), tmp);
    await fsp.rename(tmp, target);
    bytes += (await fsp.stat(target)).size;
    files.push(target);
  }
  return { files, bytes };
}
