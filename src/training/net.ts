/**
 * The correspondence module in TensorFlow.js, for training: a stack of 3 x 3 convolutions over the edge profile
 * (`src/models/adapter/correspondence.ts`) gives each pixel its features; a pixel of the target slice attends to
 * the source slice's pixels within `radius` (softmax of feature dot products) and reconstructs what is carried
 * (intensities, a mask) as their weighted mean (a custom-gradient op over plain arrays). The convolutions are written as one 2-D matrix product over the
 * nine shifted copies of their input (the WebAssembly backend has no gradient for a convolution's filter), and
 * shifts pad with zeros exactly as `carryByAffinity` does, so the exported graph reproduces the trained module.
 *
 * Tensors are NHWC: [batch, nv, nu, channels].
 */
import type { GradSaveFunc, Tensor, Tensor2D, Tensor4D, Variable } from '@tensorflow/tfjs-core';
import { attentionBackward, attentionForward } from './attention-kernel.js';
import { rng } from '../demo/phantom.js';
import type { Tf } from './tf.js';

export interface NetShape {
  inputChannels: number;
  /** Widths of the convolution layers' outputs; the last is the feature width. */
  widths: number[];
  radius: number;
}

export const DEFAULT_NET: NetShape = { inputChannels: 5, widths: [16, 16, 16], radius: 3 };

/** Plain weights of the module: per layer a [9 * in, out] matrix (row (ky * 3 + kx) * in + c) and a bias. */
export interface NetWeights {
  shape: NetShape;
  layers: { w: Float32Array; b: Float32Array; inC: number; outC: number }[];
}

/** He-initialised weights from a seed (deterministic). */
export function initWeights(shape: NetShape, seed: number): NetWeights {
  const rand = rng(seed);
  const gauss = (): number => Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand());
  let inC = shape.inputChannels;
  const layers = shape.widths.map((outC) => {
    const w = new Float32Array(9 * inC * outC);
    const std = Math.sqrt(2 / (9 * inC));
    for (let i = 0; i < w.length; i++) w[i] = gauss() * std;
    const layer = { w, b: new Float32Array(outC), inC, outC };
    inC = outC;
    return layer;
  });
  return { shape, layers };
}

export interface Net {
  shape: NetShape;
  variables: Variable[];
  features(x: Tensor4D): Tensor4D;
  /**
   * Carries values [B, nv, nu, V] of the source slices to the target slices through the attention of the target
   * features over the source features (both [B, nv, nu, C]): [B, nv, nu, V] (`attention-kernel.ts`).
   */
  attend(source: Tensor4D, target: Tensor4D, values: Tensor4D): Tensor4D;
  weights(): NetWeights;
  dispose(): void;
}

/**
 * The (2r + 1)^2 shifted copies of x, zero outside, in window order. (Copies are joined with `concat`, never
 * `stack`: the gradient of `stack` is orders of magnitude slower on the WebAssembly backend.)
 */
function shifts(tf: Tf, x: Tensor4D, r: number): Tensor4D[] {
  const [b, h, w, c] = x.shape;
  const padded = tf.pad(x, [[0, 0], [r, r], [r, r], [0, 0]]);
  const parts: Tensor4D[] = [];
  for (let dv = -r; dv <= r; dv++) for (let du = -r; du <= r; du++) parts.push(tf.slice(padded, [0, r + dv, r + du, 0], [b, h, w, c]));
  return parts;
}

/** A 2-D matrix product whose gradients transpose explicitly: transposed products leave the backend's fast path. */
export function matMul2d(tf: Tf): (a: Tensor2D, b: Tensor2D) => Tensor2D {
  return tf.customGrad((...args: (Tensor | GradSaveFunc)[]) => {
    const [a, b] = args as Tensor2D[];
    (args[2] as GradSaveFunc)([a, b]);
    return {
      value: tf.matMul(a, b),
      gradFunc: (dy: Tensor, saved: Tensor[]) => [tf.matMul(dy as Tensor2D, tf.transpose(saved[1] as Tensor2D)), tf.matMul(tf.transpose(saved[0] as Tensor2D), dy as Tensor2D)],
    };
  }) as (a: Tensor2D, b: Tensor2D) => Tensor2D;
}

export function buildNet(tf: Tf, init: NetWeights): Net {
  const vars = init.layers.map((l, n) => ({
    w: tf.variable(tf.tensor2d(l.w, [9 * l.inC, l.outC]), true, `w${n}`),
    b: tf.variable(tf.tensor1d(l.b), true, `b${n}`),
    inC: l.inC,
    outC: l.outC,
  }));
  const radius = init.shape.radius;
  const matMul = matMul2d(tf);
  const attend = tf.customGrad((...args: (Tensor | GradSaveFunc)[]) => {
    const [source, target, values] = args as Tensor4D[];
    const save = args[3] as GradSaveFunc;
    const [b, h, w, c] = source.shape;
    const d = { b, h, w, c, v: values.shape[3], radius };
    save([source, target, values]);
    const out = attentionForward(d, source.dataSync() as Float32Array, target.dataSync() as Float32Array, values.dataSync() as Float32Array);
    return {
      value: tf.tensor4d(out, [b, h, w, d.v]),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [s, t, v] = saved.map((x) => x.dataSync() as Float32Array);
        const g = attentionBackward(d, s, t, v, dy.dataSync() as Float32Array);
        return [tf.tensor4d(g.dSource, source.shape), tf.tensor4d(g.dTarget, target.shape), tf.tensor4d(g.dValues, values.shape)];
      },
    };
  }) as (source: Tensor4D, target: Tensor4D, values: Tensor4D) => Tensor4D;
  return {
    shape: init.shape,
    variables: vars.flatMap((v) => [v.w, v.b]),
    features(x) {
      let h: Tensor4D = x;
      vars.forEach((v, n) => {
        const [b, hh, ww] = h.shape;
        // Sum over the nine offsets of (shifted input) x (that offset's rows of the weight matrix).
        let acc: Tensor2D | null = null;
        for (const [k, part] of shifts(tf, h, 1).entries()) {
          const wk = tf.slice(v.w, [k * v.inC, 0], [v.inC, v.outC]) as Tensor2D;
          const term = matMul(tf.reshape(part, [b * hh * ww, v.inC]) as Tensor2D, wk);
          acc = acc ? (tf.add(acc, term) as Tensor2D) : term;
        }
        const y = tf.reshape(tf.add(acc as Tensor2D, v.b), [b, hh, ww, v.outC]) as Tensor4D;
        h = n < vars.length - 1 ? tf.relu(y) : y;
      });
      return h;
    },
    attend(source, target, values) {
      return attend(source, target, values);
    },
    weights() {
      return {
        shape: init.shape,
        layers: vars.map((v) => ({ w: new Float32Array(v.w.dataSync()), b: new Float32Array(v.b.dataSync()), inC: v.inC, outC: v.outC })),
      };
    },
    dispose() {
      for (const v of vars) {
        v.w.dispose();
        v.b.dispose();
      }
    },
  };
}
