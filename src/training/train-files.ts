/**
 * `keyslice train` as a library call over files (Node): reads a dataset manifest (`keyslice-dataset.json`, the
 * benchmark's format, or a development-data folder), trains an adapter on its cases, validates it on the held-out
 * ones and writes the adapter folder: `keyslice-adapter.json` and the ONNX graph. The folder is written beside
 * its target under a temporary name and renamed into place; an existing non-empty folder is never overwritten.
 */
import { createHash } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { findDatasets, type BenchCase, type Dataset } from '../bench/manifest.js';
import { ADAPTER_MANIFEST } from '../models/adapter/manifest.js';
import { KeysliceError } from '../util/errors.js';
import { readLabelVolume, readVolume } from '../volume/io-node.js';
import { gridDifference, labelValues } from '../volume/volume.js';
import { trainAdapter, type AdapterEngine, type TrainAdapterOptions, type TrainedAdapter, type TrainingCase } from './train-adapter.js';
import type { TrainingMode } from './train.js';
import { TRAINING_MEMORY_BYTES, trainResidualAdapter } from './train-residual.js';
import { loadSamModel, samModelIdentity } from '../models/sam/load-node.js';
import type { SamModel } from '../models/sam/model.js';

/**
 * The engine an adapter is made for: for `residual`, `sam` (default) or `hybrid`; for a correspondence adapter,
 * `classic` (default), `sam` or `hybrid`. For a model engine: its model folder (default: the built-in model), a
 * folder keeping its embeddings across runs and that folder's size limit in bytes (default 2 GiB; see
 * `SamLoadOptions`).
 */
export interface ModelEngineChoice {
  engine?: string;
  model?: string;
  embeddingCache?: string;
  embeddingCacheBytes?: number;
}

export interface TrainFilesOptions extends Omit<TrainAdapterOptions, 'mode' | 'dataHash' | 'modelEngine'>, ModelEngineChoice {
  /** Dataset folder or manifest folder (see `findDatasets`). */
  data: string;
  /** Dataset name, when the folder holds several. */
  dataset?: string;
  /** Adapter folder to write. */
  out: string;
  /** Default self-supervised; `residual`: a residual adapter on the decoder's logits of a model engine. */
  mode?: TrainingMode | 'residual';
  /** Case ids held out for validation (default: the last case, when there are two or more). */
  validation?: string[];
  /** Case ids not used at all (for example the test case of a leave-one-out run). */
  exclude?: string[];
}

export interface TrainFilesResult extends TrainedAdapter<unknown> {
  dir: string;
  /** Bytes of the adapter folder. */
  bytes: number;
}

export async function pickDataset(data: string, name?: string): Promise<Dataset> {
  const found = await findDatasets(data);
  if (name !== undefined) {
    const d = found.find((x) => x.name === name);
    if (!d) throw new KeysliceError('USAGE', `unknown dataset "${name}" (found: ${found.map((x) => x.name).join(', ')})`, data);
    return d;
  }
  if (found.length > 1) throw new KeysliceError('USAGE', `several datasets found (${found.map((x) => x.name).join(', ')}): name one with --dataset`, data);
  return found[0];
}

/** A case's image and (unless `imagesOnly`) truth, checked for matching grids. */
export async function readCase(d: Dataset, c: BenchCase, imagesOnly: boolean): Promise<TrainingCase> {
  const imageFile = path.join(d.root, c.image);
  const image = await readVolume(imageFile);
  if (imagesOnly || !c.label) return { id: c.id, image };
  const labelFile = path.join(d.root, c.label);
  if (!existsSync(labelFile)) return { id: c.id, image };
  const truth = await readLabelVolume(labelFile);
  const diff = gridDifference(image, truth);
  if (diff !== null) throw new KeysliceError('GRID_MISMATCH', `label grid differs from ${imageFile}: ${diff}`, labelFile);
  return { id: c.id, image, truth, values: c.labels ?? labelValues(truth.data) };
}

/** SHA-256 over the case ids and the bytes of their files (labels only where used), in case order. */
export async function dataHash(d: Dataset, cases: BenchCase[], withLabels: boolean): Promise<string> {
  const h = createHash('sha256');
  for (const c of cases) {
    h.update(`${c.id}\n`);
    h.update(await fsp.readFile(path.join(d.root, c.image)));
    if (withLabels && c.label) h.update(await fsp.readFile(path.join(d.root, c.label)));
  }
  return h.digest('hex');
}

/** Writes an adapter folder through a temporary folder and a rename. */
export async function writeAdapter(dir: string, adapter: TrainedAdapter<unknown>): Promise<number> {
  if (existsSync(dir) && (await fsp.readdir(dir)).length > 0) {
    throw new KeysliceError('OUTPUT_CONFLICT', 'the adapter folder exists and is not empty; name a new folder', dir);
  }
  const tmp = path.join(path.dirname(path.resolve(dir)), `.${path.basename(dir)}.tmp-${process.pid}`);
  const json = `${JSON.stringify(adapter.manifest, null, 1)}\n`;
  try {
    await fsp.rm(tmp, { recursive: true, force: true });
    await fsp.mkdir(tmp, { recursive: true });
    await fsp.writeFile(path.join(tmp, adapter.manifest.graph), adapter.graph);
    await fsp.writeFile(path.join(tmp, ADAPTER_MANIFEST), json);
    if (existsSync(dir)) await fsp.rmdir(dir);
    await fsp.rename(tmp, dir);
  } catch (err) {
    await fsp.rm(tmp, { recursive: true, force: true });
    throw new KeysliceError('WRITE_FAILED', `could not write the adapter (${(err as Error).message})`, dir, { cause: err });
  }
  return adapter.graph.length + Buffer.byteLength(json);
}

/** Refuses an engine no adapter serves. */
function checkAdapterEngine(name: string): void {
  if (!['classic', 'sam', 'hybrid'].includes(name)) throw new KeysliceError('USAGE', `adapters serve the classic, sam and hybrid engines, not "${name}"`);
}

/** The SAM-format model a model engine's adapter is trained against, with its embedding stores for training. */
function trainingSamModel(o: ModelEngineChoice): Promise<SamModel> {
  return loadSamModel(o.model, { embeddingCache: o.embeddingCache, embeddingCacheBytes: o.embeddingCacheBytes, memoryCacheBytes: TRAINING_MEMORY_BYTES });
}

/** The model engine a correspondence adapter is made for (`--engine sam|hybrid`), none for the classic engine. */
export async function modelEngineFor(o: ModelEngineChoice): Promise<AdapterEngine | undefined> {
  const name = o.engine ?? 'classic';
  if (name === 'classic') {
    if (o.model !== undefined) throw new KeysliceError('USAGE', '--model names the model of a model engine (--engine sam or hybrid)');
    return undefined;
  }
  checkAdapterEngine(name);
  const model = await trainingSamModel(o);
  return { name, model, modelId: await samModelIdentity(model) };
}

export async function trainFiles(opts: TrainFilesOptions): Promise<TrainFilesResult> {
  const mode = opts.mode ?? 'self-supervised';
  if (opts.engine !== undefined) checkAdapterEngine(opts.engine);
  if (existsSync(opts.out) && (await fsp.readdir(opts.out)).length > 0) {
    throw new KeysliceError('OUTPUT_CONFLICT', 'the adapter folder exists and is not empty; name a new folder', opts.out);
  }
  const d = await pickDataset(opts.data, opts.dataset);
  const ids = new Set(d.cases.map((c) => c.id));
  for (const id of [...(opts.validation ?? []), ...(opts.exclude ?? [])]) {
    if (!ids.has(id)) throw new KeysliceError('USAGE', `no case "${id}" in dataset ${d.name}`, opts.data);
  }
  const usable = d.cases.filter((c) => !opts.exclude?.includes(c.id));
  const valIds = opts.validation ?? (usable.length >= 2 ? [usable[usable.length - 1].id] : []);
  const trainCases = usable.filter((c) => !valIds.includes(c.id));
  if (!trainCases.length) throw new KeysliceError('USAGE', `dataset ${d.name} leaves no case to train on`, opts.data);
  const stage = opts.onStage ?? (() => {});
  stage(`reading ${usable.length} case(s) of ${d.name}`);
  const supervised = mode !== 'self-supervised';
  const train = await Promise.all(trainCases.map((c) => readCase(d, c, !supervised)));
  if (supervised && !train.some((c) => c.truth)) throw new KeysliceError('USAGE', `${mode} training needs label volumes; dataset ${d.name} has none`, opts.data);
  const validation = await Promise.all(usable.filter((c) => valIds.includes(c.id)).map((c) => readCase(d, c, false)));
  const hash = await dataHash(d, trainCases, supervised);
  let adapter: TrainedAdapter<unknown>;
  if (mode === 'residual') {
    const model = await trainingSamModel(opts);
    const { seed, maxSteps, onStage, onProgress } = opts;
    adapter = await trainResidualAdapter(train, validation, { engine: opts.engine ?? 'sam', model, modelId: await samModelIdentity(model), seed, maxSteps, onStage, onProgress, dataHash: hash });
  } else adapter = await trainAdapter(train, validation, { ...opts, mode, dataHash: hash, modelEngine: await modelEngineFor(opts) });
  const bytes = await writeAdapter(opts.out, adapter);
  return { ...adapter, dir: opts.out, bytes };
}
