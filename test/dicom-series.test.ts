import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { parseDicomHeader } from '../src/volume/dicom/header.js';
import { resampleSlices } from '../src/volume/dicom/resample-slices.js';
import { listDicomSeries } from '../src/volume/dicom/read-series-node.js';
import { readVolume } from '../src/volume/io-node.js';
import { KeysliceError } from '../src/util/errors.js';
import { writeCtSeries, type SeriesSpec } from './helpers/dicom.js';
import { tempDir, runCli } from './helpers/paths.js';

const tmp = tempDir();
after(tmp.cleanup);

const cli = (args: string[], cwd = tmp.dir) => runCli(args, { cwd });

const base = (over: Partial<SeriesSpec> = {}): SeriesSpec => ({
  nx: 6,
  ny: 5,
  nz: 6,
  spacing: [0.8, 0.9, 2.5],
  origin: [-10, 5, 40],
  value: (x, y, z) => 1000 + x + 10 * y + 100 * z,
  ...over,
});

function folder(name: string): string {
  const d = path.join(tmp.dir, name);
  mkdirSync(d, { recursive: true });
  return d;
}

async function rejects(p: Promise<unknown>, code: string, pattern: RegExp): Promise<KeysliceError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof KeysliceError, String(err));
    assert.equal(err.code, code, err.message);
    assert.match(err.message, pattern);
    return err;
  }
  assert.fail(`expected ${code}`);
}

describe('DICOM header reader', () => {
  it('reads the attributes of a series file, explicit and implicit VR', () => {
    for (const ts of ['1.2.840.10008.1.2.1', '1.2.840.10008.1.2']) {
      const dir = folder(`hdr-${ts}`);
      writeCtSeries(dir, base({ nz: 1, description: 'abdomen', transferSyntax: ts }));
      const file = path.join(dir, 'img001.dcm');
      const h = parseDicomHeader(new Uint8Array(readFileSync(file)), true);
      assert.equal(h.seriesDescription, 'abdomen');
      assert.deepEqual(h.imagePosition, [-10, 5, 40]);
      assert.deepEqual(h.imageOrientation, [1, 0, 0, 0, 1, 0]);
      assert.equal(h.rows, 5);
      assert.equal(h.columns, 6);
      assert.deepEqual(h.pixelSpacing, [0.9, 0.8]);
      assert.equal(h.rescaleIntercept, -1024);
      assert.equal(h.hasPixelData, true);
      assert.match(h.seriesInstanceUid ?? '', /^[0-9.]+$/);
    }
  });

  it('refuses bytes that are not Part 10 DICOM', () => {
    assert.throws(() => parseDicomHeader(new Uint8Array(200), true), /not a DICOM Part 10 file/);
  });
});

describe('resampling slices onto an even step', () => {
  it('copies slices on the new grid and interpolates the missing one linearly', () => {
    // 3 slices of 2 voxels at positions 0, 2, 6: a slice is missing at 4
    const data = new Float32Array([0, 10, 2, 12, 6, 16]);
    const r = resampleSlices(data, 2, [0, 2, 6], 2);
    assert.equal(r.count, 4);
    assert.equal(r.interpolated, 1);
    assert.deepEqual(Array.from(r.data), [0, 10, 2, 12, 4, 14, 6, 16]);
  });

  it('rounds integer voxels', () => {
    const r = resampleSlices(new Int16Array([0, 3]), 1, [0, 2], 1);
    assert.deepEqual(Array.from(r.data), [0, 2, 3]);
  });
});

describe('DICOM series that never load wrong', () => {
  it('reads a folder given as a relative path, with and without ./', () => {
    writeCtSeries(folder('ct_dcm'), base());
    for (const p of ['ct_dcm', './ct_dcm', 'ct_dcm/']) {
      const r = cli(['info', '--image', p, '--json']);
      assert.equal(r.code, 0, r.stderr);
      const info = JSON.parse(r.stdout);
      assert.deepEqual(info.size, [6, 5, 6]);
      assert.deepEqual(info.spacing.map((s: number) => +s.toFixed(5)), [0.8, 0.9, 2.5]);
      assert.deepEqual(info.origin, [-10, 5, 40]);
    }
  });

  it('refuses a series with a missing slice, naming the positions around the gap (exit 3)', async () => {
    const dir = folder('gap');
    writeCtSeries(dir, base({ skip: [3] }));
    await rejects(readVolume(dir), 'DICOM_SERIES_GAP', /1 slice\(s\) missing between positions 45 and 50 mm/);
    const r = cli(['info', '--image', dir]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /missing between positions 45 and 50 mm.*--allow-gaps/);
  });

  it('with --allow-gaps, resamples the gap onto even slices and says so', async () => {
    const dir = path.join(tmp.dir, 'gap');
    const notes: string[] = [];
    const vol = await readVolume(dir, { dicom: { allowGaps: true }, notes });
    assert.deepEqual(vol.size, [6, 5, 6]);
    assert.equal(+vol.spacing[2].toFixed(6), 2.5);
    const at = (x: number, y: number, z: number) => vol.data[x + 6 * (y + 5 * z)];
    assert.equal(at(1, 2, 2), 1000 + 1 + 20 + 200 - 1024);
    assert.equal(at(1, 2, 3), 1000 + 1 + 20 + 300 - 1024, 'missing slice interpolated from its neighbours');
    assert.equal(at(1, 2, 4), 1000 + 1 + 20 + 400 - 1024, 'slices after the gap stay in place');
    assert.match(notes.join('\n'), /resampled 5 slices onto 6 slices 2\.5 mm apart \(1 interpolated/);
    const r = cli(['info', '--image', dir, '--allow-gaps']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /allow-gaps: resampled/);
  });

  it('refuses uneven slice spacing', async () => {
    const dir = folder('uneven');
    const z = [0, 2.5, 5, 7.5, 11, 13.5];
    writeCtSeries(dir, base({ position: (k) => [-10, 5, 40 + z[k]] }));
    await rejects(readVolume(dir), 'DICOM_SERIES_GAP', /uneven step between positions 47\.5 and 51 mm/);
  });

  it('lists several series in one folder and reads the one chosen with --series', async () => {
    const dir = folder('two');
    const a = writeCtSeries(dir, base({ description: 'arterial', prefix: 'a' }));
    const b = writeCtSeries(dir, base({ nz: 4, description: 'venous', prefix: 'v', value: () => 2000 }));
    const err = await rejects(readVolume(dir), 'DICOM_SEVERAL_SERIES', /2 image series; choose one with --series UID/);
    assert.ok(err.message.includes(a) && err.message.includes(b));
    assert.match(err.message, /"arterial"\s+6 file\(s\)/);
    assert.match(err.message, /"venous"\s+4 file\(s\)/);
    const vol = await readVolume(dir, { dicom: { series: b } });
    assert.deepEqual(vol.size, [6, 5, 4]);
    assert.equal(vol.data[0], 2000 - 1024);
    await rejects(readVolume(dir, { dicom: { series: '1.2.3' } }), 'DICOM_SERIES_NOT_FOUND', /no series with SeriesInstanceUID 1\.2\.3/);
    const r = cli(['info', '--image', dir]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /venous/);
    const listed = cli(['info', '--image', 'two', '--list-series', '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(JSON.parse(listed.stdout).map((x: { description: string; files: number }) => [x.description, x.files]).sort(), [['arterial', 6], ['venous', 4]]);
    const ok = cli(['info', '--image', dir, '--series', a, '--json']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(JSON.parse(ok.stdout).size, [6, 5, 6]);
  });

  it('searches a study folder recursively', async () => {
    const study = folder('study');
    writeCtSeries(folder('study/patient/series1'), base({ description: 'only' }));
    const vol = await readVolume(study);
    assert.deepEqual(vol.size, [6, 5, 6]);
    writeCtSeries(folder('study/patient/series2'), base({ description: 'second' }));
    const list = await listDicomSeries(study);
    assert.deepEqual(list.map((s) => [s.description, s.files, s.folder]).sort(), [
      ['only', 6, path.join('patient', 'series1')],
      ['second', 6, path.join('patient', 'series2')],
    ]);
  });

  for (const [what, edit, pattern] of [
    ['orientation', (k: number, ds: Record<string, unknown>) => void (k === 2 && (ds.ImageOrientationPatient = [0.995, 0.0998, 0, -0.0998, 0.995, 0])), /orientation \(0020,0037\) differs/],
    ['size', (k: number, ds: Record<string, unknown>) => {
      if (k !== 4) return;
      ds.Rows = 4;
      ds.PixelData = new Int16Array(24).buffer;
    }, /image size \(rows x columns\) differs within the series: 5x6 .* 4x6/],
    ['rescale', (k: number, ds: Record<string, unknown>) => void (k === 1 && (ds.RescaleSlope = 2)), /rescale slope and intercept .* differs/],
  ] as const) {
    it(`refuses a series of mixed ${what}`, async () => {
      const dir = folder(`mixed-${what}`);
      writeCtSeries(dir, base({ edit }));
      await rejects(readVolume(dir), 'DICOM_MIXED_SERIES', pattern);
      assert.equal(cli(['info', '--image', dir]).code, 3);
    });
  }
});

describe('DICOM series geometry', () => {
  it('takes an oblique series\' direction and slice positions from its headers', async () => {
    const a = 0.4;
    const [c, s] = [Math.cos(a), Math.sin(a)];
    const iop = [c, s, 0, -s * 0.6, c * 0.6, 0.8];
    const n = [iop[1] * iop[5] - iop[2] * iop[4], iop[2] * iop[3] - iop[0] * iop[5], iop[0] * iop[4] - iop[1] * iop[3]];
    const o = [3, -7, 11];
    const pos = (k: number): [number, number, number] => [o[0] + 3 * k * n[0], o[1] + 3 * k * n[1], o[2] + 3 * k * n[2]];
    const dir = folder('oblique');
    writeCtSeries(dir, base({ spacing: [0.8, 0.9, 3], position: pos, edit: (_k, ds) => void (ds.ImageOrientationPatient = iop) }));
    const vol = await readVolume(dir);
    const d = vol.direction;
    for (let r = 0; r < 3; r++) {
      assert.ok(Math.abs(d[r * 3] - iop[r]) < 1e-5 && Math.abs(d[r * 3 + 1] - iop[3 + r]) < 1e-5 && Math.abs(d[r * 3 + 2] - n[r]) < 1e-5);
    }
    assert.ok(Math.abs(vol.spacing[2] - 3) < 1e-4);
    // physical point of voxel (0, 0, 5) is slice 5's image position
    const p5 = [0, 1, 2].map((r) => vol.origin[r] + d[r * 3 + 2] * vol.spacing[2] * 5);
    p5.forEach((x, i) => assert.ok(Math.abs(x - pos(5)[i]) < 1e-3));
    assert.equal(vol.data[6 * 5 * 5], 1000 + 500 - 1024);
  });
});
