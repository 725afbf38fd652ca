/**
 * Training of the correspondence module (TensorFlow.js, WebAssembly backend, on the CPU).
 * - `self-supervised`: each target slice is reconstructed from its neighbour through the learned attention
 *   (L1 error of the windowed intensities); images only.
 * - `supervised`: the same, plus the binary cross-entropy of each object's mask carried from its neighbour
 *   against its true mask on the target slice.
 * Adam; deterministic for a seed (weights, pair sampling); after every epoch the loss on fixed pairs of the
 * validation volumes is measured and the best weights kept; training stops when it has not improved for
 * `patience` epochs.
 */
import type { Scalar, Tensor4D } from '@tensorflow/tfjs-core';
import { rng } from '../demo/phantom.js';
import { pairBatch, randomPair, validationPairs, type PairBatch, type PairPick, type TrainingVolume } from './data.js';
import { buildNet, DEFAULT_NET, initWeights, type Net, type NetShape, type NetWeights } from './net.js';
import { fit, fitSettings, type FitProgress, type FitResult } from './fit.js';
import { loadTf, type Tf } from './tf.js';

export type TrainingMode = 'self-supervised' | 'supervised';

export interface TrainOptions {
  mode: TrainingMode;
  /** Default 1. */
  seed?: number;
  shape?: NetShape;
  /** Pairs per step (default 4). */
  batch?: number;
  /** Crop side, pixels (default 32). */
  crop?: number;
  /** Steps per epoch (default 20) and at most (default 200). */
  stepsPerEpoch?: number;
  maxSteps?: number;
  /** Epochs without a better validation loss before stopping (default 3). */
  patience?: number;
  /** Adam learning rate (default 0.003). */
  learningRate?: number;
  onProgress?: (p: TrainProgress) => void;
}

export type TrainProgress = FitProgress;

export type TrainResult = FitResult<NetWeights>;

/** Loss of one batch (a scalar): reconstruction L1, plus the carried masks' cross-entropy when supervised. */
export function batchLoss(tf: Tf, net: Net, b: PairBatch): Scalar {
  return tf.tidy(() => {
    const C = net.shape.inputChannels;
    const src = tf.tensor4d(b.srcEdges, [b.size, b.h, b.w, C]);
    const tgt = tf.tensor4d(b.tgtEdges, [b.size, b.h, b.w, C]);
    const both = net.features(tf.concat([src, tgt], 0) as Tensor4D);
    const fs = tf.slice(both, [0, 0, 0, 0], [b.size, -1, -1, -1]) as Tensor4D;
    const ft = tf.slice(both, [b.size, 0, 0, 0], [b.size, -1, -1, -1]) as Tensor4D;
    const px = b.size * b.h * b.w;
    const values = new Float32Array(px * (b.srcMask ? 2 : 1));
    for (let i = 0; i < px; i++) {
      if (b.srcMask) {
        values[2 * i] = b.srcValues[i];
        values[2 * i + 1] = b.srcMask[i];
      } else values[i] = b.srcValues[i];
    }
    const carried = net.attend(fs, ft, tf.tensor4d(values, [b.size, b.h, b.w, b.srcMask ? 2 : 1]));
    const recon = tf.slice(carried, [0, 0, 0, 0], [-1, -1, -1, 1]);
    let loss = tf.mean(tf.abs(tf.sub(recon, tf.tensor4d(b.tgtValues, [b.size, b.h, b.w, 1])))) as Scalar;
    if (b.srcMask && b.tgtMask) {
      const p = tf.clipByValue(tf.slice(carried, [0, 0, 0, 1], [-1, -1, -1, 1]), 1e-4, 1 - 1e-4);
      const t = tf.tensor4d(b.tgtMask, [b.size, b.h, b.w, 1]);
      const bce = tf.neg(tf.mean(tf.add(tf.mul(t, tf.log(p)), tf.mul(tf.sub(1, t), tf.log(tf.sub(1, p))))));
      loss = tf.add(loss, bce) as Scalar;
    }
    return loss;
  });
}

export async function trainCorrespondence(train: TrainingVolume[], validation: TrainingVolume[], options: TrainOptions): Promise<TrainResult> {
  const tf = await loadTf();
  const seed = options.seed ?? 1;
  const shape = options.shape ?? DEFAULT_NET;
  const batch = options.batch ?? 4;
  const crop = options.crop ?? 32;
  const supervised = options.mode === 'supervised';
  const rand = rng(seed * 7919 + 17);
  const usable = train.filter((v) => v.count >= 2 && (!supervised || v.objects.length > 0));
  if (!usable.length) throw new Error(supervised ? 'no training volume with labels and two slices or more' : 'no training volume with two slices or more');
  const valBatches: PairBatch[] = [];
  for (const v of validation.length ? validation : usable.slice(-1)) {
    const picks = validationPairs(v, crop, supervised);
    for (let i = 0; i < picks.length; i += batch) valBatches.push(pairBatch(v, picks.slice(i, i + batch), crop));
  }
  const net = buildNet(tf, initWeights(shape, seed));
  const nextBatch = (): PairBatch | null => {
    const vol = usable[Math.floor(rand() * usable.length)];
    const picks: PairPick[] = [];
    for (let k = 0; k < batch; k++) {
      const p = randomPair(vol, crop, rand, supervised);
      if (p) picks.push(p);
    }
    return picks.length ? pairBatch(vol, picks, crop) : null;
  };
  try {
    return await fit(tf, {
      variables: net.variables,
      nextBatch,
      loss: (b) => batchLoss(tf, net, b),
      validation: valBatches,
      snapshot: () => net.weights(),
      ...fitSettings(options, 200),
    });
  } finally {
    net.dispose();
  }
}

/** Features of one slice's edge profile (channel-major, as `correspondence.ts` lays them out) by the tfjs module. */
export async function netFeatures(weights: NetWeights, edges: Float32Array, nu: number, nv: number): Promise<Float32Array> {
  const tf = await loadTf();
  const net = buildNet(tf, weights);
  try {
    const C = weights.shape.inputChannels;
    const out = tf.tidy(() => {
      const x = tf.transpose(tf.tensor3d(edges, [C, nv, nu]), [1, 2, 0]);
      const f = net.features(tf.expandDims(x, 0) as Tensor4D);
      return tf.transpose(tf.squeeze(f, [0]), [2, 0, 1]);
    });
    const data = new Float32Array(out.dataSync());
    out.dispose();
    return data;
  } finally {
    net.dispose();
  }
}
