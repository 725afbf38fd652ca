/**
 * A batch job's id: a hash of everything that decides its output, namely the content of its input files, the
 * engine, the options, the output path and keyslice's version. The same study submitted twice gets the same id
 * (so the queue holds it once); change any input byte, option or the version and it is a new job.
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { KeysliceError } from '../util/errors.js';

/** The files under a folder, recursively, as paths relative to it, sorted. */
async function filesUnder(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fsp.readdir(path.join(dir, rel), { withFileTypes: true })) {
    const r = path.join(rel, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(dir, r)));
    else if (e.isFile()) out.push(r);
  }
  return out.sort();
}

/**
 * SHA-256 of a file's content, hex; of a folder (a DICOM series), SHA-256 over the relative path and content
 * hash of every file under it.
 */
export async function hashFile(file: string): Promise<string> {
  const h = createHash('sha256');
  try {
    if ((await fsp.stat(file)).isDirectory()) {
      for (const r of await filesUnder(file)) h.update(`${r}\0${await hashFile(path.join(file, r))}\n`);
    } else {
      for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
    }
  } catch (err) {
    if (err instanceof KeysliceError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new KeysliceError('FILE_NOT_FOUND', 'no such file', file);
    throw new KeysliceError('FILE_UNREADABLE', `cannot read (${(err as Error).message})`, file);
  }
  return h.digest('hex');
}

/** JSON with object keys sorted, so equal values always give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export interface JobIdParts {
  /** Content hash of each input, by role (image, annotations, prompts, truth). */
  inputs: Record<string, string>;
  engine: string;
  options: Record<string, unknown>;
  version: string;
}

/** The job id: `ks-` and 40 hex digits of SHA-256 over the canonical JSON of the parts. */
export function jobId(parts: JobIdParts): string {
  return `ks-${createHash('sha256').update(canonicalJson(parts)).digest('hex').slice(0, 40)}`;
}
