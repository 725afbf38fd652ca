/**
 * Training material of a residual adapter: the unadapted model engine runs the benchmark's simulated annotator
 * on labelled cases (`protocolDice`) with a recording hook in place of a correction; on every propagated slice
 * the hook keeps what the adapter will see (the two embeddings as block means on the adapter's grid, the
 * previous mask's share, the decoder's pooled logits), the decoder's full logits, and the truth's share of each
 * of their pixels. Without an adapter in place the engine's results are those of the unadapted engine (the hook
 * changes nothing), so the same runs give its validation Dice. Every run on an object zooms on the same box per
 * slice (the truth's, `truthZoomBoxes`), so a slice is encoded once for all prompt kinds, budgets and rounds;
 * embeddings come from the model's embedding store where it holds them, and each is pooled once per set.
 */
import { roiToMaskInput } from '../engines/sam/frame.js';
import { boundingBox2d } from '../morphology/binary.js';
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

type Box = [number, number, number, number];

/**
 * The box each slice's crop zooms on while an object is recorded: the truth's box over the slice and its two
 * neighbours (the engine zooms on the previous slice's mask), or the nearest slices' that hold the object where
 * these hold none (a front run past the object); full-slice pixels, inclusive. Fixed per slice, so every run on
 * the object (prompt kinds, budgets, rounds) shares one encoding of each slice.
 */
export function truthZoomBoxes(truth: ArrayLike<number>, sg: SliceGeometry, value: number): (Box | null)[] {
  const own = Array.from({ length: sg.count }, (_, w) => {
    const m = sg.maskOf(truth, w, value);
    return m && boundingBox2d(m, sg.nu, sg.nv);
  });
  const union = (boxes: (Box | null)[]): Box | null =>
    boxes.reduce<Box | null>((a, b) => (!b ? a : !a ? [...b] : [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[2], b[2]), Math.max(a[3], b[3])]), null);
  return own.map((_, w) => {
    for (let r = 1; r < sg.count; r++) {
      const b = union(own.slice(Math.max(0, w - r), w + r + 1));
      if (b) return b;
    }
    return null;
  });
}

/** What a recording pass runs: the engine (given the recording hook and the fixed zoom boxes) and, optionally, an adapter in place. */
export type RecordingEngine = (hook: LogitResidual, zoomOn: (w: number) => Box | null) => SliceEngine;

/**
 * Records the training material of `cases` (one set each) while `engineWith(hook, zoomOn)` runs the protocol;
 * returns the sets and the engine's Dice per run. With `apply`, each slice's logits are recorded as the decoder
 * gave them and then corrected by `apply` (an adapter in place: the material of the inputs the adapted engine
 * meets); without, the engine is the unadapted one. The crops zoom on {@link truthZoomBoxes}.
 */
export async function recordResidual(
  cases: LabelledCase[],
  engineWith: RecordingEngine,
  grid: number,
  protocol: DiceProtocol = VALIDATION_PROTOCOL,
  apply: LogitResidual | null = null,
): Promise<{ sets: ResidualSet[]; dice: number[] }> {
  const sets: ResidualSet[] = [];
  const dice: number[] = [];
  for (const c of cases) {
    const set: ResidualSet = { grid, size: 0, channels: 0, side: 0, embeddings: [], samples: [] };
    const index = new Map<Float32Array, number>();
    let current: { value: number; sg: SliceGeometry; boxes: (Box | null)[] } | null = null;
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
        return apply ? apply.correct(input) : input.logits;
      },
    };
    const engine = engineWith(hook, (w) => current?.boxes[w] ?? null);
    const d = await protocolDice([c], [engine], protocol, (_, value, sg) => {
      current = { value, sg, boxes: truthZoomBoxes(c.truth.data, sg, value) };
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
