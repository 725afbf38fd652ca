/**
 * Local attention over a window of radius r, forward and backward, on plain arrays (NHWC, batch first): the
 * training's hot loop, written out because as TensorFlow.js ops (one slice, product and sum per window offset)
 * it costs hundreds of kernel launches per step and their gradients are slow on the WebAssembly backend.
 *
 * For target pixel p: logits_k = sum_c target[p, c] * source[p + o_k, c] (0 where p + o_k is outside the slice),
 * w = softmax(logits), out[p, v] = sum_k w_k * values[p + o_k, v] (0 outside): `carryByAffinity` of
 * `src/models/adapter/correspondence.ts`, batched and with several value channels.
 */
import { windowOffsets } from '../models/adapter/correspondence.js';

export interface AttentionDims {
  b: number;
  h: number;
  w: number;
  /** Feature channels, value channels. */
  c: number;
  v: number;
  radius: number;
}

/** Softmax weights of one target pixel over its window (into `wts`); out-of-slice offsets are marked in `inside`. */
function pixelWeights(d: AttentionDims, offs: [number, number][], source: Float32Array, target: Float32Array, n: number, y: number, x: number, wts: Float64Array, inside: Int32Array): void {
  const { h, w, c } = d;
  const p = ((n * h + y) * w + x) * c;
  let max = -Infinity;
  for (let k = 0; k < offs.length; k++) {
    const yy = y + offs[k][1];
    const xx = x + offs[k][0];
    let s = 0;
    if (yy >= 0 && yy < h && xx >= 0 && xx < w) {
      const q = ((n * h + yy) * w + xx) * c;
      inside[k] = q / c;
      for (let ch = 0; ch < c; ch++) s += target[p + ch] * source[q + ch];
    } else inside[k] = -1;
    wts[k] = s;
    if (s > max) max = s;
  }
  let z = 0;
  for (let k = 0; k < offs.length; k++) {
    wts[k] = Math.exp(wts[k] - max);
    z += wts[k];
  }
  for (let k = 0; k < offs.length; k++) wts[k] /= z;
}

export function attentionForward(d: AttentionDims, source: Float32Array, target: Float32Array, values: Float32Array): Float32Array {
  const offs = windowOffsets(d.radius);
  const wts = new Float64Array(offs.length);
  const inside = new Int32Array(offs.length);
  const out = new Float32Array(d.b * d.h * d.w * d.v);
  for (let n = 0; n < d.b; n++) {
    for (let y = 0; y < d.h; y++) {
      for (let x = 0; x < d.w; x++) {
        pixelWeights(d, offs, source, target, n, y, x, wts, inside);
        const o = ((n * d.h + y) * d.w + x) * d.v;
        for (let k = 0; k < offs.length; k++) {
          if (inside[k] < 0) continue;
          for (let ch = 0; ch < d.v; ch++) out[o + ch] += wts[k] * values[inside[k] * d.v + ch];
        }
      }
    }
  }
  return out;
}

/** Gradients of sum(dOut * out) with respect to source, target and values. */
export function attentionBackward(
  d: AttentionDims,
  source: Float32Array,
  target: Float32Array,
  values: Float32Array,
  dOut: Float32Array,
): { dSource: Float32Array; dTarget: Float32Array; dValues: Float32Array } {
  const offs = windowOffsets(d.radius);
  const K = offs.length;
  const wts = new Float64Array(K);
  const dw = new Float64Array(K);
  const inside = new Int32Array(K);
  const dSource = new Float32Array(source.length);
  const dTarget = new Float32Array(target.length);
  const dValues = new Float32Array(values.length);
  const { c, v } = d;
  for (let n = 0; n < d.b; n++) {
    for (let y = 0; y < d.h; y++) {
      for (let x = 0; x < d.w; x++) {
        pixelWeights(d, offs, source, target, n, y, x, wts, inside);
        const pix = (n * d.h + y) * d.w + x;
        let mean = 0;
        for (let k = 0; k < K; k++) {
          let s = 0;
          if (inside[k] >= 0) {
            for (let ch = 0; ch < v; ch++) {
              s += dOut[pix * v + ch] * values[inside[k] * v + ch];
              dValues[inside[k] * v + ch] += wts[k] * dOut[pix * v + ch];
            }
          }
          dw[k] = s;
          mean += wts[k] * s;
        }
        for (let k = 0; k < K; k++) {
          if (inside[k] < 0) continue;
          const g = wts[k] * (dw[k] - mean);
          if (g === 0) continue;
          const q = inside[k] * c;
          const p = pix * c;
          for (let ch = 0; ch < c; ch++) {
            dTarget[p + ch] += g * source[q + ch];
            dSource[q + ch] += g * target[p + ch];
          }
        }
      }
    }
  }
  return { dSource, dTarget, dValues };
}
