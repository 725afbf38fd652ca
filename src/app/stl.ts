/**
 * Binary STL of a triangle mesh, without a file system: 80-byte header, triangle count, then per triangle its
 * unit normal (from the vertex order: counter-clockwise seen from outside) and three vertices, float32.
 */
import type { TriangleMesh } from '../mesh/mesh.js';

export function stlBinary(mesh: TriangleMesh, header: string): Uint8Array {
  const n = mesh.triangles.length / 3;
  const out = new Uint8Array(84 + 50 * n);
  const view = new DataView(out.buffer);
  for (let i = 0; i < Math.min(80, header.length); i++) out[i] = header.charCodeAt(i) & 0x7f;
  for (let i = header.length; i < 80; i++) out[i] = 0x20;
  view.setUint32(80, n, true);
  const p = mesh.points;
  for (let t = 0; t < n; t++) {
    const [a, b, c] = [mesh.triangles[3 * t] * 3, mesh.triangles[3 * t + 1] * 3, mesh.triangles[3 * t + 2] * 3];
    const u = [p[b] - p[a], p[b + 1] - p[a + 1], p[b + 2] - p[a + 2]];
    const v = [p[c] - p[a], p[c + 1] - p[a + 1], p[c + 2] - p[a + 2]];
    const nrm = [u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]];
    const len = Math.hypot(nrm[0], nrm[1], nrm[2]) || 1;
    let o = 84 + 50 * t;
    for (const x of [nrm[0] / len, nrm[1] / len, nrm[2] / len]) {
      view.setFloat32(o, x, true);
      o += 4;
    }
    for (const q of [a, b, c]) {
      for (let k = 0; k < 3; k++) {
        view.setFloat32(o, p[q + k], true);
        o += 4;
      }
    }
  }
  return out;
}
