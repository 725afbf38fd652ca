/**
 * Training material of a residual adapter: the unadapted model engine runs the benchmark's simulated annotator
 * on labelled cases (`protocolDice`) with a recording hook in place of a correction; on every propagated slice
 * the hook keeps what the adapter will see (the two embeddings as block means on the adapter's grid, the
 * previous mask's share, the decoder's pooled logits), the decoder's full logits, and the truth's share of each
 * of their pixels. The engine's results
 * are those of the unadapted engine (the hook changes nothing), so the same runs give its validation Dice.
 * Embeddings come from the model's embedding store where it holds them, and each is pooled once per set.
 */
import { roiToMaskInput } from '../engines/sam/frame.js';
import { poolGrid, type LogitResidual } from '../engines/sam/residual.js';
import { residualGridInputs } from '../models/adapter/residual.js';
import type { SliceEngine } from '../propagation/types.js';
import type { SliceGeometry } from '../volume/volume.js';
import { protocolDice, type DiceProtocol, type LabelledCase, VALIDATION_PROTOCOL } from './validate.js';

export interface ResidualSample {
  /** Indices of this slice's and the previous slice's pooled embeddings in the set. */
  embedding: number;
  previous: number;
  /** grid x grid each: the previous mask's share, the decoder's pooled logits (unscaled). */
  previousMask: Float32Array;
  logits: Float32Array;
  /** The decoder's logits as it gave them and the truth's share of each of their pixels (`size` x `size`). */
  fineLogits: Float32Array;
  fineTarget: Float32Array;
}

export interface ResidualSet {
  grid: number;
  /** Side of the decoder's logits (0 before the first sample). */
  size: number;
  /** Channels and side of the model's embeddings. */
  channels: number;
  side: number;
  /** Pooled embeddings, grid x grid x channels (channels last). */
  embeddings: Float32Array[];
  samples: ResidualSample[];
}

/** A channel-major C x side x side embedding as block means on the grid, channels last. */
export function pooledEmbedding(data: Float32Array, channels: number, side: number, grid: number): Float32Array {
  const pooled = poolGrid(data, side, side / grid, channels);
  const n = grid * grid;
  const out = new Float32Array(n * channels);
  for (let c = 0; c < channels; c++) for (let i = 0; i < n; i++) out[i * channels + c] = pooled[c * n + i];
  return out;
}

/** The truth's mask on slice w inside an ROI (nu x nv from `origin`). */
function roiTruth(full: Uint8Array | null, sg: SliceGeometry, origin: [number, number] | undefined, nu: number, nv: number): Uint8Array {
  const [ou, ov] = origin ?? [0, 0];
  const out = new Uint8Array(nu * nv);
  if (!full) return out;
  for (let v = 0; v < nv; v++) for (let u = 0; u < nu; u++) out[u + nu * v] = full[u + ou + sg.nu * (v + ov)];
  return out;
}

/**
 * Records the training material of `cases` (one set each) while `engineWith(hook)` runs the protocol; returns
 * the sets and the unadapted engine's Dice per run.
 */
export async function recordResidual(
  cases: LabelledCase[],
  engineWith: (hook: LogitResidual) => SliceEngine,
  grid: number,
  protocol: DiceProtocol = VALIDATION_PROTOCOL,
): Promise<{ sets: ResidualSet[]; dice: number[] }> {
  const sets: ResidualSet[] = [];
  const dice: number[] = [];
  for (const c of cases) {
    const set: ResidualSet = { grid, size: 0, channels: 0, side: 0, embeddings: [], samples: [] };
    const index = new Map<Float32Array, number>();
    let current: { value: number; sg: SliceGeometry } | null = null;
    const pooled = (data: Float32Array, dims: number[]): number => {
      let i = index.get(data);
      if (i === undefined) {
        set.channels = dims[1];
        set.side = dims[2];
        i = set.embeddings.push(pooledEmbedding(data, dims[1], dims[2], grid)) - 1;
        index.set(data, i);
      }
      return i;
    };
    const hook: LogitResidual = {
      async correct(input) {
        if (current) {
          const { img, step, frame, size } = input;
          const truth = roiTruth(current.sg.maskOf(c.truth.data, step.to, current.value), current.sg, img.origin, img.nu, img.nv);
          const { previousMask, logits } = residualGridInputs(input, grid);
          set.size = size;
          set.samples.push({
            embedding: pooled(input.embedding.data, input.embedding.dims),
            previous: pooled(input.previous.data, input.previous.dims),
            previousMask,
            logits,
            fineLogits: Float32Array.from(input.logits),
            fineTarget: roiToMaskInput(Float32Array.from(truth), img.nu, img.nv, frame, size, 0),
          });
        }
        return input.logits;
      },
    };
    const d = await protocolDice([c], [engineWith(hook)], protocol, (_, value, sg) => {
      current = { value, sg };
    });
    dice.push(...d[0]);
    sets.push(set);
  }
  return { sets, dice };
}

/** Several sets as one (embedding indices renumbered). */
export function mergeSets(sets: ResidualSet[]): ResidualSet {
  const out: ResidualSet = { grid: sets[0]?.grid ?? 0, size: Math.max(0, ...sets.map((s) => s.size)), channels: Math.max(0, ...sets.map((s) => s.channels)), side: Math.max(0, ...sets.map((s) => s.side)), embeddings: [], samples: [] };
  for (const s of sets) {
    const base = out.embeddings.length;
    out.embeddings.push(...s.embeddings);
    for (const x of s.samples) out.samples.push({ ...x, embedding: x.embedding + base, previous: x.previous + base });
  }
  return out;
}
