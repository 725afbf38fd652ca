/** `keyslice bench --adapter DIR`: the engine the adapter was made for, with the adapter, as one more method. */
import type { BenchMethod } from '../bench/methods.js';
import { adaptedEngine } from '../models/adapter/engine-node.js';
import { readAdapterManifest } from '../models/adapter/load-node.js';
import { adaptedMethod } from './loo.js';

export async function adapterMethod(dir: string): Promise<BenchMethod> {
  const m = await readAdapterManifest(dir);
  // An adapter for a model engine names its model by hash: it runs on the built-in model, and refuses it if made for another.
  const model = m.base.engine === 'classic' ? m.base.model : undefined;
  return adaptedMethod(`keyslice:${m.base.engine}+adapter`, await adaptedEngine(m.base.engine, dir, { model }));
}
