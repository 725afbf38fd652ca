/**
 * Minimum s-t cut by max-flow (Boykov & Kolmogorov, "An Experimental Comparison of Min-Cut/Max-Flow
 * Algorithms for Energy Minimization in Vision", PAMI 2004): two search trees grown from the terminals,
 * augmentation, adoption of orphans, with the time-stamp/distance heuristic for the origin checks.
 *
 * Capacities are integers (callers scale their energies), so the arithmetic is exact and the algorithm ends.
 */

const NONE = -1;
const TERMINAL = -2;
const ORPHAN = -3;

const FREE = 0;
const SOURCE = 1;
const SINK = 2;

export class MaxFlow {
  readonly nodeCount: number;
  private readonly trCap: Float64Array;
  private readonly first: Int32Array;
  private readonly parent: Int32Array;
  private readonly tree: Uint8Array;
  private readonly ts: Int32Array;
  private readonly dist: Int32Array;
  private readonly inQueue: Uint8Array;
  private head: Int32Array;
  private next: Int32Array;
  private rcap: Float64Array;
  private arcCount = 0;
  private flow = 0;

  constructor(nodeCount: number, edgeHint = nodeCount * 4) {
    this.nodeCount = nodeCount;
    this.trCap = new Float64Array(nodeCount);
    this.first = new Int32Array(nodeCount).fill(NONE);
    this.parent = new Int32Array(nodeCount).fill(NONE);
    this.tree = new Uint8Array(nodeCount);
    this.ts = new Int32Array(nodeCount);
    this.dist = new Int32Array(nodeCount);
    this.inQueue = new Uint8Array(nodeCount);
    const arcs = Math.max(2, edgeHint * 2);
    this.head = new Int32Array(arcs);
    this.next = new Int32Array(arcs);
    this.rcap = new Float64Array(arcs);
  }

  /** Adds capacities source→i and i→sink (both >= 0). */
  addTerminal(i: number, toSource: number, toSink: number): void {
    const d = this.trCap[i];
    if (d > 0) toSource += d;
    else toSink -= d;
    this.flow += Math.min(toSource, toSink);
    this.trCap[i] = toSource - toSink;
  }

  /** Adds the edge i→j with capacity `cap` and j→i with `revCap` (both >= 0). */
  addEdge(i: number, j: number, cap: number, revCap: number): void {
    if (this.arcCount + 2 > this.head.length) this.grow();
    const a = this.arcCount;
    this.arcCount += 2;
    this.head[a] = j;
    this.next[a] = this.first[i];
    this.first[i] = a;
    this.rcap[a] = cap;
    this.head[a + 1] = i;
    this.next[a + 1] = this.first[j];
    this.first[j] = a + 1;
    this.rcap[a + 1] = revCap;
  }

  private grow(): void {
    const n = this.head.length * 2;
    const h = new Int32Array(n);
    h.set(this.head);
    const nx = new Int32Array(n);
    nx.set(this.next);
    const r = new Float64Array(n);
    r.set(this.rcap);
    this.head = h;
    this.next = nx;
    this.rcap = r;
  }

  /** Runs the max-flow and returns its value. */
  maxflow(): number {
    const { trCap, first, parent, tree, ts, dist, inQueue, head, next, rcap } = this;
    const n = this.nodeCount;
    // Active nodes: a FIFO ring over a plain array (each node at most once).
    let queue = new Int32Array(Math.max(16, n + 1));
    let qHead = 0;
    let qLen = 0;
    const push = (i: number): void => {
      if (inQueue[i]) return;
      if (qLen === queue.length) {
        const q = new Int32Array(queue.length * 2);
        for (let k = 0; k < qLen; k++) q[k] = queue[(qHead + k) % queue.length];
        queue = q;
        qHead = 0;
      }
      queue[(qHead + qLen) % queue.length] = i;
      qLen++;
      inQueue[i] = 1;
    };
    const pop = (): number => {
      const i = queue[qHead];
      qHead = (qHead + 1) % queue.length;
      qLen--;
      inQueue[i] = 0;
      return i;
    };
    let orphans: number[] = [];
    let time = 0;

    for (let i = 0; i < n; i++) {
      ts[i] = 0;
      if (trCap[i] > 0) {
        tree[i] = SOURCE;
        parent[i] = TERMINAL;
        dist[i] = 1;
        push(i);
      } else if (trCap[i] < 0) {
        tree[i] = SINK;
        parent[i] = TERMINAL;
        dist[i] = 1;
        push(i);
      } else {
        tree[i] = FREE;
        parent[i] = NONE;
      }
    }

    let current = -1;
    for (;;) {
      // Growth: find an arc joining the two trees.
      let meet = NONE;
      let i = current;
      if (i >= 0 && parent[i] === NONE) i = -1;
      while (meet === NONE) {
        if (i < 0) {
          while (qLen > 0) {
            const c = pop();
            if (parent[c] !== NONE) {
              i = c;
              break;
            }
          }
          if (i < 0) break;
        }
        const t = tree[i];
        for (let a = first[i]; a !== NONE; a = next[a]) {
          const cap = t === SOURCE ? rcap[a] : rcap[a ^ 1];
          if (cap <= 0) continue;
          const j = head[a];
          if (parent[j] === NONE) {
            tree[j] = t;
            parent[j] = a ^ 1;
            ts[j] = ts[i];
            dist[j] = dist[i] + 1;
            push(j);
          } else if (tree[j] !== t) {
            meet = t === SOURCE ? a : a ^ 1;
            break;
          } else if (ts[j] <= ts[i] && dist[j] > dist[i]) {
            parent[j] = a ^ 1;
            ts[j] = ts[i];
            dist[j] = dist[i] + 1;
          }
        }
        if (meet === NONE) i = -1;
      }
      if (meet === NONE) break;
      current = i;
      time++;

      // Augmentation along source-tree path → meet arc → sink-tree path.
      const sNode = head[meet ^ 1];
      const tNode = head[meet];
      let bottleneck = rcap[meet];
      for (let k = sNode; ; ) {
        const a = parent[k];
        if (a === TERMINAL) {
          bottleneck = Math.min(bottleneck, trCap[k]);
          break;
        }
        bottleneck = Math.min(bottleneck, rcap[a ^ 1]);
        k = head[a];
      }
      for (let k = tNode; ; ) {
        const a = parent[k];
        if (a === TERMINAL) {
          bottleneck = Math.min(bottleneck, -trCap[k]);
          break;
        }
        bottleneck = Math.min(bottleneck, rcap[a]);
        k = head[a];
      }
      rcap[meet ^ 1] += bottleneck;
      rcap[meet] -= bottleneck;
      for (let k = sNode; ; ) {
        const a = parent[k];
        if (a === TERMINAL) {
          trCap[k] -= bottleneck;
          if (trCap[k] === 0) {
            parent[k] = ORPHAN;
            orphans.push(k);
          }
          break;
        }
        rcap[a] += bottleneck;
        rcap[a ^ 1] -= bottleneck;
        if (rcap[a ^ 1] === 0) {
          parent[k] = ORPHAN;
          orphans.push(k);
        }
        k = head[a];
      }
      for (let k = tNode; ; ) {
        const a = parent[k];
        if (a === TERMINAL) {
          trCap[k] += bottleneck;
          if (trCap[k] === 0) {
            parent[k] = ORPHAN;
            orphans.push(k);
          }
          break;
        }
        rcap[a ^ 1] += bottleneck;
        rcap[a] -= bottleneck;
        if (rcap[a] === 0) {
          parent[k] = ORPHAN;
          orphans.push(k);
        }
        k = head[a];
      }
      this.flow += bottleneck;

      // Adoption.
      while (orphans.length > 0) {
        const batch = orphans;
        orphans = [];
        for (let b = 0; b < batch.length; b++) {
          const o = batch[b];
          const t = tree[o];
          let best = NONE;
          let bestDist = Infinity;
          for (let a0 = first[o]; a0 !== NONE; a0 = next[a0]) {
            const cap = t === SOURCE ? rcap[a0 ^ 1] : rcap[a0];
            if (cap <= 0) continue;
            let j = head[a0];
            if (tree[j] !== t || parent[j] === NONE) continue;
            // Trace j to its origin.
            let d = 0;
            let ok = false;
            for (;;) {
              if (ts[j] === time) {
                d += dist[j];
                ok = true;
                break;
              }
              const a = parent[j];
              d++;
              if (a === TERMINAL) {
                ts[j] = time;
                dist[j] = 1;
                ok = true;
                break;
              }
              if (a === ORPHAN || a === NONE) break;
              j = head[a];
            }
            if (ok) {
              if (d < bestDist) {
                best = a0;
                bestDist = d;
              }
              for (let k = head[a0]; ts[k] !== time; k = head[parent[k]]) {
                ts[k] = time;
                dist[k] = d;
                d--;
              }
            }
          }
          parent[o] = best;
          if (best !== NONE) {
            ts[o] = time;
            dist[o] = bestDist + 1;
            continue;
          }
          // No parent: o becomes free; its children become orphans, its neighbours may grow again.
          for (let a0 = first[o]; a0 !== NONE; a0 = next[a0]) {
            const j = head[a0];
            if (tree[j] !== t || parent[j] === NONE) continue;
            const cap = t === SOURCE ? rcap[a0 ^ 1] : rcap[a0];
            if (cap > 0) push(j);
            const pa = parent[j];
            if (pa !== TERMINAL && pa !== ORPHAN && head[pa] === o) {
              parent[j] = ORPHAN;
              orphans.push(j);
            }
          }
          tree[o] = FREE;
          parent[o] = NONE;
        }
      }
    }
    return this.flow;
  }

  /** True when node i is on the source side of the minimum cut (call after {@link maxflow}). */
  isSource(i: number): boolean {
    return this.parent[i] !== NONE && this.tree[i] === SOURCE;
  }
}
