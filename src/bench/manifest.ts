/**
 * Benchmark datasets. A dataset is a folder with a manifest, `keyslice-dataset.json`:
 *
 * ```json
 * { "name": "spleen-ct", "modality": "CT", "window": "abdomen",
 *   "cases": [ { "id": "spleen_2", "image": "ct.nii.gz", "label": "seg.nii.gz", "labels": [1] } ],
 *   "labelNames": { "1": "spleen" } }
 * ```
 *
 * Paths are relative to the manifest's folder; `labels` (optional) picks label values, otherwise every
 * non-zero value of the label file is one object. Built-in manifests describe the expert-labelled folders of
 * keyslice's development data, so `--data` can point at that folder as it is.
 */
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { KeysliceError } from '../util/errors.js';

export const MANIFEST_NAME = 'keyslice-dataset.json';

export interface BenchCase {
  id: string;
  image: string;
  label: string;
  labels?: number[];
}

export interface Dataset {
  name: string;
  modality: 'CT' | 'MR';
  /** CT window preset or 'percentile' (engines that window slices use it). */
  window?: string;
  /** Folder the case paths are relative to. */
  root: string;
  cases: BenchCase[];
  labelNames?: Record<string, string>;
}

/** Manifests for the expert-labelled folders of the development data (not the model-labelled ones). */
export const BUILTIN_DATASETS: (Omit<Dataset, 'root'> & { folder: string })[] = [
  {
    name: 'spleen-ct',
    folder: 'msd-spleen-crop',
    modality: 'CT',
    window: 'abdomen',
    cases: [{ id: 'spleen_2', image: 'spleen_2_crop_ct.nii.gz', label: 'spleen_2_crop_label.nii.gz', labels: [1] }],
    labelNames: { 1: 'spleen' },
  },
  {
    name: 'hippocampus-mr',
    folder: 'msd-hippocampus',
    modality: 'MR',
    window: 'percentile',
    cases: ['001', '003', '004', '006', '007'].map((id) => ({
      id: `hippocampus_${id}`,
      image: `images/hippocampus_${id}.nii.gz`,
      label: `labels/hippocampus_${id}.nii.gz`,
      labels: [1, 2],
    })),
    labelNames: { 1: 'anterior', 2: 'posterior' },
  },
  {
    name: 'spinalcord-t2w',
    folder: 'spinegeneric-spinalcord',
    modality: 'MR',
    window: 'percentile',
    cases: [{ id: 'sub-unf01', image: 'sub-unf01_T2w.nii.gz', label: 'sub-unf01_T2w_seg-manual.nii.gz', labels: [1] }],
    labelNames: { 1: 'spinal cord' },
  },
  {
    name: 'mslesion-flair',
    folder: 'openms-mslesion',
    modality: 'MR',
    window: 'percentile',
    cases: [{ id: 'patient07', image: 'patient07/FLAIR.nii.gz', label: 'patient07/GOLD_STANDARD.nii.gz', labels: [1] }],
    labelNames: { 1: 'MS lesions' },
  },
];

function checkManifest(doc: unknown, file: string, root: string): Dataset {
  const bad = (m: string): never => {
    throw new KeysliceError('INVALID_ANNOTATION', m, file);
  };
  if (typeof doc !== 'object' || doc === null) bad('manifest must be a JSON object');
  const d = doc as Record<string, unknown>;
  if (typeof d.name !== 'string' || d.name === '') bad('name: must be a non-empty string');
  if (d.modality !== 'CT' && d.modality !== 'MR') bad('modality: must be "CT" or "MR"');
  if (!Array.isArray(d.cases) || d.cases.length === 0) bad('cases: must be a non-empty list');
  const cases = (d.cases as unknown[]).map((c, n) => {
    const o = c as Record<string, unknown>;
    for (const k of ['id', 'image', 'label']) if (typeof o?.[k] !== 'string') bad(`cases[${n}].${k}: must be a string`);
    if (o.labels !== undefined && (!Array.isArray(o.labels) || !o.labels.every((v) => Number.isInteger(v) && v > 0))) {
      bad(`cases[${n}].labels: must be a list of label values >= 1`);
    }
    return { id: o.id, image: o.image, label: o.label, ...(o.labels ? { labels: o.labels } : {}) } as BenchCase;
  });
  return {
    name: d.name as string,
    modality: d.modality as 'CT' | 'MR',
    ...(typeof d.window === 'string' ? { window: d.window } : {}),
    root,
    cases,
    ...(typeof d.labelNames === 'object' && d.labelNames !== null ? { labelNames: d.labelNames as Record<string, string> } : {}),
  };
}

async function readManifest(file: string): Promise<Dataset> {
  let doc: unknown;
  try {
    doc = JSON.parse(await fsp.readFile(file, 'utf8'));
  } catch (err) {
    throw new KeysliceError('INVALID_ANNOTATION', `unreadable manifest (${(err as Error).message})`, file);
  }
  return checkManifest(doc, file, path.dirname(file));
}

/**
 * The datasets under `dir`: its own manifest, else the manifests of its sub-folders, else the built-in
 * manifests of the development-data folders found in it.
 */
export async function findDatasets(dir: string): Promise<Dataset[]> {
  if (!existsSync(dir)) throw new KeysliceError('FILE_NOT_FOUND', 'no such data folder', dir);
  const own = path.join(dir, MANIFEST_NAME);
  if (existsSync(own)) return [await readManifest(own)];
  const found: Dataset[] = [];
  for (const e of (await fsp.readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const m = path.join(dir, e.name, MANIFEST_NAME);
    if (e.isDirectory() && existsSync(m)) found.push(await readManifest(m));
  }
  if (found.length > 0) return found;
  for (const b of BUILTIN_DATASETS) {
    const root = path.join(dir, b.folder);
    if (!existsSync(root)) continue;
    const { folder: _folder, ...rest } = b;
    found.push({ ...rest, root });
  }
  if (found.length === 0) {
    throw new KeysliceError('FILE_NOT_FOUND', `no ${MANIFEST_NAME} in the folder or its sub-folders, and no known dataset folder`, dir);
  }
  return found;
}
