/**
 * Triangle meshes in physical coordinates (mm, ITK's LPS frame), and what can be measured on them: the enclosed
 * volume and the bounding box. Pure functions over typed arrays.
 */

export interface TriangleMesh {
  /** x, y, z per vertex, mm (LPS). */
  points: Float64Array;
  /** Three vertex indices per triangle, counter-clockwise seen from outside (normals point out). */
  triangles: Uint32Array;
}

/** Volume enclosed by a closed, consistently oriented mesh (divergence theorem), mm³. Negative if inside-out. */
export function enclosedVolume(mesh: TriangleMesh): number {
  const p = mesh.points;
  const t = mesh.triangles;
  let v = 0;
  for (let i = 0; i < t.length; i += 3) {
    const a = 3 * t[i];
    const b = 3 * t[i + 1];
    const c = 3 * t[i + 2];
    v +=
      p[a] * (p[b + 1] * p[c + 2] - p[b + 2] * p[c + 1]) -
      p[a + 1] * (p[b] * p[c + 2] - p[b + 2] * p[c]) +
      p[a + 2] * (p[b] * p[c + 1] - p[b + 1] * p[c]);
  }
  return v / 6;
}

/** Axis-aligned bounds [min x, max x, min y, max y, min z, max z] of the vertices, mm. */
export function meshBounds(mesh: TriangleMesh): [number, number, number, number, number, number] {
  const b: [number, number, number, number, number, number] = [Infinity, -Infinity, Infinity, -Infinity, Infinity, -Infinity];
  const p = mesh.points;
  for (let i = 0; i < p.length; i += 3) {
    for (let c = 0; c < 3; c++) {
      if (p[i + c] < b[2 * c]) b[2 * c] = p[i + c];
      if (p[i + c] > b[2 * c + 1]) b[2 * c + 1] = p[i + c];
    }
  }
  return b;
}

/**
 * Vertex-clustering decimation: vertices falling in one cell of a grid of `cell` mm are merged into their mean,
 * and triangles that collapse are dropped. Fast and volume-stable for cells below the voxel size's few multiples;
 * it does not preserve topology for very coarse cells.
 */
export function clusterDecimate(mesh: TriangleMesh, cell: number): TriangleMesh {
  const p = mesh.points;
  const n = p.length / 3;
  const key = new Map<string, number>();
  const remap = new Uint32Array(n);
  const sums: number[] = [];
  const counts: number[] = [];
  for (let i = 0; i < n; i++) {
    const k = `${Math.floor(p[3 * i] / cell)},${Math.floor(p[3 * i + 1] / cell)},${Math.floor(p[3 * i + 2] / cell)}`;
    let id = key.get(k);
    if (id === undefined) {
      id = counts.length;
      key.set(k, id);
      counts.push(0);
      sums.push(0, 0, 0);
    }
    remap[i] = id;
    counts[id]++;
    sums[3 * id] += p[3 * i];
    sums[3 * id + 1] += p[3 * i + 1];
    sums[3 * id + 2] += p[3 * i + 2];
  }
  const points = new Float64Array(sums.length);
  for (let id = 0; id < counts.length; id++) for (let c = 0; c < 3; c++) points[3 * id + c] = sums[3 * id + c] / counts[id];
  const tris: number[] = [];
  const seen = new Set<string>();
  const t = mesh.triangles;
  for (let i = 0; i < t.length; i += 3) {
    const a = remap[t[i]];
    const b = remap[t[i + 1]];
    const c = remap[t[i + 2]];
    if (a === b || b === c || a === c) continue;
    const k = [a, b, c].sort((x, y) => x - y).join(',');
    if (seen.has(k)) continue;
    seen.add(k);
    tris.push(a, b, c);
  }
  return { points, triangles: Uint32Array.from(tris) };
}
