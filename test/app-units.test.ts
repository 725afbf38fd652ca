/** The annotation app's pure parts: RAS index conversion, drawing snapshots, review helpers. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { changedSlices, fromRasOrder, rasAxisOfVoxelAxis, rasIndex, rasLayout, sliceFromRas, sliceToRas, toRasOrder } from '../src/app/ras.js';
import { confidenceColor, leastCertainSlice, percentiles, presetRange, WINDOW_PRESETS } from '../src/app/review.js';
import { decodeRuns, encodeRuns, SnapshotStore } from '../src/app/snapshots.js';
import { stlBinary } from '../src/app/stl.js';
import { stlBytes } from '../src/mesh/mesh-files-node.js';
import { labelSurface } from '../src/mesh/surface.js';
import { makePhantom } from '../src/demo/phantom.js';
import { readVolume, writeVolume } from '../src/volume/io-node.js';
import { niftiFromBytes, niftiToBytes } from '../src/volume/nifti-bytes.js';
import { gridDifference, type Geometry, type SliceAxis, type Vec3 } from '../src/volume/volume.js';
import { tempDir } from './helpers/paths.js';

const grid = (direction: number[], size: Vec3 = [4, 3, 2]): Geometry => ({ size, spacing: [0.8, 0.9, 3], origin: [0, 0, 0], direction });
const RAS = [-1, 0, 0, 0, -1, 0, 0, 0, 1];
const LAS = [1, 0, 0, 0, -1, 0, 0, 0, 1];
const LPS = [1, 0, 0, 0, 1, 0, 0, 0, 1];
/** Voxel axis 0 towards S, axis 1 towards R, axis 2 towards P (a sagittal-first acquisition, LPS cosines). */
const PERMUTED = [0, -1, 0, 0, 0, 1, 1, 0, 0];

/** Voxel (x, y, z) of a flat index in voxel order. */
function voxelOf(i: number, size: Vec3): Vec3 {
  return [i % size[0], Math.floor(i / size[0]) % size[1], Math.floor(i / (size[0] * size[1]))];
}

/** RAS-mm position of a voxel (LPS geometry turned into RAS). */
function rasMm(g: Geometry, p: Vec3): Vec3 {
  const sign = [-1, -1, 1];
  return [0, 1, 2].map((r) => sign[r] * (g.origin[r] + [0, 1, 2].reduce((s, c) => s + g.direction[r * 3 + c] * g.spacing[c] * p[c], 0))) as Vec3;
}

describe('RAS layout', () => {
  it('keeps a RAS grid as it is', () => {
    const l = rasLayout(grid(RAS));
    assert.deepEqual(l.axisOf, [0, 1, 2]);
    assert.deepEqual(l.flip, [false, false, false]);
    assert.deepEqual(l.step, [1, 4, 12]);
    assert.equal(l.start, 0);
  });

  it('flips x of a LAS grid and x and y of an LPS grid (NiiVue img2RASstart / img2RASstep)', () => {
    const las = rasLayout(grid(LAS));
    assert.deepEqual(las.flip, [true, false, false]);
    assert.deepEqual(las.step, [-1, 4, 12]);
    assert.equal(las.start, 3);
    const lps = rasLayout(grid(LPS));
    assert.deepEqual(lps.flip, [true, true, false]);
    assert.deepEqual(lps.step, [-1, -4, 12]);
    assert.equal(lps.start, 3 + 8);
  });

  for (const [name, dir] of Object.entries({ RAS, LAS, LPS, PERMUTED })) {
    it(`${name}: RAS order increases along R, A and S in millimetres`, () => {
      const g = grid(dir, [5, 4, 3]);
      const l = rasLayout(g);
      const n = 60;
      const order = new Float32Array(n).map((_, i) => i);
      const ras = toRasOrder(order, l);
      // Neighbours along each RAS axis of the bitmap lie further along that axis in space.
      const stride = [1, l.dims[0], l.dims[0] * l.dims[1]];
      for (let r = 0; r < 3; r++) {
        const a = voxelOf(ras[0], g.size);
        const b = voxelOf(ras[stride[r]], g.size);
        const d = rasMm(g, b).map((x, k) => x - rasMm(g, a)[k]);
        assert.ok(d[r] > 0 && Math.abs(d[(r + 1) % 3]) < 1e-9 && Math.abs(d[(r + 2) % 3]) < 1e-9, `${name} axis ${r}: ${d}`);
      }
      assert.deepEqual(fromRasOrder(ras, l), order);
      for (let i = 0; i < n; i++) assert.equal(ras[rasIndex(l, voxelOf(i, g.size))], i);
    });
  }

  it('moves slice masks between voxel order and the RAS bitmap on every slice axis', () => {
    for (const dir of [RAS, LAS, LPS, PERMUTED]) {
      const g = grid(dir, [5, 4, 3]);
      const l = rasLayout(g);
      for (const axis of [0, 1, 2] as SliceAxis[]) {
        const [ua, va] = ([0, 1, 2] as const).filter((c) => c !== axis);
        const nu = g.size[ua];
        const nv = g.size[va];
        const slice = g.size[axis] - 1;
        const mask = new Uint8Array(nu * nv).map((_, i) => (i * 7) % 3 === 0 ? 1 : 0);
        const bitmap = new Uint8Array(60);
        assert.equal(sliceToRas(bitmap, l, axis, slice, mask, 2), mask.reduce((a, b) => a + b, 0));
        assert.deepEqual(sliceFromRas(bitmap, l, axis, slice, 2), mask);
        // Voxel (u, v) of the slice is where the bitmap holds it.
        const native = fromRasOrder(bitmap, l);
        for (let v = 0; v < nv; v++) {
          for (let u = 0; u < nu; u++) {
            const p = [0, 0, 0] as Vec3;
            p[axis] = slice;
            p[ua] = u;
            p[va] = v;
            assert.equal(native[p[0] + 5 * (p[1] + 4 * p[2])], mask[u + nu * v] ? 2 : 0);
          }
        }
        assert.deepEqual(changedSlices(new Uint8Array(60), bitmap, l, axis), [slice]);
        // Writing an empty mask clears the label and leaves other labels alone.
        bitmap[rasIndex(l, [0, 0, 0])] = 7;
        sliceToRas(bitmap, l, axis, slice, new Uint8Array(nu * nv), 2);
        assert.equal(bitmap.filter((x) => x === 2).length, 0);
        assert.equal(bitmap.filter((x) => x === 7).length, 1);
      }
      assert.equal(rasAxisOfVoxelAxis(l, l.axisOf[2]), 2);
    }
  });
});

describe('drawing snapshots', () => {
  it('run-length codes bitmaps exactly and refuses runs of the wrong length', () => {
    const a = new Uint8Array([0, 0, 1, 1, 1, 0, 3, 3, 0]);
    assert.deepEqual(decodeRuns(encodeRuns(a), a.length), a);
    assert.deepEqual(decodeRuns(encodeRuns(new Uint8Array(0)), 0), new Uint8Array(0));
    assert.throws(() => decodeRuns(encodeRuns(a), 8));
    assert.throws(() => decodeRuns(encodeRuns(a), 10));
  });

  it('gives back copies per revision and drops the oldest past its limit', () => {
    const store = new SnapshotStore(2);
    const d = new Uint8Array([1, 0, 2]);
    const c = new Map([[1, new Float32Array([NaN, 0.5, 1])]]);
    store.put(1, d, c);
    d[0] = 9;
    c.get(1)?.fill(0);
    const got = store.get(1, 3);
    assert.deepEqual(got?.drawing, new Uint8Array([1, 0, 2]));
    assert.equal(got?.confidence.get(1)?.[1], 0.5);
    store.put(2, d, c);
    store.put(3, d, c);
    assert.equal(store.get(1, 3), null);
    assert.ok(store.get(3, 3));
  });
});

describe('review helpers', () => {
  it('finds the least certain propagated slice, skipping key slices and empty ones', () => {
    const conf = new Float32Array([NaN, 0.9, 0.2, 0.1, 0.2, NaN]);
    assert.equal(leastCertainSlice(conf, new Set([3])), 2);
    assert.equal(leastCertainSlice(conf, new Set([3]), 5), 4);
    assert.equal(leastCertainSlice(conf, new Set()), 3);
    assert.equal(leastCertainSlice(new Float32Array([NaN, NaN]), new Set()), null);
  });

  it('colours confidence from red to green and grey where there is none', () => {
    assert.equal(confidenceColor(NaN), 'rgb(60,60,60)');
    assert.equal(confidenceColor(0), 'rgb(220,60,60)');
    assert.equal(confidenceColor(1), 'rgb(50,200,60)');
  });

  it('windows: CT presets in HU, MR presets from percentiles of the voxels', () => {
    assert.deepEqual(presetRange(WINDOW_PRESETS[0], []), [-160, 240]);
    const data = new Float32Array(1001).map((_, i) => i);
    assert.deepEqual(percentiles(data, [1, 99]), [10, 990]);
    assert.deepEqual(presetRange(WINDOW_PRESETS[4], data), [10, 990]);
  });
});

describe('NIfTI from and to bytes (the in-page reader and writer)', () => {
  it('reads a file as the Node reader does and writes what the Node reader reads back', async () => {
    const tmp = tempDir('keyslice-nifti-bytes-');
    try {
      const { image } = makePhantom({ size: [20, 16, 6] });
      const oblique = { ...image, direction: [0.8, -0.6, 0, 0.6, 0.8, 0, 0, 0, -1], origin: [3, -4, 5] as Vec3 };
      for (const [name, vol] of [['plain.nii', image], ['oblique.nii.gz', oblique]] as const) {
        const file = path.join(tmp.dir, name);
        await writeVolume(vol, file);
        const viaNode = await readVolume(file);
        const viaBytes = niftiFromBytes(new Uint8Array(fs.readFileSync(file)), name);
        assert.deepEqual([viaBytes.size, viaBytes.spacing, viaBytes.origin, [...viaBytes.direction]], [viaNode.size, viaNode.spacing, viaNode.origin, [...viaNode.direction]]);
        assert.deepEqual(viaBytes.data, viaNode.data);
        const back = path.join(tmp.dir, `back-${name}`);
        fs.writeFileSync(back, niftiToBytes(viaBytes, name.endsWith('.gz')));
        const again = await readVolume(back);
        assert.equal(gridDifference(again, viaNode), null);
        assert.deepEqual(again.data, viaNode.data);
      }
      assert.throws(() => niftiFromBytes(new Uint8Array(100), 'x.nii'), /UNSUPPORTED_IMAGE|not a 3D/);
      const whole = fs.readFileSync(path.join(tmp.dir, 'plain.nii'));
      assert.throws(() => niftiFromBytes(new Uint8Array(whole.subarray(0, whole.length - 10)), 'cut.nii'), /truncated/);
    } finally {
      tmp.cleanup();
    }
  });
});

describe('STL without a file system', () => {
  it('writes the triangles and outward normals that the Node STL writer writes', () => {
    const { truth } = makePhantom({ size: [48, 48, 10] });
    const mesh = labelSurface(truth, 1);
    assert.ok(mesh);
    const mine = stlBinary(mesh, 'keyslice test SPACE=LPS');
    const vtk = stlBytes(mesh, 'keyslice test SPACE=LPS');
    assert.equal(mine.length, vtk.length);
    assert.deepEqual(mine.subarray(0, 84), vtk.subarray(0, 84));
    const a = new DataView(mine.buffer, mine.byteOffset);
    const b = new DataView(vtk.buffer, vtk.byteOffset);
    const n = a.getUint32(80, true);
    for (let t = 0; t < n; t++) {
      for (let k = 0; k < 12; k++) {
        const o = 84 + 50 * t + 4 * k;
        assert.ok(Math.abs(a.getFloat32(o, true) - b.getFloat32(o, true)) < 1e-4, `triangle ${t} value ${k}`);
      }
    }
  });
});
