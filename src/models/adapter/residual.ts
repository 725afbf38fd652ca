/**
 * A residual adapter on a SAM-format decoder's logits (`decoder-residual` adapters), on onnxruntime (Node or
 * browser). On each propagated slice it sees, on a grid coarser than the decoder's (`grid` x `grid` over the
 * model input): this slice's and the previous slice's image embeddings (block means), the previous slice's mask
 * (the share of each cell it covers) and the decoder's logits (block means, scaled by {@link scaleLogits}); it
 * returns a correction that is resampled to the decoder's logits and added to them. Its last layer starts at
 * zero, so an adapter that learned nothing leaves the decoder's logits bit for bit as they were.
 *
 * Graph inputs: `embedding`, `previous_embedding` [1, C, side, side], `previous_mask`, `logits` [1, 1, grid,
 * grid]; output `correction` [1, 1, grid, grid].
 */
import { maskOnGrid, poolGrid, upsampleGrid, type LogitResidual, type ResidualInput } from '../../engines/sam/residual.js';
import { KeysliceError } from '../../util/errors.js';
import { floatData, type GraphSession, type OnnxRuntime } from '../onnx/runtime.js';
import type { SamEmbedding, SamModel } from '../sam/model.js';
import { hybridEngine } from '../../engines/hybrid/engine.js';
import { samEngine, type SamEngineOptions } from '../../engines/sam/engine.js';
import type { SliceEngine } from '../../propagation/types.js';
import type { AdapterManifest, ResidualShape } from './manifest.js';

/** Logits as the adapter's input: divided by 10 and clipped to [-2, 2] (a logit of 20 is as sure as one of 40). */
export function scaleLogits(pooled: Float32Array): Float32Array {
  return pooled.map((x) => Math.max(-2, Math.min(2, x / 10)));
}

/** The grid inputs of one step besides the embeddings: the previous mask's share and the decoder's pooled logits. */
export function residualGridInputs(input: ResidualInput, grid: number): { previousMask: Float32Array; logits: Float32Array } {
  const { img, source, frame, logits, size } = input;
  return { previousMask: maskOnGrid(source, img.nu, img.nv, frame, grid), logits: poolGrid(logits, size, size / grid) };
}

/** The residual shape of a manifest (refusing an adapter of another kind). */
export function residualShape(m: AdapterManifest): ResidualShape {
  if (m.kind !== 'decoder-residual' || !m.residual) throw new KeysliceError('INVALID_MODEL', `a ${m.kind} adapter is not a residual adapter on a decoder's logits`);
  return m.residual;
}

export interface ResidualModel {
  manifest: AdapterManifest;
  /** The correction (grid x grid) for one step's inputs. */
  correction(embedding: SamEmbedding, previous: SamEmbedding, previousMask: Float32Array, scaledLogits: Float32Array): Promise<Float32Array>;
  /** Graph runs and their seconds so far. */
  readonly usage: { runs: number; seconds: number };
  release(): Promise<void>;
}

export async function residualModel(runtime: OnnxRuntime, graph: string | Uint8Array, manifest: AdapterManifest): Promise<ResidualModel> {
  const { embeddingChannels: C, embeddingSide: side, grid } = residualShape(manifest);
  const session: GraphSession = await runtime.load(graph);
  const usage = { runs: 0, seconds: 0 };
  const check = (e: SamEmbedding) => {
    if (e.dims[1] !== C || e.dims[2] !== side || e.dims[3] !== side) {
      throw new KeysliceError('INVALID_MODEL', `the residual adapter takes [1,${C},${side},${side}] embeddings; the model gives [${e.dims.join(',')}]`);
    }
  };
  return {
    manifest,
    usage,
    async correction(embedding, previous, previousMask, scaledLogits) {
      check(embedding);
      check(previous);
      const t0 = performance.now();
      const feeds = {
        embedding: runtime.float32(embedding.data, [1, C, side, side]),
        previous_embedding: runtime.float32(previous.data, [1, C, side, side]),
        previous_mask: runtime.float32(previousMask, [1, 1, grid, grid]),
        logits: runtime.float32(scaledLogits, [1, 1, grid, grid]),
      };
      const res = await session.run(feeds, ['correction']);
      usage.runs++;
      usage.seconds += (performance.now() - t0) / 1000;
      return floatData(res.correction, 'residual adapter output correction');
    },
    release: () => session.release(),
  };
}

/**
 * The engine hook of a residual model: the decoder's logits plus a weight x its correction. The weight is
 * `weight` where given, else the manifest's for the front's kind (`frontWeights`: from a mask key slice, or from
 * one the model drew), else its `guideWeight`.
 */
export function residualTerm(model: ResidualModel, weight?: number): LogitResidual {
  const m = model.manifest;
  const { grid } = residualShape(m);
  return {
    async correct(input) {
      const w = weight ?? (m.frontWeights ? m.frontWeights[input.drawnKey ? 'drawn' : 'mask'] : m.guideWeight);
      if (w === 0) return input.logits;
      const { previousMask, logits } = residualGridInputs(input, grid);
      const c = upsampleGrid(await model.correction(input.embedding, input.previous, previousMask, scaleLogits(logits)), grid, input.size);
      return input.logits.map((x, i) => x + w * c[i]);
    },
  };
}

/**
 * A model engine (`sam` or `hybrid`) on `model` with a correction of its decoder's logits (and, for recording,
 * fixed zoom boxes: `SamEngineOptions.zoomOn`).
 */
export function residualEngine(name: string, model: SamModel, residual: LogitResidual | null, zoomOn: SamEngineOptions['zoomOn'] = null): SliceEngine {
  if (name === 'sam') return samEngine(model, { residual, zoomOn });
  if (name === 'hybrid') return hybridEngine(model, { sam: { residual, zoomOn } });
  throw new KeysliceError('USAGE', `a residual adapter on the decoder's logits serves the sam and hybrid engines, not "${name}"`);
}
