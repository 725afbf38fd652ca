/**
 * The residual adapter in TensorFlow.js, for training (see `src/models/adapter/residual.ts` for what it does at
 * inference): both pooled embeddings are projected to `reduced` channels by one shared matrix; the projection of
 * this slice, its difference from the previous slice's, the previous mask's share and the scaled logits go
 * through a stack of 3 x 3 convolutions (`buildNet`) whose last layer starts at zero. The loss is taken where
 * the engine takes its mask, on the decoder's full logits plus the correction resampled as at inference (U c U^T,
 * `upsampleMatrix`, two 2-D matrix products): the pixels' mean binary cross-entropy against the truth's share,
 * plus the soft Dice loss of each slice (the object is a small part of the frame; Dice is what is measured).
 *
 * Tensors are NHWC: [batch, grid, grid, channels].
 */
import type { Scalar, Tensor2D, Tensor3D, Tensor4D, Variable } from '@tensorflow/tfjs-core';
import { upsampleMatrix } from '../engines/sam/residual.js';
import { rng } from '../demo/phantom.js';
import type { ResidualShape } from '../models/adapter/manifest.js';
import { buildNet, initWeights, matMul2d, type Net, type NetWeights } from './net.js';
import type { Tf } from './tf.js';

export interface ResidualWeights {
  shape: ResidualShape;
  /** [embeddingChannels, reduced], row-major. */
  projection: Float32Array;
  layers: NetWeights['layers'];
}

/** Input channels of the convolutions: projection, difference, previous mask, logits. */
export const convInputs = (shape: ResidualShape): number => 2 * shape.reduced + 2;

/** Weights from a seed (deterministic): a scaled Gaussian projection, He convolutions, the last layer at zero. */
export function initResidual(shape: ResidualShape, seed: number): ResidualWeights {
  const rand = rng(seed * 31 + 7);
  const gauss = (): number => Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand());
  const projection = Float32Array.from({ length: shape.embeddingChannels * shape.reduced }, () => gauss() / Math.sqrt(shape.embeddingChannels));
  const { layers } = initWeights({ inputChannels: convInputs(shape), widths: shape.widths, radius: 0 }, seed);
  const last = layers[layers.length - 1];
  last.w.fill(0);
  last.b.fill(0);
  return { shape, projection, layers };
}

/**
 * A batch of samples: pooled embeddings (channels last), previous masks and scaled logits on the grid; the
 * decoder's logits and the truth's share on its `side` x `side` pixels.
 */
export interface ResidualBatch {
  size: number;
  embedding: Float32Array;
  previous: Float32Array;
  previousMask: Float32Array;
  scaledLogits: Float32Array;
  side: number;
  fineLogits: Float32Array;
  fineTarget: Float32Array;
}

export interface ResidualNet {
  variables: Variable[];
  /** The correction [B, grid, grid, 1]. */
  correction(b: ResidualBatch): Tensor4D;
  loss(b: ResidualBatch): Scalar;
  weights(): ResidualWeights;
  dispose(): void;
}

/**
 * `upsampleGrid` on tensors, differentiable: [B, grid, grid, 1] to [B, side, side] as U c U^T (rows, then
 * columns, each a 2-D product with U^T, which the WebAssembly backend runs on its fast path).
 */
export function gridUpsampler(tf: Tf, grid: number): { apply(c: Tensor4D, side: number): Tensor3D; dispose(): void } {
  const matMul = matMul2d(tf);
  const ut = new Map<number, Tensor2D>();
  return {
    apply(c, side) {
      let u = ut.get(side);
      if (!u) {
        u = tf.keep(tf.transpose(tf.tensor2d(upsampleMatrix(grid, side), [side, grid])));
        ut.set(side, u);
      }
      const B = c.shape[0];
      const cols = tf.reshape(matMul(tf.reshape(c, [B * grid, grid]) as Tensor2D, u), [B, grid, side]);
      const rows = matMul(tf.reshape(tf.transpose(cols, [0, 2, 1]), [B * side, grid]) as Tensor2D, u);
      return tf.transpose(tf.reshape(rows, [B, side, side]), [0, 2, 1]) as Tensor3D;
    },
    dispose() {
      for (const u of ut.values()) u.dispose();
    },
  };
}

export function buildResidualNet(tf: Tf, init: ResidualWeights): ResidualNet {
  const { grid, embeddingChannels: C, reduced: R } = init.shape;
  const projection = tf.variable(tf.tensor2d(init.projection, [C, R]), true, 'projection');
  const conv: Net = buildNet(tf, { shape: { inputChannels: convInputs(init.shape), widths: init.shape.widths, radius: 0 }, layers: init.layers });
  const matMul = matMul2d(tf);
  const upsampled = gridUpsampler(tf, grid);
  const correction = (b: ResidualBatch): Tensor4D => {
    const px = b.size * grid * grid;
    const project = (e: Float32Array) => tf.reshape(matMul(tf.tensor2d(e, [px, C]), projection as unknown as Tensor2D), [b.size, grid, grid, R]) as Tensor4D;
    const ft = project(b.embedding);
    const fp = project(b.previous);
    const plane = (x: Float32Array) => tf.tensor4d(x, [b.size, grid, grid, 1]);
    const x = tf.concat([ft, tf.sub(ft, fp), plane(b.previousMask), plane(b.scaledLogits)], 3) as Tensor4D;
    return conv.features(x);
  };
  return {
    variables: [projection, ...conv.variables],
    correction: (b) => tf.tidy(() => correction(b)),
    loss(b) {
      return tf.tidy(() => {
        const shape: [number, number, number] = [b.size, b.side, b.side];
        const z = tf.add(tf.tensor3d(b.fineLogits, shape), upsampled.apply(correction(b), b.side));
        const t = tf.tensor3d(b.fineTarget, shape);
        // Cross-entropy with logits: max(z, 0) - z t + log(1 + exp(-|z|)).
        const bce = tf.mean(tf.add(tf.sub(tf.relu(z), tf.mul(z, t)), tf.log1p(tf.exp(tf.neg(tf.abs(z))))));
        // Soft Dice per slice (1 smooths slices where the object is absent).
        const p = tf.sigmoid(z);
        const overlap = tf.sum(tf.mul(p, t), [1, 2]);
        const total = tf.add(tf.sum(p, [1, 2]), tf.sum(t, [1, 2]));
        const dice = tf.sub(1, tf.mean(tf.div(tf.add(tf.mul(overlap, 2), 1), tf.add(total, 1))));
        return tf.add(bce, dice) as Scalar;
      });
    },
    weights() {
      return { shape: init.shape, projection: new Float32Array(projection.dataSync()), layers: conv.weights().layers };
    },
    dispose() {
      upsampled.dispose();
      projection.dispose();
      conv.dispose();
    },
  };
}
