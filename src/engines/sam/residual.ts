/**
 * What a correction of the SAM decoder's logits on a propagated slice sees (`SamEngineOptions.residual`), and
 * the grid operations that bring the decoder's inputs and outputs to a coarser grid and back.
 */
import type { SamEmbedding } from '../../models/sam/model.js';
import type { PropagationStep, RoiImage } from '../../propagation/types.js';
import { roiToMaskInput, type InputFrame } from './frame.js';

export interface ResidualInput {
  img: RoiImage;
  step: PropagationStep;
  /**
   * Whether the front's key slice was drawn by the model from a box or points (else its mask was given as it
   * is): an adapter may weigh the two kinds of front apart.
   */
  drawnKey: boolean;
  /** The mask the decoder was prompted with (ROI pixels; the previous slice's mask). */
  source: Uint8Array;
  /** The frame of this slice's encoder input. */
  frame: InputFrame;
  /** This slice's embedding, and the previous slice's in the same frame (this slice's own where there is none). */
  embedding: SamEmbedding;
  previous: SamEmbedding;
  /** The decoder's low-resolution logits, `size` x `size` over the input. */
  logits: Float32Array;
  size: number;
}

export interface LogitResidual {
  /** The corrected logits (`size` x `size`; the decoder's own when nothing changes). */
  correct(input: ResidualInput): Promise<Float32Array>;
}

/** Means of `factor` x `factor` blocks of a `side` x `side` grid (`channels` planes, channel-major). */
export function poolGrid(src: ArrayLike<number>, side: number, factor: number, channels = 1): Float32Array {
  const g = Math.floor(side / factor);
  const out = new Float32Array(channels * g * g);
  const k = 1 / (factor * factor);
  for (let c = 0; c < channels; c++) {
    const base = c * side * side;
    for (let y = 0; y < g; y++) {
      for (let x = 0; x < g; x++) {
        let s = 0;
        for (let dy = 0; dy < factor; dy++) for (let dx = 0; dx < factor; dx++) s += src[base + (y * factor + dy) * side + x * factor + dx];
        out[c * g * g + y * g + x] = s * k;
      }
    }
  }
  return out;
}

/**
 * The weights of {@link upsampleGrid} along one axis: a `side` x `grid` matrix (row-major) U with
 * upsampled = U field U^T (bilinear, pixel centres aligned, edges clamped).
 */
export function upsampleMatrix(grid: number, side: number): Float32Array {
  const m = new Float32Array(side * grid);
  const k = grid / side;
  for (let y = 0; y < side; y++) {
    const g = Math.min(Math.max((y + 0.5) * k - 0.5, 0), grid - 1);
    const g0 = Math.floor(g);
    const g1 = Math.min(g0 + 1, grid - 1);
    m[y * grid + g0] += 1 - (g - g0);
    m[y * grid + g1] += g - g0;
  }
  return m;
}

/** A `grid` x `grid` field resampled to `side` x `side` (pixel centres aligned, edges clamped): U field U^T. */
export function upsampleGrid(field: Float32Array, grid: number, side: number): Float32Array {
  const u = upsampleMatrix(grid, side);
  // Rows first (side x grid), then columns.
  const rows = new Float32Array(side * grid);
  for (let y = 0; y < side; y++) {
    for (let i = 0; i < grid; i++) {
      const w = u[y * grid + i];
      if (w === 0) continue;
      for (let j = 0; j < grid; j++) rows[y * grid + j] += w * field[i * grid + j];
    }
  }
  const out = new Float32Array(side * side);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      let s = 0;
      for (let j = 0; j < grid; j++) s += rows[y * grid + j] * u[x * grid + j];
      out[y * side + x] = s;
    }
  }
  return out;
}

/** An ROI mask (0/1, or a fraction) as the share of each cell of a `grid` x `grid` grid over the frame's input. */
export function maskOnGrid(mask: ArrayLike<number>, nu: number, nv: number, frame: InputFrame, grid: number): Float32Array {
  const fine = roiToMaskInput(Float32Array.from(mask), nu, nv, frame, 4 * grid, 0);
  return poolGrid(fine, 4 * grid, 4);
}
