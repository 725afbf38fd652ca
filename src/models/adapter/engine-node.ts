/**
 * An engine with a trained adapter (Node): `--adapter DIR` on `keyslice segment` and `bench`. The adapter's
 * manifest must name the engine (and model) it is used with; its term joins the engine's propagation cuts.
 */
import * as path from 'node:path';
import { classicEngine } from '../../engines/classic/engine.js';
import type { EngineUsage, SliceEngine } from '../../propagation/types.js';
import type { RuntimeOptions } from '../onnx/runtime.js';
import { loadAdapter } from './load-node.js';
import { ADAPTER_MANIFEST, checkAdapterBase } from './manifest.js';
import { correspondenceTerm, type CutAdapter } from './model.js';

export async function adaptedEngine(name: string, dir: string, options: RuntimeOptions & { model?: string } = {}): Promise<SliceEngine> {
  const model = await loadAdapter(dir, options);
  checkAdapterBase(model.manifest, name, options.model, path.join(dir, ADAPTER_MANIFEST));
  const m = model.manifest;
  const term = correspondenceTerm(model);
  const engine = classicEngine({ adapter: term });
  return {
    ...engine,
    description: `${engine.description}; with a ${m.mode} correspondence adapter (mask carried by learned slice-to-slice attention, weight ${m.guideWeight})`,
    newUsage: () => ({ adapterRuns: 0, adapterSeconds: 0 }),
    open: (img, run) => classicEngine({ adapter: countedTerm(term, run?.usage) }).open(img, run),
  };
}

/** `term` with its graph runs counted in a run's usage record (adapterRuns, adapterSeconds). */
function countedTerm(term: CutAdapter, usage: EngineUsage | undefined): CutAdapter {
  if (!usage) return term;
  return {
    open(img) {
      const guides = term.open(img);
      return {
        async guide(step) {
          const t0 = performance.now();
          const g = await guides.guide(step);
          if (g) {
            usage.adapterRuns = (usage.adapterRuns ?? 0) + 1;
            usage.adapterSeconds = (usage.adapterSeconds ?? 0) + (performance.now() - t0) / 1000;
          }
          return g;
        },
      };
    },
  };
}
