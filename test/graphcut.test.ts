import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rng } from '../src/demo/phantom.js';
import { solveCut } from '../src/engines/classic/cut.js';
import { MaxFlow } from '../src/graphcut/maxflow.js';

/** Minimum cut value by enumerating every source set (small graphs only). */
function bruteForceCut(n: number, terminals: [number, number][], edges: [number, number, number, number][]): number {
  let best = Infinity;
  for (let s = 0; s < 1 << n; s++) {
    let c = 0;
    for (let i = 0; i < n; i++) c += s & (1 << i) ? terminals[i][1] : terminals[i][0];
    for (const [i, j, cap, rev] of edges) {
      const si = (s >> i) & 1;
      const sj = (s >> j) & 1;
      if (si && !sj) c += cap;
      if (sj && !si) c += rev;
    }
    best = Math.min(best, c);
  }
  return best;
}

describe('max-flow / min-cut', () => {
  it('equals the brute-force minimum cut on random graphs, and the cut it returns costs exactly that', () => {
    const r = rng(11);
    for (let trial = 0; trial < 200; trial++) {
      const n = 2 + Math.floor(r() * 8);
      const terminals: [number, number][] = [];
      for (let i = 0; i < n; i++) terminals.push([Math.floor(r() * 10), Math.floor(r() * 10)]);
      const edges: [number, number, number, number][] = [];
      const m = Math.floor(r() * n * 3);
      for (let e = 0; e < m; e++) {
        const i = Math.floor(r() * n);
        const j = Math.floor(r() * n);
        if (i === j) continue;
        edges.push([i, j, Math.floor(r() * 8), Math.floor(r() * 8)]);
      }
      const g = new MaxFlow(n, 1);
      for (let i = 0; i < n; i++) g.addTerminal(i, terminals[i][0], terminals[i][1]);
      for (const [i, j, c, rc] of edges) g.addEdge(i, j, c, rc);
      const flow = g.maxflow();
      const expected = bruteForceCut(n, terminals, edges);
      assert.equal(flow, expected, `trial ${trial}`);
      let cut = 0;
      for (let i = 0; i < n; i++) cut += g.isSource(i) ? terminals[i][1] : terminals[i][0];
      for (const [i, j, c, rc] of edges) {
        if (g.isSource(i) && !g.isSource(j)) cut += c;
        if (g.isSource(j) && !g.isSource(i)) cut += rc;
      }
      assert.equal(cut, flow, `trial ${trial}: the returned cut is a minimum cut`);
    }
  });

  it('segments a noisy square with a smooth boundary where unaries alone are noisy', () => {
    const nu = 40;
    const nv = 40;
    const r = rng(3);
    const image = new Float32Array(nu * nv);
    const truth = new Uint8Array(nu * nv);
    const costFg = new Float32Array(nu * nv);
    const costBg = new Float32Array(nu * nv);
    let unaryErrors = 0;
    for (let v = 0; v < nv; v++) {
      for (let u = 0; u < nu; u++) {
        const i = u + nu * v;
        truth[i] = u >= 10 && u < 30 && v >= 10 && v < 30 ? 1 : 0;
        image[i] = truth[i] ? 1 : 0;
        const noisy = truth[i] ? r() < 0.8 : r() < 0.2;
        costFg[i] = noisy ? 0 : 1;
        costBg[i] = noisy ? 1 : 0;
        if ((noisy ? 1 : 0) !== truth[i]) unaryErrors++;
      }
    }
    const free = new Uint8Array(nu * nv).fill(1);
    const out = solveCut({ nu, nv, du: 1, dv: 1, image: new Float32Array(nu * nv), free, fixed: new Uint8Array(nu * nv), costFg, costBg, lambda: 1 });
    let errors = 0;
    for (let i = 0; i < out.length; i++) if (out[i] !== truth[i]) errors++;
    assert.ok(unaryErrors > 250, `unary errors ${unaryErrors}`);
    assert.ok(errors < unaryErrors / 5, `cut errors ${errors} vs unary ${unaryErrors}`);
  });
});
