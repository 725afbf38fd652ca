/**
 * Opening a model from its manifest and files anywhere (no file system needed): the browser's way to load a
 * model, and what the Node loaders share. Files named in the manifest are read through a `ReadModelFile`
 * function: `modelFilesAt(url)` fetches them relative to a folder URL; any other source (an `<input type=file>`
 * listing, IndexedDB, a zip) works through a function of the same shape.
 */
import { KeysliceError } from '../util/errors.js';
import { parseNpy } from './npy.js';
import type { OnnxRuntime } from './onnx/runtime.js';
import { DEFAULT_MEMORY_CACHE_BYTES, MemoryEmbeddingStore } from './sam/embedding-store.js';
import { parseSamManifest } from './sam/manifest.js';
import { SamModel } from './sam/model.js';
import { parseSam2Manifest, SAM2_CONSTANTS, type Sam2ConstantName, type Sam2GraphName, type Sam2Manifest } from './sam2/manifest.js';
import { Sam2Model, type Constants } from './sam2/model.js';

/** Reads one file named in a manifest (a path relative to the manifest, as written there). */
export type ReadModelFile = (name: string) => Promise<Uint8Array>;

type FetchLike = (url: string) => Promise<{ ok: boolean; status: number; statusText?: string; arrayBuffer(): Promise<ArrayBuffer> }>;

/**
 * Files fetched relative to a folder URL (`https://host/models/medsam/` or a manifest's own URL): the manifest's
 * `"encoder": "encoder.onnx"` is read from `https://host/models/medsam/encoder.onnx`. An HTTP error is a
 * `FILE_NOT_FOUND` naming the URL.
 */
export function modelFilesAt(base: string | URL, fetchImpl?: FetchLike): ReadModelFile {
  const get = fetchImpl ?? (globalThis.fetch as unknown as FetchLike | undefined);
  return async (name) => {
    const url = new URL(name, base).href;
    if (!get) throw new KeysliceError('FILE_NOT_FOUND', 'no fetch() here to read the model file', url);
    let res: Awaited<ReturnType<FetchLike>>;
    try {
      res = await get(url);
    } catch (e) {
      throw new KeysliceError('FILE_NOT_FOUND', `could not fetch the model file (${(e as Error).message})`, url, { cause: e });
    }
    if (!res.ok) throw new KeysliceError('FILE_NOT_FOUND', `could not fetch the model file (HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''})`, url);
    return new Uint8Array(await res.arrayBuffer());
  };
}

async function readNamed(read: ReadModelFile, name: string, what: string): Promise<Uint8Array> {
  try {
    return await read(name);
  } catch (e) {
    if (e instanceof KeysliceError) throw e;
    throw new KeysliceError('FILE_NOT_FOUND', `the ${what} could not be read (${(e as Error).message})`, name, { cause: e });
  }
}

/** The constants a sam2 manifest names, read and parsed (`.npy`); errors name the constant and its file. */
export async function readSam2Constants(m: Sam2Manifest, read: ReadModelFile): Promise<Constants> {
  const got = new Map<Sam2ConstantName, Float32Array>();
  for (const k of SAM2_CONSTANTS) {
    const name = m.constants[k];
    if (!name) continue;
    const bytes = await readNamed(read, name, `constant ${k}`);
    try {
      got.set(k, parseNpy(bytes, name.split(/[\\/]/).pop() ?? name).data);
    } catch (e) {
      throw new KeysliceError('INVALID_MODEL', `constant ${k}: ${(e as Error).message}`, name, { cause: e });
    }
  }
  const noMemEmbed = got.get('noMemEmbed') as Float32Array;
  return {
    noMemEmbed,
    noObjPtr: got.get('noObjPtr') ?? new Float32Array(noMemEmbed.length),
    maskmemTposEnc: got.get('maskmemTposEnc') ?? null,
    noObjEmbedSpatial: got.get('noObjEmbedSpatial') ?? null,
    maskDownsampleWeight: got.get('maskDownsampleWeight') ?? null,
    maskDownsampleBias: got.get('maskDownsampleBias') ?? null,
    objPtrTposProjWeight: got.get('objPtrTposProjWeight') ?? null,
    objPtrTposProjBias: got.get('objPtrTposProjBias') ?? null,
  };
}

export interface OpenModelOptions {
  /** Names the manifest in errors (default "keyslice-model.json"). */
  where?: string;
  /** SAM models: embeddings kept in memory for reuse, bytes (default 256 MiB; 0 for none). */
  memoryCacheBytes?: number;
}

/** A SAM-format model (`"format": "sam"` or none) from its manifest's JSON and a reader of its graphs. */
export async function openSamModel(json: unknown, runtime: OnnxRuntime, read: ReadModelFile, options: OpenModelOptions = {}): Promise<SamModel> {
  const where = options.where ?? 'keyslice-model.json';
  const manifest = parseSamManifest(json, where);
  const graphs = {
    encoder: await readNamed(read, manifest.encoder, 'encoder graph'),
    decoder: await readNamed(read, manifest.decoder, 'decoder graph'),
  };
  const memory = options.memoryCacheBytes ?? DEFAULT_MEMORY_CACHE_BYTES;
  return SamModel.load(manifest, runtime, where, graphs, memory > 0 ? { store: new MemoryEmbeddingStore(memory), id: 'sam' } : null);
}

/** A SAM2-family model (`"format": "sam2"`) from its manifest's JSON and a reader of its graphs and constants. */
export async function openSam2Model(json: unknown, runtime: OnnxRuntime, read: ReadModelFile, options: OpenModelOptions = {}): Promise<Sam2Model> {
  const where = options.where ?? 'keyslice-model.json';
  const manifest = parseSam2Manifest(json, where);
  const sources: Partial<Record<Sam2GraphName, Uint8Array>> = {};
  for (const [k, name] of Object.entries(manifest.graphs) as [Sam2GraphName, string | null][]) {
    if (name) sources[k] = await readNamed(read, name, `${k} graph`);
  }
  return Sam2Model.load(manifest, await readSam2Constants(manifest, read), runtime, where, sources);
}

/** The model a manifest describes: `openSam2Model` for `"format": "sam2"`, else `openSamModel`. */
export async function openModel(json: unknown, runtime: OnnxRuntime, read: ReadModelFile, options: OpenModelOptions = {}): Promise<SamModel | Sam2Model> {
  const format = json && typeof json === 'object' ? (json as Record<string, unknown>).format : undefined;
  return format === 'sam2' ? openSam2Model(json, runtime, read, options) : openSamModel(json, runtime, read, options);
}
