import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { binaryEdt1d, edt1d, squaredDistanceTransform } from '../src/metrics/edt.js';
import { objectMetrics, percentile } from '../src/metrics/metrics.js';
import { keyObjectEnds } from '../src/metrics/object-ends.js';
import { rng } from '../src/demo/phantom.js';
import { SliceGeometry, type Vec3 } from '../src/volume/volume.js';

function box(size: Vec3, lo: Vec3, hi: Vec3): Uint8Array {
  const m = new Uint8Array(size[0] * size[1] * size[2]);
  for (let z = lo[2]; z <= hi[2]; z++) for (let y = lo[1]; y <= hi[1]; y++) for (let x = lo[0]; x <= hi[0]; x++) m[x + size[0] * (y + size[1] * z)] = 1;
  return m;
}

describe('exact Euclidean distance transform', () => {
  it('matches brute force on random sparse features with anisotropic spacing', () => {
    const rand = rng(7);
    for (const [size, spacing] of [
      [[9, 7, 5], [0.8, 1.1, 3.0]],
      [[1, 12, 6], [1, 0.5, 2]],
      [[15, 1, 1], [2.5, 1, 1]],
    ] as [Vec3, Vec3][]) {
      const n = size[0] * size[1] * size[2];
      const f = new Uint8Array(n);
      for (let i = 0; i < n; i++) f[i] = rand() < 0.05 ? 1 : 0;
      f[Math.floor(rand() * n)] = 1;
      const d = squaredDistanceTransform(f, size, spacing);
      for (let i = 0; i < n; i++) {
        const [x, y, z] = [i % size[0], Math.floor(i / size[0]) % size[1], Math.floor(i / (size[0] * size[1]))];
        let best = Infinity;
        for (let j = 0; j < n; j++) {
          if (!f[j]) continue;
          const [a, b, c] = [j % size[0], Math.floor(j / size[0]) % size[1], Math.floor(j / (size[0] * size[1]))];
          best = Math.min(best, ((x - a) * spacing[0]) ** 2 + ((y - b) * spacing[1]) ** 2 + ((z - c) * spacing[2]) ** 2);
        }
        assert.ok(Math.abs(d[i] - best) < 1e-9, `voxel ${i}: ${d[i]} vs ${best}`);
      }
    }
  });

  it('the binary first pass equals edt1d to the last bit (both feature values, spacings, origins, an offset)', () => {
    const rand = rng(11);
    const n = 61;
    const v = new Int32Array(n);
    const z = new Float64Array(n + 1);
    const g = new Float64Array(n);
    const lines = [new Uint8Array(n), new Uint8Array(n).fill(1), Uint8Array.from({ length: n }, (_, q) => (q === 30 ? 1 : 0))];
    for (const p of [0.03, 0.2, 0.5, 0.9]) for (let r = 0; r < 20; r++) lines.push(Uint8Array.from({ length: n }, () => (rand() < p ? 1 : 0)));
    const bits = (a: Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    for (const w of [1, 0.8, 0.7031, 1.3]) {
      for (const origin of [0, 7, 213]) {
        for (const line of lines) {
          for (const set of [true, false]) {
            const expected = Float64Array.from(line, (x) => ((x ? true : false) === set ? 0 : Infinity));
            edt1d(expected, 0, 1, n, w, v, z, g, origin);
            const got = new Float64Array(n + 5).fill(-1);
            binaryEdt1d(line, 0, set, got, 5, n, w, v, origin);
            assert.ok(bits(got.subarray(5)).equals(bits(expected)), `spacing ${w}, origin ${origin}, set ${set}`);
          }
        }
      }
    }
  });

  it('is infinite everywhere without features', () => {
    const d = squaredDistanceTransform(new Uint8Array(8), [2, 2, 2], [1, 1, 1]);
    assert.ok(d.every((x) => x === Infinity));
  });
});

describe('object metrics', () => {
  it('percentile interpolates like numpy', () => {
    assert.equal(percentile(Float64Array.from([1, 2, 3, 4]), 50), 2.5);
    assert.ok(Math.abs(percentile(Float64Array.from([0, 10]), 95) - 9.5) < 1e-12);
  });

  it('gives perfect scores for identical masks', () => {
    const size: Vec3 = [10, 10, 10];
    const a = box(size, [2, 2, 2], [6, 6, 6]);
    const m = objectMetrics(a, a, size, [1, 1, 1]);
    assert.deepEqual([m.dice, m.iou, m.hd95, m.assd, m.nsd, m.volumeDiffMl], [1, 1, 0, 0, 1, 0]);
  });

  it('agrees with hand computation for a box shifted along the thick axis (anisotropic)', () => {
    // truth: x 2..5, y 2..5, z 1..3 (4x4x3 = 48 voxels); pred: same box shifted by one slice (z 2..4).
    // spacing 0.5 x 0.5 x 3 mm, so the shift is 3 mm.
    const size: Vec3 = [8, 8, 6];
    const spacing: Vec3 = [0.5, 0.5, 3];
    const truth = box(size, [2, 2, 1], [5, 5, 3]);
    const pred = box(size, [2, 2, 2], [5, 5, 4]);
    const m = objectMetrics(pred, truth, size, spacing, { nsdToleranceMm: 2 });
    // overlap: z 2..3 = 32 voxels; Dice = 64 / 96; IoU = 32 / 64
    assert.ok(Math.abs(m.dice - 64 / 96) < 1e-12);
    assert.ok(Math.abs(m.iou - 0.5) < 1e-12);
    assert.equal(m.volumeDiffMl, 0);
    assert.ok(Math.abs(m.truthVolumeMl - 48 * 0.75 / 1000) < 1e-12);
    // Border voxels: 48 minus the 4 interior voxels of the middle slice (x, y in 3..4) = 44 per mask.
    // pred -> truth: pred z = 2 ring (12) lies on truth's border: 0; pred z = 2 centre (4) is truth-interior, its
    // nearest truth border voxel is 0.5 mm away in-plane; pred z = 3 ring (12): truth's top face, 0; pred z = 4
    // (16) is one 3 mm slice above truth's top face. So 24 x 0, 4 x 0.5, 16 x 3, and the same the other way.
    // HD95 = 3 (the 95th percentile falls among the 3s); ASSD = 2 * (4 * 0.5 + 16 * 3) / 88 = 100 / 88;
    // NSD@2mm = 2 * 28 / 88.
    assert.ok(Math.abs((m.hd95 ?? -1) - 3) < 1e-12);
    assert.ok(Math.abs((m.assd ?? -1) - 100 / 88) < 1e-12);
    assert.ok(Math.abs(m.nsd - 56 / 88) < 1e-12);
    // at 3 mm tolerance every border voxel is within reach
    assert.equal(objectMetrics(pred, truth, size, spacing, { nsdToleranceMm: 3 }).nsd, 1);
  });

  it('measures an in-plane shift in mm, not voxels', () => {
    // A 5x5x5 cube shifted by 2 voxels along x with spacing 0.4 mm: border distances 0.8 mm at most.
    const size: Vec3 = [12, 9, 9];
    const truth = box(size, [2, 2, 2], [6, 6, 6]);
    const pred = box(size, [4, 2, 2], [8, 6, 6]);
    const m = objectMetrics(pred, truth, size, [0.4, 1, 1]);
    assert.ok(Math.abs(m.dice - (2 * 75) / 250) < 1e-12);
    assert.ok((m.hd95 ?? 0) <= 0.8 + 1e-9 && (m.hd95 ?? 0) > 0.4 - 1e-9);
    assert.equal(m.nsd, 1);
  });

  it('handles empty masks by convention', () => {
    const size: Vec3 = [4, 4, 4];
    const empty = new Uint8Array(64);
    const one = box(size, [1, 1, 1], [2, 2, 2]);
    const both = objectMetrics(empty, empty, size, [1, 1, 1]);
    assert.equal(both.dice, 1);
    const miss = objectMetrics(empty, one, size, [1, 1, 2]);
    assert.equal(miss.dice, 0);
    assert.equal(miss.hd95, null);
    assert.equal(miss.nsd, 0);
    assert.ok(Math.abs(miss.volumeDiffMl - (-8 * 2) / 1000) < 1e-12);
  });
});

describe('end error per object a key slice holds', () => {
  const or = (...ms: Uint8Array[]): Uint8Array => ms.reduce((a, m) => a.map((x, i) => x | m[i]));

  it('measures each held lesion against the prediction that overlaps it, on any slice axis', () => {
    // Slices along x (axis 0): lesion A on slices 2..8, lesion B on 12..15, lesion C on 17..18 (apart in y, z).
    const size: Vec3 = [20, 12, 6];
    const sg = new SliceGeometry({ size, spacing: [3, 1, 1] }, 0);
    const a = box(size, [2, 1, 1], [8, 3, 3]);
    const b = box(size, [12, 6, 1], [15, 9, 3]);
    const c = box(size, [17, 1, 1], [18, 3, 3]);
    const truth = or(a, b, c);
    // The prediction follows A from 3 to 10 (one slice short, two past its end), B exactly, and misses C; a far
    // false positive touches no lesion.
    const pred = or(box(size, [3, 1, 1], [10, 2, 2]), b, box(size, [0, 9, 5], [0, 10, 5]));
    const held = keyObjectEnds(pred, truth, size, sg, [5, 13, 17]);
    assert.equal(held.touched, 3);
    assert.deepEqual(held.ends, [[1, 2], [0, 0]]);
    assert.equal(held.heldShare, 1);
    // Only A held: its error alone, whatever happens to the others; A holds 7 x 3 x 3 of the 63 + 48 + 18 voxels.
    assert.deepEqual(keyObjectEnds(pred, truth, size, sg, [4]), { touched: 1, heldShare: 63 / 129, ends: [[1, 2]] });
    assert.deepEqual(keyObjectEnds(pred, truth, size, sg, [11]), { touched: 0, heldShare: 0, ends: [] });
  });

  it('counts a prediction that runs on into a neighbouring lesion to where it ends', () => {
    const size: Vec3 = [4, 4, 20];
    const sg = new SliceGeometry({ size, spacing: [1, 1, 2] }, 2);
    const truth = or(box(size, [0, 0, 2], [1, 1, 5]), box(size, [0, 0, 9], [1, 1, 12]));
    const pred = box(size, [0, 0, 2], [0, 0, 10]);
    assert.deepEqual(keyObjectEnds(pred, truth, size, sg, [3]).ends, [[0, 5]]);
  });
});
