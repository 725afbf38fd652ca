/**
 * An engine with a trained adapter (Node): `--adapter DIR` on `keyslice segment` and `bench`. The adapter's
 * manifest must name the engine (and model) it is used with; its term joins the engine's propagation cuts.
 */
import * as path from 'node:path';
import { classicEngine } from '../../engines/classic/engine.js';
import type { SliceEngine } from '../../propagation/types.js';
import type { RuntimeOptions } from '../onnx/runtime.js';
import { loadAdapter } from './load-node.js';
import { ADAPTER_MANIFEST, checkAdapterBase } from './manifest.js';
import { correspondenceTerm } from './model.js';

export async function adaptedEngine(name: string, dir: string, options: RuntimeOptions & { model?: string } = {}): Promise<SliceEngine> {
  const model = await loadAdapter(dir, options);
  checkAdapterBase(model.manifest, name, options.model, path.join(dir, ADAPTER_MANIFEST));
  const m = model.manifest;
  const engine = classicEngine({ adapter: correspondenceTerm(model) });
  return {
    ...engine,
    description: `${engine.description}; with a ${m.mode} correspondence adapter (mask carried by learned slice-to-slice attention, weight ${m.guideWeight})`,
    stats: () => ({ adapterRuns: model.usage.runs, adapterSeconds: model.usage.seconds }),
  };
}
