/**
 * The studies of a batch: from a dataset manifest (the bench's `keyslice-dataset.json`, with each case's
 * annotations or prompts, and its truth label optional), or from a folder holding one study per sub-folder.
 */
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { MANIFEST_NAME } from '../bench/manifest.js';
import { KeysliceError } from '../util/errors.js';

/** One study: absolute paths of its inputs. */
export interface Study {
  /** Unique within the batch; names the output files (`<id>.nii.gz`, `<id>.json`). */
  id: string;
  image: string;
  /** Sparse label volume on the image grid, with its key slices (a list, or 'auto': every labelled slice). */
  annotations?: string;
  keySlices?: number[] | 'auto';
  /** Prompts file (JSON). */
  prompts?: string;
  /** Truth label volume, for Dice in the report. */
  truth?: string;
  /** Label values to score against the truth (default: every value in truth or output). */
  labels?: number[];
  /** Intensity window of the dataset (a CT preset name, 'percentile', or 'auto'). */
  window?: string;
}

/** Characters allowed in a study id: it names files. */
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function checkId(id: string, where: string, file: string): void {
  if (!ID_RE.test(id)) {
    throw new KeysliceError('INVALID_ANNOTATION', `${where}: study id "${id}" must be letters, digits, ".", "_" or "-" (it names the output files)`, file);
  }
}

function checkUnique(studies: Study[], file: string): void {
  const seen = new Set<string>();
  for (const s of studies) {
    if (seen.has(s.id)) throw new KeysliceError('INVALID_ANNOTATION', `study id "${s.id}" appears twice`, file);
    seen.add(s.id);
  }
}

function parseKeySlices(v: unknown, where: string, file: string): number[] | 'auto' | undefined {
  if (v === undefined || v === 'auto') return v;
  if (Array.isArray(v) && v.length > 0 && v.every((x) => Number.isInteger(x) && x >= 0)) return v as number[];
  throw new KeysliceError('INVALID_ANNOTATION', `${where}.keySlices: must be "auto" or a list of 0-based slice indices`, file);
}

/**
 * Reads a batch manifest: the bench's dataset manifest where each case names `image`, and `annotations` (with
 * optional `keySlices`, default "auto") and/or `prompts`; `label` (the truth, optional) and `labels` are
 * used for Dice. `manifest` is the JSON file or the folder holding `keyslice-dataset.json`.
 */
export async function studiesFromManifest(manifest: string): Promise<Study[]> {
  const file = existsSync(manifest) && (await fsp.stat(manifest)).isDirectory() ? path.join(manifest, MANIFEST_NAME) : manifest;
  let doc: unknown;
  try {
    doc = JSON.parse(await fsp.readFile(file, 'utf8'));
  } catch (err) {
    const code = existsSync(file) ? 'INVALID_ANNOTATION' : 'FILE_NOT_FOUND';
    throw new KeysliceError(code, code === 'FILE_NOT_FOUND' ? 'no such manifest' : `unreadable manifest (${(err as Error).message})`, file);
  }
  const bad = (m: string): never => {
    throw new KeysliceError('INVALID_ANNOTATION', m, file);
  };
  const d = doc as Record<string, unknown>;
  if (typeof d !== 'object' || d === null || !Array.isArray(d.cases) || d.cases.length === 0) bad('cases: must be a non-empty list');
  const root = path.dirname(path.resolve(file));
  const at = (p: string) => path.resolve(root, p);
  const studies = (d.cases as unknown[]).map((c, n): Study => {
    const o = (c ?? {}) as Record<string, unknown>;
    const where = `cases[${n}]`;
    for (const k of ['id', 'image']) if (typeof o[k] !== 'string' || o[k] === '') bad(`${where}.${k}: must be a non-empty string`);
    for (const k of ['annotations', 'prompts', 'label']) if (o[k] !== undefined && typeof o[k] !== 'string') bad(`${where}.${k}: must be a path`);
    if (o.annotations === undefined && o.prompts === undefined) bad(`${where}: give "annotations" (a sparse label volume) and/or "prompts"`);
    if (o.labels !== undefined && (!Array.isArray(o.labels) || !o.labels.every((v) => Number.isInteger(v) && v > 0))) {
      bad(`${where}.labels: must be a list of label values >= 1`);
    }
    checkId(o.id as string, where, file);
    return {
      id: o.id as string,
      image: at(o.image as string),
      ...(typeof o.annotations === 'string' ? { annotations: at(o.annotations), keySlices: parseKeySlices(o.keySlices, where, file) ?? 'auto' } : {}),
      ...(typeof o.prompts === 'string' ? { prompts: at(o.prompts) } : {}),
      ...(typeof o.label === 'string' ? { truth: at(o.label) } : {}),
      ...(o.labels ? { labels: o.labels as number[] } : {}),
      ...(typeof d.window === 'string' ? { window: d.window } : {}),
    };
  });
  checkUnique(studies, file);
  return studies;
}

/** Image extensions a study folder's files may have, longest first. */
const IMAGE_EXTENSIONS = ['.nii.gz', '.nii', '.nrrd', '.nhdr', '.mha', '.mhd'];

function findRole(dir: string, names: string[], role: string): string | undefined {
  const hits = names.filter((n) => IMAGE_EXTENSIONS.some((e) => n === `${role}${e}`));
  if (hits.length > 1) throw new KeysliceError('INVALID_ANNOTATION', `more than one ${role} file (${hits.join(', ')})`, dir);
  return hits.length ? path.join(dir, hits[0]) : undefined;
}

/**
 * One study per sub-folder of `dir`, named after the sub-folder. The naming rule inside a study folder:
 * `image.<ext>` or a DICOM series folder `image/` (required), `annotations.<ext>` (a sparse label volume; its key slices are listed in
 * `key-slices.txt`, else every labelled slice), `prompts.json`, and `truth.<ext>` (optional, for Dice), where
 * `<ext>` is .nii.gz, .nii, .nrrd, .nhdr, .mha or .mhd. Sub-folders without an image are refused, not skipped.
 */
export async function studiesFromFolder(dir: string): Promise<Study[]> {
  const st = await fsp.stat(dir).catch(() => null);
  if (!st?.isDirectory()) throw new KeysliceError('FILE_NOT_FOUND', 'no such study folder', dir);
  const subs = (await fsp.readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory() && !e.name.startsWith('.'));
  subs.sort((a, b) => a.name.localeCompare(b.name));
  const studies: Study[] = [];
  for (const e of subs) {
    const sd = path.resolve(dir, e.name);
    checkId(e.name, 'sub-folder', sd);
    const names = await fsp.readdir(sd);
    const dicom = path.join(sd, 'image');
    const image = findRole(sd, names, 'image') ?? (names.includes('image') && (await fsp.stat(dicom)).isDirectory() ? dicom : undefined);
    if (!image) throw new KeysliceError('FILE_NOT_FOUND', `no image file (image${IMAGE_EXTENSIONS.join(', image')}, or a DICOM folder image/)`, sd);
    const annotations = findRole(sd, names, 'annotations');
    const prompts = names.includes('prompts.json') ? path.join(sd, 'prompts.json') : undefined;
    if (!annotations && !prompts) throw new KeysliceError('FILE_NOT_FOUND', 'no annotations.<ext> and no prompts.json', sd);
    const truth = findRole(sd, names, 'truth');
    let keySlices: number[] | 'auto' = 'auto';
    if (annotations && names.includes('key-slices.txt')) {
      const text = (await fsp.readFile(path.join(sd, 'key-slices.txt'), 'utf8')).trim();
      const list = text.split(/[\s,]+/).filter(Boolean).map(Number);
      if (list.length === 0 || !list.every((x) => Number.isInteger(x) && x >= 0)) {
        throw new KeysliceError('INVALID_ANNOTATION', 'must list 0-based slice indices', path.join(sd, 'key-slices.txt'));
      }
      keySlices = list;
    }
    studies.push({ id: e.name, image, ...(annotations ? { annotations, keySlices } : {}), ...(prompts ? { prompts } : {}), ...(truth ? { truth } : {}) });
  }
  if (studies.length === 0) throw new KeysliceError('FILE_NOT_FOUND', 'no study sub-folders', dir);
  return studies;
}
