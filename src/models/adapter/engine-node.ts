/**
 * An engine with a trained adapter (Node): `--adapter DIR` on `keyslice segment` and `bench`. The adapter's
 * manifest must name the engine (and model) it is used with; its term joins the classic engine's propagation
 * cuts, or a model engine's decoder logits.
 */
import * as path from 'node:path';
import { classicEngine } from '../../engines/classic/engine.js';
import type { EngineUsage, SliceEngine } from '../../propagation/types.js';
import { nodeRuntime } from '../onnx/runtime-node.js';
import { loadSamModel, samModelIdentity, type SamLoadOptions } from '../sam/load-node.js';
import { loadAdapter, readAdapterManifest } from './load-node.js';
import { ADAPTER_MANIFEST, checkAdapterBase } from './manifest.js';
import { correspondenceTerm, type CutAdapter } from './model.js';
import { residualEngine, residualModel, residualTerm } from './residual.js';
import { carriedTerm } from './carried.js';
import type { LogitResidual } from '../../engines/sam/residual.js';
import { KeysliceError } from '../../util/errors.js';

export async function adaptedEngine(name: string, dir: string, options: SamLoadOptions & { model?: string } = {}): Promise<SliceEngine> {
  const manifest = await readAdapterManifest(dir);
  if (manifest.kind === 'decoder-residual' || manifest.base.engine !== 'classic') return modelAdaptedEngine(name, dir, options);
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

/**
 * A model engine (`sam`, `hybrid`) with an adapter on its decoder's logits: a residual adapter, or a
 * correspondence module whose carried mask joins the logits (`carried.ts`). The adapter must name this engine
 * and the very model loaded (`--model DIR`, or the built-in one), by the hash of its graphs.
 */
async function modelAdaptedEngine(name: string, dir: string, options: SamLoadOptions & { model?: string }): Promise<SliceEngine> {
  const file = path.join(dir, ADAPTER_MANIFEST);
  const m = await readAdapterManifest(dir);
  // Another engine is refused before any model is loaded.
  if (m.base.engine !== name) checkAdapterBase(m, name, undefined, file);
  const sam = await loadSamModel(options.model, options);
  checkAdapterBase(m, name, await samModelIdentity(sam), file);
  let term: LogitResidual;
  let what: string;
  if (m.kind === 'decoder-residual') {
    const graph = path.join(dir, m.graph);
    let model;
    try {
      model = await residualModel(await nodeRuntime(options), graph, m);
    } catch (e) {
      throw new KeysliceError('INVALID_MODEL', `onnxruntime could not load the adapter's graph (${(e as Error).message})`, graph, { cause: e });
    }
    term = residualTerm(model);
    what = `a residual adapter on the decoder's logits (trained on ${m.trainingData.cases.length} case(s))`;
  } else {
    term = carriedTerm(await loadAdapter(dir, options));
    what = `a ${m.mode} correspondence adapter (the previous mask carried by learned slice-to-slice attention joins the decoder's logits, weights ${m.frontWeights ? `${m.frontWeights.mask} / ${m.frontWeights.drawn}` : m.guideWeight})`;
  }
  const engine = residualEngine(name, sam, term);
  return {
    ...engine,
    description: `${engine.description}; with ${what}`,
    newUsage: () => ({ ...(engine.newUsage?.() ?? {}), adapterRuns: 0, adapterSeconds: 0 }),
    open: (img, run) => residualEngine(name, sam, countedResidual(term, run?.usage)).open(img, run),
  };
}

/** `term` with its runs and their seconds added to `usage`. */
export function timedResidual(term: LogitResidual, usage: { runs: number; seconds: number }): LogitResidual {
  return {
    async correct(input) {
      const t0 = performance.now();
      const out = await term.correct(input);
      usage.runs++;
      usage.seconds += (performance.now() - t0) / 1000;
      return out;
    },
  };
}

/** `term` with its runs counted in a run's usage record (adapterRuns, adapterSeconds). */
function countedResidual(term: LogitResidual, usage: EngineUsage | undefined): LogitResidual {
  if (!usage) return term;
  const counts = { runs: 0, seconds: 0 };
  const timed = timedResidual(term, counts);
  return {
    async correct(input) {
      const [runs, seconds] = [counts.runs, counts.seconds];
      const out = await timed.correct(input);
      usage.adapterRuns = (usage.adapterRuns ?? 0) + counts.runs - runs;
      usage.adapterSeconds = (usage.adapterSeconds ?? 0) + counts.seconds - seconds;
      return out;
    },
  };
}
