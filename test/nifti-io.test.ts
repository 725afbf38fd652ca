import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { readVolume, writeVolume } from '../src/volume/io-node.js';
import { chooseNiftiMatrix, quaternToMat44, rotationToQuaternion } from '../src/volume/nifti-geometry.js';
import { niftiHeaderFor, parseNifti } from '../src/volume/nifti-node.js';
import { gridDifference, withGeometry, type Volume } from '../src/volume/volume.js';
import { SHARED_DATA, sharedDataSkip, tempDir } from './helpers/paths.js';

const tmp = tempDir();
after(tmp.cleanup);

interface HeaderSpec {
  size?: number[];
  datatype: number;
  bitpix: number;
  bigEndian?: boolean;
  pixdim?: number[];
  qfac?: number;
  units?: number;
  qform?: { code: number; b: number; c: number; d: number; offset: number[] };
  sform?: { code: number; rows: number[] };
  slope?: number;
  inter?: number;
  /** Extension bytes between the header and the voxels. */
  extension?: number;
  /** dim[0] (default the number of sizes). */
  ndim?: number;
}

/** Writes a NIfTI-1 file field by field, so that every header case can be built, not only what writers emit. */
function niftiFile(name: string, spec: HeaderSpec, fill: (i: number) => number, gz = true): string {
  const size = spec.size ?? [6, 5, 4];
  const ext = spec.extension ?? 0;
  const voxOffset = 352 + ext;
  const n = size.reduce((a, b) => a * b, 1);
  const width = spec.bitpix / 8;
  const buf = Buffer.alloc(voxOffset + n * width);
  const le = !spec.bigEndian;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const i16 = (v: number, o: number) => dv.setInt16(o, v, le);
  const f32 = (v: number, o: number) => dv.setFloat32(o, v, le);
  dv.setInt32(0, 348, le);
  i16(spec.ndim ?? size.length, 40);
  for (let d = 0; d < 7; d++) i16(size[d] ?? 1, 42 + 2 * d);
  i16(spec.datatype, 70);
  i16(spec.bitpix, 72);
  f32(spec.qfac ?? 1, 76);
  const pd = spec.pixdim ?? [0.7, 1.3, 2.5];
  for (let d = 0; d < 7; d++) f32(pd[d] ?? 1, 80 + 4 * d);
  f32(voxOffset, 108);
  f32(spec.slope ?? 1, 112);
  f32(spec.inter ?? 0, 116);
  buf.writeUInt8(spec.units ?? 10, 123);
  if (spec.qform) {
    i16(spec.qform.code, 252);
    f32(spec.qform.b, 256);
    f32(spec.qform.c, 260);
    f32(spec.qform.d, 264);
    for (let i = 0; i < 3; i++) f32(spec.qform.offset[i], 268 + 4 * i);
  }
  if (spec.sform) {
    i16(spec.sform.code, 254);
    for (let i = 0; i < 12; i++) f32(spec.sform.rows[i], 280 + 4 * i);
  }
  buf.write('n+1\0', 344, 'latin1');
  if (ext > 0) {
    buf.writeUInt8(1, 348);
    dv.setInt32(352, ext, le);
    dv.setInt32(356, 6, le);
  }
  for (let i = 0; i < n; i++) {
    const v = fill(i);
    const o = voxOffset + i * width;
    const setters: Record<number, () => void> = {
      2: () => dv.setUint8(o, v & 255),
      256: () => dv.setInt8(o, v),
      4: () => dv.setInt16(o, v, le),
      512: () => dv.setUint16(o, v, le),
      8: () => dv.setInt32(o, v, le),
      768: () => dv.setUint32(o, v, le),
      16: () => dv.setFloat32(o, v, le),
      64: () => dv.setFloat64(o, v, le),
    };
    setters[spec.datatype]();
  }
  const file = path.join(tmp.dir, `${name}${gz ? '.nii.gz' : '.nii'}`);
  writeFileSync(file, gz ? gzipSync(buf) : buf);
  return file;
}

/** Reads a file with both readers and asserts identical volumes: size, geometry to the last bit, voxel type and values. */
async function assertReadersAgree(file: string, options: { rejectNonFinite?: boolean } = {}): Promise<Volume> {
  const itk = await readVolume(file, { ...options, niftiReader: 'itk' });
  const node = await readVolume(file, options);
  assert.deepEqual(node.size, itk.size, 'size');
  assert.deepEqual(node.spacing, itk.spacing, 'spacing');
  assert.deepEqual(node.origin, itk.origin, 'origin');
  assert.deepEqual(node.direction, itk.direction, 'direction');
  assert.equal(node.data.constructor.name, itk.data.constructor.name, 'voxel type');
  assert.equal(node.data.length, itk.data.length);
  const a = Buffer.from(node.data.buffer, node.data.byteOffset, node.data.byteLength);
  const b = Buffer.from(itk.data.buffer, itk.data.byteOffset, itk.data.byteLength);
  assert.ok(a.equals(b), 'voxel values identical to the bit');
  return node;
}

const DATATYPES: [string, number, number, (i: number) => number][] = [
  ['uint8', 2, 8, (i) => (i * 7) % 256],
  ['int8', 256, 8, (i) => ((i * 7) % 256) - 128],
  ['int16', 4, 16, (i) => ((i * 997) % 60000) - 30000],
  ['uint16', 512, 16, (i) => (i * 997) % 65536],
  ['int32', 8, 32, (i) => (i * 99991) % 2e9 - 1e9],
  ['uint32', 768, 32, (i) => (i * 99991) % 4e9],
  ['float32', 16, 32, (i) => Math.fround(Math.sin(i) * 1000)],
  ['float64', 64, 64, (i) => Math.sin(i) * 1e6],
];

const OBLIQUE_Q = { b: 0.1, c: -0.2, d: 0.3 };
/** An oblique sform: a rotation (another quaternion) times the spacing, plus an offset. */
const OBLIQUE_SROW = (() => {
  const m = quaternToMat44(0.2, 0.1, -0.15, [12.5, -40.25, 77], [0.7, 1.3, 2.5], -1);
  return Array.from(m.subarray(0, 12));
})();

describe('NIfTI reader: the same volume as itk-wasm', () => {
  for (const [name, code, bits, fill] of DATATYPES) {
    for (const bigEndian of [false, true]) {
      it(`${name} ${bigEndian ? 'big' : 'little'}-endian, qform and sform both scanner`, async () => {
        await assertReadersAgree(
          niftiFile(`${name}-${bigEndian}`, {
            datatype: code, bitpix: bits, bigEndian,
            qform: { code: 1, ...OBLIQUE_Q, offset: [10, -20, 30] },
            sform: { code: 1, rows: OBLIQUE_SROW },
          }, fill),
        );
      });
    }
  }

  for (const [name, code, bits, fill] of DATATYPES) {
    it(`${name} with scl_slope 2.5 and scl_inter -100 (integers become float32 as in ITK)`, async () => {
      const vol = await assertReadersAgree(
        niftiFile(`scaled-${name}`, { datatype: code, bitpix: bits, slope: 2.5, inter: -100, qform: { code: 1, b: 0, c: 0, d: 0, offset: [0, 0, 0] } }, fill),
      );
      assert.ok(vol.data instanceof Float32Array || vol.data instanceof Float64Array);
      const expected = fill(3) * 2.5 - 100;
      assert.equal(vol.data[3], vol.data instanceof Float64Array ? expected : Math.fround(expected));
    });
  }

  const geometryCases: [string, Partial<HeaderSpec>][] = [
    ['qform only, oblique, qfac -1', { qfac: -1, qform: { code: 1, ...OBLIQUE_Q, offset: [5, 6, -7] } }],
    ['qform only, near-180-degree quaternion', { qform: { code: 2, b: 0.999, c: 0.03, d: 0.02, offset: [1, 2, 3] } }],
    ['sform only (aligned), oblique', { sform: { code: 2, rows: OBLIQUE_SROW } }],
    ['sform scanner beats a different qform', { qform: { code: 1, b: 0, c: 0, d: 0, offset: [0, 0, 0] }, sform: { code: 1, rows: OBLIQUE_SROW } }],
    ['qform and aligned sform that differ (ITK compares them by SVD)', { qform: { code: 1, ...OBLIQUE_Q, offset: [1, 2, 3] }, sform: { code: 2, rows: OBLIQUE_SROW } }],
    ['qform and aligned sform that agree', { qform: { code: 2, b: 0, c: 0, d: 1, offset: [9, 8, 7] }, sform: { code: 2, rows: [-0.7, 0, 0, 9, 0, -1.3, 0, 8, 0, 0, 2.5, 7] } }],
    ['sheared sform with a qform: the qform wins', { qform: { code: 1, ...OBLIQUE_Q, offset: [1, 2, 3] }, sform: { code: 1, rows: [0.7, 0.5, 0, 1, 0, 1.3, 0, 2, 0, 0, 2.5, 3] } }],
    ['neither qform nor sform', {}],
    ['spatial unit metres', { units: 1, pixdim: [0.0007, 0.0013, 0.0025], qform: { code: 1, b: 0, c: 0, d: 0, offset: [0.1, 0.2, 0.3] } }],
    ['spatial unit microns', { units: 3, pixdim: [700, 1300, 2500], qform: { code: 1, ...OBLIQUE_Q, offset: [1, 2, 3] } }],
    ['zero pixdim read as 1', { pixdim: [0, 1.5, 0], qform: { code: 1, b: 0, c: 0, d: 0, offset: [0, 0, 0] } }],
    ['header extension before the voxels', { extension: 48, sform: { code: 1, rows: OBLIQUE_SROW } }],
    ['4D header with one time point', { size: [6, 5, 4, 1], sform: { code: 1, rows: OBLIQUE_SROW } }],
  ];
  for (const [name, spec] of geometryCases) {
    for (const gz of [true, false]) {
      it(`${name} (${gz ? '.nii.gz' : '.nii'})`, async () => {
        await assertReadersAgree(niftiFile(`geo-${name.replace(/\W+/g, '_')}`, { datatype: 4, bitpix: 16, ...spec }, (i) => i - 50, gz));
      });
    }
  }

  it('leaves what it does not read to itk-wasm (a 2D image) and refuses a sheared sform without qform like ITK', async () => {
    await assertReadersAgree(niftiFile('flat', { size: [6, 5], datatype: 4, bitpix: 16 }, (i) => i));
    const sheared = niftiFile('sheared', { datatype: 4, bitpix: 16, sform: { code: 2, rows: [0.7, 0.5, 0, 1, 0, 1.3, 0, 2, 0, 0, 2.5, 3] } }, (i) => i);
    await assert.rejects(readVolume(sheared, { niftiReader: 'itk' }), /sheared\.nii\.gz/);
    await assert.rejects(readVolume(sheared), /sheared\.nii\.gz: not a readable image/);
  });

  it('names the file on damaged, truncated and too-short input', async () => {
    const good = niftiFile('good', { datatype: 4, bitpix: 16 }, (i) => i);
    const bytes = readFileSync(good);
    const cut = path.join(tmp.dir, 'cut.nii.gz');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 12));
    await assert.rejects(readVolume(cut), /cut\.nii\.gz: compressed data is damaged or truncated/);
    const plain = niftiFile('short', { datatype: 4, bitpix: 16 }, (i) => i, false);
    writeFileSync(plain, readFileSync(plain).subarray(0, 400));
    await assert.rejects(readVolume(plain), /short\.nii: file is truncated: the header promises 592 bytes, only 400 are present/);
    const tiny = path.join(tmp.dir, 'tiny.nii');
    writeFileSync(tiny, Buffer.alloc(100));
    await assert.rejects(readVolume(tiny), /tiny\.nii: not a readable image/);
  });

  it('refuses NaN voxels naming the first one, and keeps them when asked to', async () => {
    const file = niftiFile('nan', { datatype: 16, bitpix: 32 }, (i) => (i === 37 ? NaN : i));
    await assert.rejects(readVolume(file), /nan\.nii\.gz: 1 voxel\(s\) are NaN or infinite \(first at voxel \[1, 1, 1\]\)/);
    const vol = await readVolume(file, { rejectNonFinite: false });
    assert.ok(Number.isNaN(vol.data[37]));
    assert.equal(vol.data[38], 38);
  });
});

describe('NIfTI header geometry', () => {
  it('quaternion and qfac of a rotation rebuild that rotation through the qform', () => {
    for (const [b, c, d, qfac] of [[0.1, -0.2, 0.3, 1], [0, 0, 1, -1], [0.7, 0.1, -0.1, 1], [0, 0, 0, -1]]) {
      const m = quaternToMat44(b, c, d, [0, 0, 0], [1, 1, 1], qfac);
      const rot = [m[0], m[1], m[2], m[4], m[5], m[6], m[8], m[9], m[10]];
      const q = rotationToQuaternion(rot);
      const back = quaternToMat44(q.b, q.c, q.d, [0, 0, 0], [1, 1, 1], q.qfac);
      for (const i of [0, 1, 2, 4, 5, 6, 8, 9, 10]) assert.ok(Math.abs(back[i] - m[i]) < 1e-6, `element ${i}`);
    }
  });

  it('the header written for a volume selects its sform and decodes to the same grid', () => {
    const a = 0.4;
    const vol = withGeometry(
      { size: [3, 4, 5], spacing: [0.5, 0.9, 3], origin: [-10, 20.5, 33], direction: [Math.cos(a), 0, -Math.sin(a), 0, -1, 0, Math.sin(a), 0, Math.cos(a)] },
      new Int16Array(60),
    );
    const p = parseNifti(niftiHeaderFor(vol));
    assert.ok(p?.geometry);
    assert.equal(gridDifference(vol, { size: p.size, ...p.geometry }, { spacing: 1e-6, origin: 1e-5, direction: 1e-6 }), null);
    assert.equal(p.header.sform_code, 1);
    assert.equal(p.header.qform_code, 1);
    assert.ok(chooseNiftiMatrix({
      dims: p.header.dims, pixDims: p.header.pixDims, xyztUnits: 10, qformCode: 0, sformCode: 0, quaternB: 0, quaternC: 0, quaternD: 0, qoffset: [0, 0, 0], srow: [],
    }) === 'identity');
  });
});

describe('NIfTI writer', () => {
  for (const ext of ['.nii.gz', '.nii']) {
    it(`writes ${ext} that itk-wasm reads back with the same voxels and geometry, through a temporary file`, async () => {
      const a = 0.3;
      const g = { size: [7, 5, 4] as [number, number, number], spacing: [0.7, 1.3, 4.5] as [number, number, number], origin: [12.5, -40.25, 77] as [number, number, number], direction: [Math.cos(a), -Math.sin(a), 0, Math.sin(a), Math.cos(a), 0, 0, 0, -1] };
      for (const data of [new Uint8Array(140).map((_, i) => i), new Float64Array(140).map((_, i) => i / 3), new Uint16Array(140).map((_, i) => i * 400)]) {
        const file = path.join(tmp.dir, `written-${data.constructor.name}${ext}`);
        await writeVolume(withGeometry(g, data), file);
        const back = await assertReadersAgree(file);
        assert.equal(gridDifference(g, back, { spacing: 1e-6, origin: 1e-5, direction: 1e-6 }), null);
        assert.deepEqual(Array.from(back.data), Array.from(data));
      }
      assert.deepEqual(readdirSync(tmp.dir).filter((f) => f.includes('.tmp-')), [], 'no temporary file left');
    });
  }

  it('refuses to overwrite an input', async () => {
    const file = niftiFile('input', { datatype: 4, bitpix: 16 }, (i) => i);
    const before = statSync(file).mtimeMs;
    const vol = await readVolume(file);
    await assert.rejects(writeVolume(vol, file, { protect: [file] }), /input\.nii\.gz: output would overwrite an input file/);
    assert.equal(statSync(file).mtimeMs, before);
  });
});

describe('NIfTI readers agree on the real data', { skip: sharedDataSkip() }, () => {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const f = path.join(dir, e.name);
      if (e.isDirectory()) walk(f);
      else if (/\.nii(\.gz)?$/i.test(e.name)) files.push(f);
    }
  };
  if (!sharedDataSkip()) walk(SHARED_DATA);
  for (const file of files) {
    it(path.relative(SHARED_DATA, file), async () => {
      await assertReadersAgree(file, { rejectNonFinite: false });
    });
  }
});
