/**
 * One binary graph cut on a 2D slice: unary costs on the free pixels, fixed labels elsewhere, and a
 * contrast-sensitive Potts term between 8-neighbours, lambda * exp(-beta * dI^2) / distance, with beta from the
 * mean squared neighbour difference (Rother et al., "GrabCut", 2004).
 */
import { MaxFlow } from '../../graphcut/maxflow.js';

export interface CutProblem {
  nu: number;
  nv: number;
  /** In-plane spacing, mm. */
  du: number;
  dv: number;
  /** Image used for the contrast term. */
  image: Float32Array;
  /** 1 = the label of this pixel is decided by the cut. */
  free: Uint8Array;
  /** Label of the pixels that are not free (1 = object). */
  fixed: Uint8Array;
  /** Costs (nats) of labelling a free pixel object / background. */
  costFg: Float32Array;
  costBg: Float32Array;
  /** Weight of the boundary term (default 1.5). */
  lambda?: number;
  /**
   * Curvature (1/mm, positive where convex) of the level sets of a reference shape. When given, the boundary
   * term's pull on that shape is compensated: a free pixel's cost of being background grows by the boundary
   * energy that moving the reference contour outward over it would add, (1 + sqrt 2) * lambda * g * curvature
   * * (smaller spacing), with g the pixel's mean contrast factor. Without it a band-limited cut shrinks a convex
   * shape wherever the image shows no edge, by about lambda / (shape slope * radius) pixels per cut.
   */
  curvature?: Float32Array;
}

/** Integer scale of the costs given to the max-flow. */
const SCALE = 1000;

let pairBuffer = new Int32Array(0);

/** Scratch for `n` neighbour pairs, shared by the calls of {@link solveCut} (each runs to its end at once). */
function pairScratch(n: number): Int32Array {
  if (pairBuffer.length < n) pairBuffer = new Int32Array(n);
  return pairBuffer;
}

/** Solves the cut; returns the mask (fixed pixels keep their label). */
export function solveCut(p: CutProblem): Uint8Array {
  const { nu, nv, du, dv, image, free, fixed, costFg, costBg } = p;
  const lambda = p.lambda ?? 1.5;
  const n = nu * nv;
  const node = new Int32Array(n).fill(-1);
  let count = 0;
  for (let i = 0; i < n; i++) if (free[i]) node[i] = count++;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) if (!free[i]) out[i] = fixed[i] ? 1 : 0;
  if (count === 0) return out;

  // The four forward neighbours of a pixel (u + 1, v), (u, v + 1), (u + 1, v + 1), (u - 1, v + 1), in this order,
  // and their in-plane distances (in units of the smaller spacing). Pairs with no free pixel play no part.
  const dmin = Math.min(du, dv);
  const diag = Math.hypot(du, dv) / dmin;
  const dist = [du / dmin, dv / dmin, diag, diag];
  // The pairs with a free pixel, row by row: pixel i and its neighbour q (so that both passes below read them in
  // the same order).
  const pairs = pairScratch(4 * n);
  let pairCount = 0;
  const step = [1, nu, nu + 1, nu - 1];
  for (let v = 0; v < nv; v++) {
    const below = v + 1 < nv;
    for (let u = 0, i = nu * v; u < nu; u++, i++) {
      const fi = free[i];
      const right = u + 1 < nu;
      if (right && (fi || free[i + 1])) pairs[pairCount++] = 4 * i;
      if (!below) continue;
      if (fi || free[i + nu]) pairs[pairCount++] = 4 * i + 1;
      if (right && (fi || free[i + nu + 1])) pairs[pairCount++] = 4 * i + 2;
      if (u > 0 && (fi || free[i + nu - 1])) pairs[pairCount++] = 4 * i + 3;
    }
  }
  // beta = 1 / (2 <dI^2>) over neighbour pairs touching a free pixel.
  let sum = 0;
  for (let k = 0; k < pairCount; k++) {
    const i = pairs[k] >> 2;
    const d = image[i] - image[i + step[pairs[k] & 3]];
    sum += d * d;
  }
  const beta = pairCount > 0 && sum > 0 ? pairCount / (2 * sum) : 0;

  const cFg = new Float64Array(count);
  const cBg = new Float64Array(count);
  for (let i = 0; i < n; i++) {
    if (node[i] < 0) continue;
    cFg[node[i]] = costFg[i];
    cBg[node[i]] = costBg[i];
  }
  const g = new MaxFlow(count, count * 4);
  // With a curvature to compensate: each free pixel's summed contrast factors and edge count.
  const contrast = p.curvature ? new Float64Array(count) : null;
  const edges = p.curvature ? new Uint8Array(count) : null;
  for (let k = 0; k < pairCount; k++) {
    const i = pairs[k] >> 2;
    const q = pairs[k] & 3;
    const j = i + step[q];
    const fi = free[i];
    const fj = free[j];
    const d = image[i] - image[j];
    const factor = Math.exp(-beta * d * d);
    const wgt = (lambda * factor) / dist[q];
    if (contrast && edges) {
      if (fi) {
        contrast[node[i]] += factor;
        edges[node[i]]++;
      }
      if (fj) {
        contrast[node[j]] += factor;
        edges[node[j]]++;
      }
    }
    if (fi && fj) {
      const c = Math.round(wgt * SCALE);
      if (c > 0) g.addEdge(node[i], node[j], c, c);
    } else if (fi) {
      // j fixed: disagreeing with it costs wgt.
      if (fixed[j]) cBg[node[i]] += wgt;
      else cFg[node[i]] += wgt;
    } else {
      if (fixed[i]) cBg[node[j]] += wgt;
      else cFg[node[j]] += wgt;
    }
  }
  if (p.curvature && contrast && edges) {
    // Length of a contour per pixel crossed, in edges of this neighbourhood: 1 + sqrt 2 (same along axes and
    // diagonals), times the pixel's mean contrast factor.
    const perLength = (1 + Math.SQRT2) * lambda * dmin;
    for (let i = 0; i < n; i++) {
      const k = node[i];
      if (k < 0) continue;
      cBg[k] += perLength * (edges[k] ? contrast[k] / edges[k] : 1) * p.curvature[i];
    }
  }
  for (let k = 0; k < count; k++) {
    const m = Math.min(cFg[k], cBg[k]);
    // Source side = object: the source edge is cut when the pixel is background, the sink edge when object.
    g.addTerminal(k, Math.round((cBg[k] - m) * SCALE), Math.round((cFg[k] - m) * SCALE));
  }
  g.maxflow();
  for (let i = 0; i < n; i++) if (node[i] >= 0) out[i] = g.isSource(node[i]) ? 1 : 0;
  return out;
}
