import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { readLabelVolume, readVolume, toLabelVolume, writeVolume } from '../src/volume/io-node.js';
import { defaultSliceAxis, gridDifference, SliceGeometry, withGeometry, type Geometry } from '../src/volume/volume.js';
import { writeCtSeries } from './helpers/dicom.js';
import { SHARED_CASES, SHARED_DATA, sharedDataSkip, tempDir } from './helpers/paths.js';

const tmp = tempDir();
after(tmp.cleanup);

/** An oblique, anisotropic grid: geometry bugs cannot hide behind identity directions and unit spacing. */
function obliqueGeometry(): Geometry {
  const a = 0.3;
  return {
    size: [7, 5, 4],
    spacing: [0.7, 1.3, 4.5],
    origin: [12.5, -40.25, 77],
    direction: [Math.cos(a), -Math.sin(a), 0, Math.sin(a), Math.cos(a), 0, 0, 0, 1],
  };
}

describe('volume geometry helpers', () => {
  it('picks the slice axis of largest spacing, axis 2 when spacings tie', () => {
    assert.equal(defaultSliceAxis([0.8, 0.8, 5]), 2);
    assert.equal(defaultSliceAxis([1, 1, 1]), 2);
    assert.equal(defaultSliceAxis([3, 1, 1]), 0);
    assert.equal(defaultSliceAxis([1, 2.5, 1]), 1);
    assert.equal(defaultSliceAxis([2, 2, 1]), 1);
    assert.equal(defaultSliceAxis([1, 1, 0.9999998807907104]), 2);
  });

  it('extracts and inserts slices along every axis with u the lower in-plane axis', () => {
    const g = { size: [3, 4, 5] as [number, number, number], spacing: [1, 1, 1] as [number, number, number] };
    const data = new Float32Array(60).map((_, i) => i);
    for (const axis of [0, 1, 2] as const) {
      const sg = new SliceGeometry(g, axis);
      const s = sg.slice(data, 1);
      assert.equal(s.length, sg.nu * sg.nv);
      // (u, v) = (1, 2) on slice 1 is the voxel whose coordinates are those three numbers in axis order
      const idx = [0, 0, 0];
      const [ua, va] = axis === 0 ? [1, 2] : axis === 1 ? [0, 2] : [0, 1];
      idx[axis] = 1;
      idx[ua] = 1;
      idx[va] = 2;
      assert.equal(s[1 + sg.nu * 2], idx[0] + 3 * (idx[1] + 4 * idx[2]));
      const copy = new Float32Array(60);
      sg.insert(copy, 1, s);
      assert.equal(copy[idx[0] + 3 * (idx[1] + 4 * idx[2])], data[idx[0] + 3 * (idx[1] + 4 * idx[2])]);
    }
  });

  it('reports which part of two grids differs', () => {
    const a = obliqueGeometry();
    assert.equal(gridDifference(a, obliqueGeometry()), null);
    assert.match(gridDifference(a, { ...obliqueGeometry(), size: [7, 5, 5] }) ?? '', /size differs/);
    assert.match(gridDifference(a, { ...obliqueGeometry(), spacing: [0.7, 1.3, 5] }) ?? '', /spacing differs/);
    assert.match(gridDifference(a, { ...obliqueGeometry(), origin: [12.5, -40.25, 78] }) ?? '', /origin differs/);
    assert.match(gridDifference(a, { ...obliqueGeometry(), direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] }) ?? '', /direction differs/);
  });
});

describe('volume files', () => {
  for (const ext of ['.nii.gz', '.nii', '.nrrd', '.mha']) {
    it(`round-trips voxels and oblique geometry through ${ext}`, async () => {
      const g = obliqueGeometry();
      const data = new Int16Array(7 * 5 * 4).map((_, i) => (i * 37) % 2000 - 1000);
      const file = path.join(tmp.dir, `round${ext}`);
      await writeVolume(withGeometry(g, data), file);
      const back = await readVolume(file);
      assert.equal(gridDifference(g, back, { spacing: 1e-6, origin: 1e-5, direction: 1e-6 }), null);
      assert.deepEqual(Array.from(back.data), Array.from(data));
      assert.deepEqual(readdirSync(tmp.dir).filter((f) => f.includes('.tmp-')), [], 'no temporary file left');
    });
  }

  it('reads a DICOM series folder, sorted by position, with spacing and origin', async () => {
    const dir = path.join(tmp.dir, 'series');
    mkdirSync(dir);
    writeCtSeries(dir, { nx: 8, ny: 6, nz: 5, spacing: [0.6, 0.7, 2.5], origin: [10, 20, 30], value: (x, y, z) => 1000 + x + 10 * y + 100 * z });
    writeFileSync(path.join(dir, 'README.txt'), 'not a DICOM file');
    const vol = await readVolume(dir);
    assert.deepEqual(vol.size, [8, 6, 5]);
    assert.deepEqual(vol.spacing.map((s) => +s.toFixed(6)), [0.6, 0.7, 2.5]);
    assert.deepEqual(vol.origin, [10, 20, 30]);
    // rescale applied (HU = stored - 1024), slices in position order whatever the file names
    const at = (x: number, y: number, z: number) => vol.data[x + 8 * (y + 6 * z)];
    assert.equal(at(0, 0, 0), 1000 - 1024);
    assert.equal(at(3, 2, 4), 1000 + 3 + 20 + 400 - 1024);
  });

  it('turns float label files holding whole numbers into integer labels and refuses fractions', () => {
    const g = obliqueGeometry();
    const f = new Float32Array(140);
    f[3] = 2;
    f[9] = 1;
    const lab = toLabelVolume(withGeometry(g, f), 'lab.nii');
    assert.ok(lab.data instanceof Uint8Array);
    assert.equal(lab.data[3], 2);
    f[10] = 0.5;
    assert.throws(() => toLabelVolume(withGeometry(g, f), 'lab.nii'), /lab\.nii: label volume holds the value 0\.5/);
  });
});

describe('geometry of written labels on the real data', { skip: sharedDataSkip() }, () => {
  for (const c of SHARED_CASES) {
    it(`${c.name}: a label volume written on the image grid reads back with the image's geometry`, async () => {
      const imageFile = path.join(SHARED_DATA, c.image);
      const image = await readVolume(imageFile);
      const truth = await readLabelVolume(path.join(SHARED_DATA, c.label));
      assert.equal(gridDifference(image, truth), null, 'shipped labels match their image');
      const out = path.join(tmp.dir, `${c.name}_labels.nii.gz`);
      await writeVolume(withGeometry(image, truth.data), out, { protect: [imageFile] });
      const back = await readLabelVolume(out);
      assert.equal(gridDifference(image, back, { spacing: 1e-6, origin: 1e-5, direction: 1e-6 }), null);
      assert.deepEqual(back.size, image.size);
      assert.ok(Buffer.from(back.data.buffer, back.data.byteOffset, back.data.byteLength).equals(
        Buffer.from(truth.data.buffer, truth.data.byteOffset, truth.data.byteLength)), 'labels unchanged');
      const nrrd = path.join(tmp.dir, `${c.name}_labels.nrrd`);
      await writeVolume(back, nrrd);
      assert.equal(gridDifference(image, await readVolume(nrrd), { spacing: 1e-6, origin: 1e-5, direction: 1e-6 }), null);
      assert.ok(statSync(out).size > 0);
    });
  }
});
