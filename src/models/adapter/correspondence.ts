/**
 * Slice-to-slice correspondence (after Sli2Vol, Yeung et al. 2021): every pixel of a slice is described by a
 * feature vector computed from its neighbourhood's edge profile; a pixel of the next slice attends to the pixels
 * of the previous slice within `radius` through the softmax of the feature dot products, and anything carried
 * across (a mask, intensities) is the attention-weighted mean of its values there.
 *
 * Arrays are channel-major: channel c of pixel (u, v) at `c * nu * nv + u + nu * v`. Outside the slice, a
 * neighbour's features and values are zero (its dot product enters the softmax as 0); the trainer
 * (`src/training/net.ts`) pads the same way, so that a trained module and this code agree.
 */

/** Channels of the edge profile: four directional differences over their norm, and the edge strength. */
export const EDGE_CHANNELS = 5;

/** Softening of the edge profile's norm (windowed intensity units). */
export const EDGE_EPSILON = 0.02;

/**
 * The edge profile of a windowed slice: the central differences along u, v and both diagonals, divided by
 * their norm (the direction of the local structure, whatever its contrast), and norm / (norm + epsilon).
 * Intensity levels themselves are left out, so that correspondence has to follow structure: a module that
 * saw intensities would learn to copy a pixel of the same grey value from anywhere in its window.
 */
export function edgeProfile(slice: Float32Array, nu: number, nv: number, out = new Float32Array(EDGE_CHANNELS * nu * nv)): Float32Array {
  const n = nu * nv;
  const at = (u: number, v: number): number => slice[Math.min(nu - 1, Math.max(0, u)) + nu * Math.min(nv - 1, Math.max(0, v))];
  for (let v = 0; v < nv; v++) {
    for (let u = 0; u < nu; u++) {
      const d0 = (at(u + 1, v) - at(u - 1, v)) / 2;
      const d1 = (at(u, v + 1) - at(u, v - 1)) / 2;
      const d2 = (at(u + 1, v + 1) - at(u - 1, v - 1)) / 2;
      const d3 = (at(u - 1, v + 1) - at(u + 1, v - 1)) / 2;
      const norm = Math.sqrt(d0 * d0 + d1 * d1 + d2 * d2 + d3 * d3);
      const s = 1 / (norm + EDGE_EPSILON);
      const i = u + nu * v;
      out[i] = d0 * s;
      out[n + i] = d1 * s;
      out[2 * n + i] = d2 * s;
      out[3 * n + i] = d3 * s;
      out[4 * n + i] = norm * s;
    }
  }
  return out;
}

/** Offsets of the attention window, row by row: index (dv + r) * (2r + 1) + (du + r). */
export function windowOffsets(radius: number): [number, number][] {
  const o: [number, number][] = [];
  for (let dv = -radius; dv <= radius; dv++) for (let du = -radius; du <= radius; du++) o.push([du, dv]);
  return o;
}

/**
 * Carries `values` (one per pixel of the source slice) to the target slice: each target pixel takes the mean of
 * the source values in its window, weighted by the softmax of the dot products of its features (`target`) with
 * theirs (`source`); both are `channels` x nu x nv.
 */
export function carryByAffinity(
  source: Float32Array,
  target: Float32Array,
  channels: number,
  nu: number,
  nv: number,
  radius: number,
  values: ArrayLike<number>,
): Float32Array {
  const n = nu * nv;
  const offsets = windowOffsets(radius);
  const logits = new Float64Array(offsets.length);
  const out = new Float32Array(n);
  for (let v = 0; v < nv; v++) {
    for (let u = 0; u < nu; u++) {
      const i = u + nu * v;
      let max = -Infinity;
      for (let k = 0; k < offsets.length; k++) {
        const uu = u + offsets[k][0];
        const vv = v + offsets[k][1];
        let s = 0;
        if (uu >= 0 && uu < nu && vv >= 0 && vv < nv) {
          const j = uu + nu * vv;
          for (let c = 0; c < channels; c++) s += target[c * n + i] * source[c * n + j];
        }
        logits[k] = s;
        if (s > max) max = s;
      }
      let z = 0;
      let acc = 0;
      for (let k = 0; k < offsets.length; k++) {
        const e = Math.exp(logits[k] - max);
        z += e;
        const uu = u + offsets[k][0];
        const vv = v + offsets[k][1];
        if (uu >= 0 && uu < nu && vv >= 0 && vv < nv) acc += e * values[uu + nu * vv];
      }
      out[i] = acc / z;
    }
  }
  return out;
}

/** Probabilities in [0, 1] as logits, clipped away from 0 and 1 by `eps`. */
export function probabilityLogits(p: Float32Array, eps = 1e-3): Float32Array {
  const out = new Float32Array(p.length);
  for (let i = 0; i < p.length; i++) {
    const q = Math.min(1 - eps, Math.max(eps, p[i]));
    out[i] = Math.log(q / (1 - q));
  }
  return out;
}
