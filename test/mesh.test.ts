import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { clusterDecimate, enclosedVolume, meshBounds, type TriangleMesh } from '../src/mesh/mesh.js';
import { labelSurface } from '../src/mesh/surface.js';
import { writeVolume, readLabelVolume } from '../src/volume/io-node.js';
import { SliceGeometry, withGeometry, type Geometry, type Volume } from '../src/volume/volume.js';
import { makePhantom } from '../src/demo/phantom.js';
import { SHARED_DATA, sharedDataSkip, tempDir, runCli } from './helpers/paths.js';

const tmp = tempDir();
after(tmp.cleanup);
const f = (name: string) => path.join(tmp.dir, name);

const cli = (args: string[]) => runCli(args, { cwd: tmp.dir });

/** An oblique, anisotropic grid (rotation about two axes); `flip` makes it left-handed. */
function oblique(flip = false): Geometry {
  const [a, b] = [0.5, 0.3];
  const rz = [Math.cos(a), -Math.sin(a), 0, Math.sin(a), Math.cos(a), 0, 0, 0, 1];
  const rx = [1, 0, 0, 0, Math.cos(b), -Math.sin(b), 0, Math.sin(b), Math.cos(b)];
  const m = [0, 1, 2].flatMap((r) => [0, 1, 2].map((c) => [0, 1, 2].reduce((s, k) => s + rz[r * 3 + k] * rx[k * 3 + c], 0)));
  if (flip) for (let r = 0; r < 3; r++) m[r * 3 + 2] *= -1;
  return { size: [40, 36, 16], spacing: [0.8, 0.9, 2.5], origin: [-20.5, 13.25, 101], direction: m };
}

/** Label 1: an ellipsoid; label 2: a box beside it. */
function blobs(g: Geometry): Volume<Uint8Array> {
  const [nx, ny, nz] = g.size;
  const d = new Uint8Array(nx * ny * nz);
  for (let z = 0; z < nz; z++) for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++) {
    const e = ((x - 16) * 0.8 / 9) ** 2 + ((y - 18) * 0.9 / 8) ** 2 + ((z - 8) * 2.5 / 14) ** 2;
    if (e <= 1) d[x + nx * (y + ny * z)] = 1;
    else if (x >= 27 && x <= 38 && y >= 2 && y <= 14 && z >= 2 && z <= 13) d[x + nx * (y + ny * z)] = 2;
  }
  return withGeometry(g, d);
}

function physical(g: Geometry, i: number[]): number[] {
  return [0, 1, 2].map((r) => g.origin[r] + [0, 1, 2].reduce((s, c) => s + g.direction[r * 3 + c] * g.spacing[c] * i[c], 0));
}

/** Bounds of the midpoints between a label voxel and a non-label 6-neighbour (where the surface passes), mm. */
function boundaryBounds(v: Volume<Uint8Array>, label: number): number[] {
  const [nx, ny, nz] = v.size;
  const b = [Infinity, -Infinity, Infinity, -Infinity, Infinity, -Infinity];
  const at = (x: number, y: number, z: number) => (x < 0 || y < 0 || z < 0 || x >= nx || y >= ny || z >= nz ? 0 : v.data[x + nx * (y + ny * z)]);
  for (let z = 0; z < nz; z++) for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++) {
    if (at(x, y, z) !== label) continue;
    for (const [dx, dy, dz] of [[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]]) {
      if (at(x + dx, y + dy, z + dz) === label) continue;
      const p = physical(v, [x + dx / 2, y + dy / 2, z + dz / 2]);
      for (let c = 0; c < 3; c++) {
        b[2 * c] = Math.min(b[2 * c], p[c]);
        b[2 * c + 1] = Math.max(b[2 * c + 1], p[c]);
      }
    }
  }
  return b;
}

function count(v: Volume<Uint8Array>, label: number): number {
  return v.data.reduce((n, x) => n + (x === label ? 1 : 0), 0);
}

describe('label surfaces', () => {
  it('measures the volume and bounds of a closed mesh (a unit cube)', () => {
    const points = new Float64Array([0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0, 0, 0, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1]);
    const triangles = new Uint32Array([0, 2, 1, 0, 3, 2, 4, 5, 6, 4, 6, 7, 0, 1, 5, 0, 5, 4, 1, 2, 6, 1, 6, 5, 2, 3, 7, 2, 7, 6, 3, 0, 4, 3, 4, 7]);
    const cube: TriangleMesh = { points, triangles };
    assert.ok(Math.abs(enclosedVolume(cube) - 1) < 1e-12);
    assert.deepEqual(meshBounds(cube), [0, 1, 0, 1, 0, 1]);
    assert.equal(clusterDecimate(cube, 0.1).triangles.length, 36, 'cells smaller than the edges change nothing');
  });

  for (const flip of [false, true]) {
    it(`encloses the label's volume within 2 % and spans its physical extent on an oblique${flip ? ', left-handed' : ''} grid`, () => {
      const v = blobs(oblique(flip));
      const voxelMm3 = v.spacing[0] * v.spacing[1] * v.spacing[2];
      for (const label of [1, 2]) {
        const mesh = labelSurface(v, label);
        assert.ok(mesh);
        const vol = enclosedVolume(mesh);
        const want = count(v, label) * voxelMm3;
        assert.ok(Math.abs(vol - want) / want < 0.02, `label ${label}: mesh ${vol.toFixed(1)} mm³ vs voxels ${want.toFixed(1)} mm³`);
        const mb = meshBounds(mesh);
        const bb = boundaryBounds(v, label);
        mb.forEach((x, i) => assert.ok(Math.abs(x - bb[i]) < 1e-6, `bound ${i}: ${x} vs ${bb[i]}`));
      }
    });
  }

  it('smooths and decimates, keeping the volume', () => {
    const v = blobs(oblique());
    const raw = labelSurface(v, 1) as TriangleMesh;
    const smooth = labelSurface(v, 1, { smoothing: 20 }) as TriangleMesh;
    const coarse = labelSurface(v, 1, { decimate: 2 }) as TriangleMesh;
    const want = count(v, 1) * v.spacing[0] * v.spacing[1] * v.spacing[2];
    assert.ok(Math.abs(enclosedVolume(smooth) - want) / want < 0.04, 'smoothing keeps the volume within 4 %');
    assert.ok(coarse.triangles.length < raw.triangles.length / 2, `${coarse.triangles.length} vs ${raw.triangles.length} triangles`);
    assert.ok(Math.abs(enclosedVolume(coarse) - want) / want < 0.05, 'decimation keeps the volume within 5 %');
    assert.equal(labelSurface(v, 7), null);
  });

  it('keyslice mesh writes one STL and OBJ per label, in LPS mm, named after the labels', async () => {
    const v = blobs(oblique());
    await writeVolume(v, f('blobs.nii.gz'));
    const r = cli(['mesh', '--labels', 'blobs.nii.gz', '--out', 'meshes', '--mesh-format', 'stl,obj', '--label-names', '1=liver,2=left kidney']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readdirSync(f('meshes')).sort(), ['1_liver.obj', '1_liver.stl', '2_left_kidney.obj', '2_left_kidney.stl']);
    const stl = readFileSync(f('meshes/1_liver.stl'));
    assert.match(stl.toString('latin1', 0, 80), /^SPACE=LPS keyslice surface of label 1 \(liver\)/);
    const n = stl.readUInt32LE(80);
    assert.equal(stl.length, 84 + 50 * n);
    // the STL's triangles enclose the same volume (float32 vertices)
    let vol = 0;
    for (let t = 0; t < n; t++) {
      const o = 84 + 50 * t + 12;
      const p = [0, 1, 2].map((k) => [0, 1, 2].map((c) => stl.readFloatLE(o + 12 * k + 4 * c)));
      vol += (p[0][0] * (p[1][1] * p[2][2] - p[1][2] * p[2][1]) - p[0][1] * (p[1][0] * p[2][2] - p[1][2] * p[2][0]) + p[0][2] * (p[1][0] * p[2][1] - p[1][1] * p[2][0])) / 6;
    }
    const want = count(v, 1) * v.spacing[0] * v.spacing[1] * v.spacing[2];
    assert.ok(Math.abs(vol - want) / want < 0.02, `STL encloses ${vol.toFixed(1)} of ${want.toFixed(1)} mm³`);
    const obj = readFileSync(f('meshes/2_left_kidney.obj'), 'utf8');
    assert.match(obj, /^# keyslice surface of label 2 \(left kidney\); SPACE=LPS; units mm$/m);
    assert.match(r.stdout, /label 1 \(liver\): \d+ triangles, mesh \d+\.\d\d mL, voxels \d+\.\d\d mL/);
    assert.doesNotMatch(r.stdout + r.stderr, /mcubes/, 'vtk.js timing stays off the terminal');
  });
});

describe('keyslice segment --mesh', () => {
  it('writes a mesh per label beside the segmentation', async () => {
    const { image, truth } = makePhantom({ size: [48, 48, 12], spacing: [1.5, 1.5, 5] });
    await writeVolume(image, f('ct.nii.gz'));
    const sg = new SliceGeometry(image, 2);
    const sparse = new Uint8Array(truth.data.length);
    for (const w of [3, 6, 9]) sg.insert(sparse, w, sg.slice(truth.data, w));
    await writeVolume(withGeometry(image, sparse), f('keys.nii.gz'));
    const r = cli(['segment', '--image', 'ct.nii.gz', '--annotations', 'keys.nii.gz', '--key-slices', '3,6,9', '--label-names', '1=organ,2=lesion',
      '--out', 'seg.nii.gz', '--mesh', 'seg-meshes', '--smooth', '10', '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readdirSync(f('seg-meshes')).sort(), ['1_organ.stl', '2_lesion.stl']);
    const seg = await readLabelVolume(f('seg.nii.gz'));
    const m = cli(['mesh', '--labels', 'seg.nii.gz', '--out', 'again']);
    assert.equal(m.code, 0, m.stderr);
    assert.deepEqual(readdirSync(f('again')).sort(), ['1_organ.stl', '2_lesion.stl'], 'names read from the colour table beside the labels');
    assert.ok(seg.data.some((x) => x === 2));
  });
});

describe('meshes of the real data', { skip: sharedDataSkip() }, () => {
  it('hippocampus labels: each mesh encloses its label volume within 2 %', async () => {
    const labels = await readLabelVolume(path.join(SHARED_DATA, 'msd-hippocampus/labels/hippocampus_001.nii.gz'));
    const voxelMm3 = labels.spacing[0] * labels.spacing[1] * labels.spacing[2];
    for (const label of [1, 2]) {
      const mesh = labelSurface(labels, label);
      assert.ok(mesh);
      let n = 0;
      for (const x of labels.data) if (x === label) n++;
      const rel = Math.abs(enclosedVolume(mesh) - n * voxelMm3) / (n * voxelMm3);
      assert.ok(rel < 0.02, `label ${label}: ${(rel * 100).toFixed(2)} %`);
    }
  });
});
