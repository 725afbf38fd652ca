import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { gunzipSync as zlibGunzip, gzipSync } from 'node:zlib';
import { gzipSync as fflateGzip } from 'fflate';
import { after, before, describe, it } from 'node:test';
import { makePhantom } from '../src/demo/phantom.js';
import { itkSnapLabelDescription, labelInfos, parseColorTable, parseLabelNames, slicerColorTable } from '../src/labels/label-table.js';
import { KeysliceError } from '../src/util/errors.js';
import { readDicomSeg } from '../src/volume/dicom/seg-node.js';
import { readLabelVolume, readVolume, writeVolume } from '../src/volume/io-node.js';
import { latticeOffset, placeOnGrid } from '../src/volume/lattice.js';
import { readAnnotationLabels, writeLabelOutput } from '../src/volume/label-io-node.js';
import { formatSegNrrd, parseSegNrrd } from '../src/volume/seg-nrrd-node.js';
import { segNrrdBytes } from '../src/volume/seg-nrrd.js';
import { gridDifference, SliceGeometry, withGeometry, type Geometry, type LabelArray, type Volume } from '../src/volume/volume.js';
import { writeCtSeries } from './helpers/dicom.js';
import { checkSeg } from './helpers/dicom-seg.js';
import { SHARED_DATA, sharedDataSkip, tempDir, runCli } from './helpers/paths.js';

const tmp = tempDir();
after(tmp.cleanup);
const f = (name: string) => path.join(tmp.dir, name);
const TIGHT = { spacing: 1e-6, origin: 1e-5, direction: 1e-6 };

const cli = (args: string[]) => runCli(args, { cwd: tmp.dir });

function oblique(size: [number, number, number] = [9, 7, 5]): Geometry {
  const a = 0.35;
  return {
    size,
    spacing: [0.7, 1.1, 3],
    origin: [12.5, -40.25, 77],
    direction: [Math.cos(a), 0, Math.sin(a), 0, 1, 0, -Math.sin(a), 0, Math.cos(a)],
  };
}

function labelsOn(g: Geometry): Volume<Uint8Array> {
  const d = new Uint8Array(g.size[0] * g.size[1] * g.size[2]);
  for (let i = 0; i < d.length; i++) d[i] = i % 5 === 0 ? 1 : i % 7 === 0 ? 3 : 0;
  return withGeometry(g, d);
}

/** The sub-volume [x0..x0+sx) x ... of a label volume, with the origin of its first voxel. */
function crop(v: Volume<LabelArray>, o: [number, number, number], s: [number, number, number]): Volume<Uint8Array> {
  const out = new Uint8Array(s[0] * s[1] * s[2]);
  for (let z = 0; z < s[2]; z++) for (let y = 0; y < s[1]; y++) for (let x = 0; x < s[0]; x++) {
    out[x + s[0] * (y + s[1] * z)] = v.data[x + o[0] + v.size[0] * (y + o[1] + v.size[1] * (z + o[2]))];
  }
  const origin = [0, 1, 2].map((r) => v.origin[r] + [0, 1, 2].reduce((acc, c) => acc + v.direction[r * 3 + c] * v.spacing[c] * o[c], 0));
  return { size: s, spacing: [...v.spacing], origin: origin as [number, number, number], direction: [...v.direction], data: out };
}

describe('label names and colour tables', () => {
  it('parses --label-names and prefers it over the prompts file, then the defaults', () => {
    const names = parseLabelNames('1=spleen, 2=left kidney:#ff8000');
    assert.deepEqual(names.get(2), { name: 'left kidney', color: [255, 128, 0] });
    const infos = labelInfos([1, 2, 4], [{ value: 1, name: 'organ', color: [1, 2, 3] }, { value: 4, name: 'lesion' }], names);
    assert.deepEqual(infos.map((l) => l.name), ['spleen', 'left kidney', 'lesion']);
    assert.deepEqual(infos[0].color, [1, 2, 3]);
    assert.throws(() => parseLabelNames('spleen'), /--label-names: "spleen" is not VALUE=NAME/);
  });

  it('writes Slicer and ITK-SNAP tables that read back to the same names and colours', () => {
    const infos = labelInfos([1, 2], [{ value: 1, name: 'spleen', color: [10, 20, 30] }, { value: 2, name: 'left kidney', color: [200, 100, 0] }]);
    const snap = itkSnapLabelDescription(infos);
    assert.match(snap, /ITK-SnAP Label Description File/);
    assert.deepEqual(parseColorTable(snap), infos);
    const ctbl = slicerColorTable(infos);
    assert.match(ctbl, /^0 Background 0 0 0 0$/m);
    assert.match(ctbl, /^2 left_kidney 200 100 0 255$/m);
    assert.deepEqual(parseColorTable(ctbl).map((l) => l.color), [[10, 20, 30], [200, 100, 0]]);
  });
});

describe('placing labels on the image lattice', () => {
  it('places a crop of an oblique grid where it came from', () => {
    const g = oblique();
    const full = labelsOn(g);
    const part = crop(full, [2, 1, 1], [5, 4, 3]);
    assert.deepEqual(latticeOffset(g, part), [2, 1, 1]);
    const placed = placeOnGrid(part, g, 'crop.nrrd');
    assert.equal(placed.outside, 0);
    for (let z = 0; z < 5; z++) for (let y = 0; y < 7; y++) for (let x = 0; x < 9; x++) {
      const i = x + 9 * (y + 7 * z);
      const inside = x >= 2 && x < 7 && y >= 1 && y < 5 && z >= 1 && z < 4;
      assert.equal(placed.volume.data[i], inside ? full.data[i] : 0);
    }
  });

  it('refuses a grid off the lattice, naming both grids', () => {
    const g = oblique();
    const half = { ...labelsOn(g), origin: [g.origin[0] + 0.35 * Math.cos(0.35), g.origin[1], g.origin[2] - 0.35 * Math.sin(0.35)] as [number, number, number] };
    assert.equal(latticeOffset(g, half), null);
    assert.throws(() => placeOnGrid(half, g, 'half.nii.gz', 'ct.nii.gz'), (e: unknown) =>
      e instanceof KeysliceError && e.code === 'GRID_MISMATCH' && /does not match the image ct\.nii\.gz: origin differs.*labels: size 9x7x5, spacing \[0\.7, 1\.1, 3\].*ct\.nii\.gz: size 9x7x5/.test(e.message));
    const other = { ...labelsOn(g), spacing: [0.7, 1.1, 2.5] as [number, number, number] };
    assert.throws(() => placeOnGrid(other, g, 'x.nii.gz'), /not on the image's voxel lattice/);
  });
});

describe('3D Slicer .seg.nrrd', () => {
  it('round-trips labels, names, colours, extents and an oblique geometry', () => {
    const g = oblique();
    const labels = labelsOn(g);
    const infos = labelInfos([1, 3], [{ value: 1, name: 'liver', color: [221, 130, 101] }, { value: 3, name: 'left kidney', color: [185, 102, 83] }]);
    const bytes = formatSegNrrd(labels, infos);
    const text = bytes.toString('latin1', 0, 2000);
    assert.match(text, /^Segment1_Name:=left kidney$/m);
    assert.match(text, /^Segment1_LabelValue:=3$/m);
    assert.match(text, /^Segmentation_MasterRepresentation:=Binary labelmap$/m);
    assert.match(text, /^Segment0_Extent:=0 8 0 6 0 4$/m);
    const back = parseSegNrrd(new Uint8Array(bytes), 'x.seg.nrrd');
    assert.equal(gridDifference(g, back.labels, TIGHT), null);
    assert.deepEqual(Array.from(back.labels.data), Array.from(labels.data));
    assert.deepEqual(back.segments.map((s) => [s.value, s.name, s.color]), infos.map((l) => [l.value, l.name, l.color]));
  });

  it('the browser-safe writer gives the Node writer\'s bytes: identical with node:zlib, the same header and voxels with fflate', () => {
    const g = oblique();
    const labels = labelsOn(g);
    const infos = labelInfos([1, 3], [{ value: 1, name: 'liver' }, { value: 3, name: 'Läsion' }]);
    const node = new Uint8Array(formatSegNrrd(labels, infos));
    assert.deepEqual(segNrrdBytes(labels, infos, (raw) => gzipSync(raw)), node);
    const browser = segNrrdBytes(labels, infos, (raw) => fflateGzip(raw));
    const split = (b: Uint8Array) => {
      const end = Buffer.from(b).indexOf('\n\n', 0, 'latin1') + 2;
      return { header: b.subarray(0, end), voxels: new Uint8Array(zlibGunzip(b.subarray(end))) };
    };
    assert.deepEqual(split(browser).header, split(node).header);
    assert.deepEqual(split(browser).voxels, split(node).voxels);
    assert.deepEqual(split(node).voxels, new Uint8Array(labels.data.buffer, labels.data.byteOffset, labels.data.byteLength));
    const back = parseSegNrrd(browser, 'x.seg.nrrd');
    assert.deepEqual(Array.from(back.labels.data), Array.from(labels.data));
    assert.deepEqual(back.segments.map((s) => s.name), ['liver', 'Läsion']);
  });

  it('reads what Slicer writes: RAS space, a cropped extent, several layers', () => {
    // two overlapping segments in two layers (4D, "list" first axis), cropped, written in RAS
    const size = [3, 2, 2];
    const data = new Uint8Array(2 * 12);
    data[0 * 2 + 0] = 1; // voxel 0: segment 0 (layer 0 value 1)
    data[5 * 2 + 1] = 1; // voxel 5: segment 1 (layer 1 value 1)
    data[11 * 2 + 0] = 1;
    const header = [
      'NRRD0004', 'type: unsigned char', 'dimension: 4', 'space: right-anterior-superior', `sizes: 2 ${size.join(' ')}`,
      'space directions: none (-0.5,0,0) (0,-0.5,0) (0,0,2)', 'kinds: list domain domain domain', 'encoding: gzip',
      'space origin: (10,20,30)', 'Segment0_ID:=Segment_1', 'Segment0_Name:=tumour', 'Segment0_Color:=1 0 0', 'Segment0_Layer:=0',
      'Segment0_LabelValue:=1', 'Segment1_ID:=Segment_2', 'Segment1_Name:=oedema', 'Segment1_Color:=0 0.5 1', 'Segment1_Layer:=1',
      'Segment1_LabelValue:=1', 'Segmentation_ReferenceImageExtentOffset:=4 5 6', '', '',
    ].join('\n');
    const seg = parseSegNrrd(new Uint8Array(Buffer.concat([Buffer.from(header), gzipSync(data)])), 's.seg.nrrd');
    assert.deepEqual(seg.labels.size, [3, 2, 2]);
    assert.deepEqual(seg.labels.origin, [-10, -20, 30]);
    assert.deepEqual(seg.labels.spacing, [0.5, 0.5, 2]);
    assert.deepEqual(seg.labels.direction, [1, 0, 0, 0, 1, 0, 0, 0, 1]);
    assert.deepEqual(seg.referenceOffset, [4, 5, 6]);
    assert.deepEqual(seg.segments.map((s) => [s.value, s.name, s.color]), [[1, 'tumour', [255, 0, 0]], [2, 'oedema', [0, 128, 255]]]);
    assert.equal(seg.labels.data[0], 1);
    assert.equal(seg.labels.data[5], 2);
    assert.equal(seg.labels.data[11], 1);
  });
});

describe('segment in and out of Slicer, ITK-SNAP and DICOM formats', () => {
  let keys: number[] = [];
  let image: Volume;
  before(async () => {
    const p = makePhantom({ size: [48, 48, 12], spacing: [1.5, 1.5, 5] });
    image = p.image;
    const sg = new SliceGeometry(image, 2);
    keys = [3, 6, 9];
    const sparse = new Uint8Array(p.truth.data.length);
    const s = new Uint8Array(sg.area);
    for (const w of keys) sg.insert(sparse, w, sg.extract(p.truth.data, w, s));
    await writeVolume(image, f('ct.nii.gz'));
    await writeVolume(withGeometry(image, sparse), f('keys.nii.gz'));
    writeFileSync(f('names.json'), JSON.stringify({ version: 1, labels: [{ value: 1, name: 'organ', color: [200, 120, 80] }, { value: 2, name: 'lesion', color: [40, 90, 250] }] }));
  });

  it('writes a colour table and an ITK-SNAP label file beside a NIfTI output', () => {
    const r = cli(['segment', '--image', 'ct.nii.gz', '--annotations', 'keys.nii.gz', '--key-slices', keys.join(','), '--prompts', 'names.json',
      '--label-names', '2=tumour', '--out', 'seg.nii.gz', '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    const ctbl = parseColorTable(readFileSync(f('seg.ctbl'), 'utf8'));
    assert.deepEqual(ctbl, [{ value: 1, name: 'organ', color: [200, 120, 80] }, { value: 2, name: 'tumour', color: [40, 90, 250] }]);
    assert.deepEqual(parseColorTable(readFileSync(f('seg.itksnap.txt'), 'utf8')), ctbl);
  });

  it('writes a .seg.nrrd with segment names and colours on the image grid', async () => {
    const r = cli(['segment', '--image', 'ct.nii.gz', '--annotations', 'keys.nii.gz', '--key-slices', keys.join(','), '--prompts', 'names.json',
      '--out', 'seg.seg.nrrd', '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    const back = parseSegNrrd(new Uint8Array(readFileSync(f('seg.seg.nrrd'))), 'seg.seg.nrrd');
    const plain = await readLabelVolume(f('seg.nii.gz'));
    assert.equal(gridDifference(image, back.labels, TIGHT), null);
    assert.deepEqual(Array.from(back.labels.data), Array.from(plain.data), 'same labels as the NIfTI output');
    assert.deepEqual(back.segments.map((s) => s.name), ['organ', 'lesion']);
    // itk-wasm reads it as an ordinary NRRD on the same grid
    assert.equal(gridDifference(image, await readVolume(f('seg.seg.nrrd')), TIGHT), null);
    // and score takes it as a prediction
    const sc = cli(['score', '--pred', 'seg.seg.nrrd', '--gt', 'seg.nii.gz', '--json']);
    assert.equal(sc.code, 0, sc.stderr);
    assert.deepEqual(JSON.parse(sc.stdout).map((x: { dice: number }) => x.dice), [1, 1]);
  });

  it('a cropped .seg.nrrd as annotations gives the same segmentation as the uncropped label volume', async () => {
    const sparse = await readLabelVolume(f('keys.nii.gz'));
    const cropped = crop(sparse, [6, 5, 2], [38, 40, 9]);
    writeFileSync(f('keys-cropped.seg.nrrd'), formatSegNrrd(cropped, labelInfos([1, 2], [{ value: 1, name: 'organ' }, { value: 2, name: 'lesion' }])));
    const a = cli(['segment', '--image', 'ct.nii.gz', '--annotations', 'keys.nii.gz', '--key-slices', keys.join(','), '--out', 'from-full.nii.gz', '--quiet']);
    const b = cli(['segment', '--image', 'ct.nii.gz', '--annotations', 'keys-cropped.seg.nrrd', '--key-slices', keys.join(','), '--out', 'from-crop.nii.gz']);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stderr, /placed on the image grid at voxel offset 6, 5, 2/);
    const [x, y] = [await readLabelVolume(f('from-full.nii.gz')), await readLabelVolume(f('from-crop.nii.gz'))];
    assert.deepEqual(Array.from(y.data), Array.from(x.data));
    // names travel from the .seg.nrrd to the colour table
    assert.deepEqual(parseColorTable(readFileSync(f('from-crop.ctbl'), 'utf8')).map((l) => l.name), ['organ', 'lesion']);
    // a label volume off the lattice is still refused, naming both grids
    const off = { ...cropped, origin: [cropped.origin[0] + 0.5, cropped.origin[1], cropped.origin[2]] as [number, number, number] };
    writeFileSync(f('off.seg.nrrd'), formatSegNrrd(off, labelInfos([1, 2])));
    const c = cli(['segment', '--image', 'ct.nii.gz', '--annotations', 'off.seg.nrrd', '--key-slices', keys.join(','), '--out', 'x.nii.gz']);
    assert.equal(c.code, 3);
    assert.match(c.stderr, /off\.seg\.nrrd: annotation grid does not match the image ct\.nii\.gz: size differs.*not on the image's voxel lattice.*labels: size 38x40x9.*ct\.nii\.gz: size 48x48x12/);
  });
});

describe('DICOM SEG', () => {
  const infos = [{ value: 1, name: 'organ', color: [200, 120, 80] as [number, number, number] }, { value: 2, name: 'lesion', color: [40, 90, 250] as [number, number, number] }];

  it('writes a segmentation of an oblique non-DICOM image with the image as the series it references', async () => {
    const g = oblique([12, 10, 6]);
    const img = withGeometry(g, new Int16Array(720).map((_, i) => (i % 50) - 1000));
    const labels = withGeometry(g, new Uint8Array(720).map((_, i) => (i > 130 && i < 400 ? (i % 3 === 0 ? 2 : 1) : 0)));
    const out = await writeLabelOutput(labels, f('oblique.dcm'), { format: 'dicom-seg', infos, image: img });
    assert.ok(existsSync(f('oblique_image')) && readdirSync(f('oblique_image')).length === 6);
    assert.match(out.notes.join('\n'), /written as a DICOM series in .*oblique_image/);
    const series = await readVolume(f('oblique_image'));
    assert.equal(gridDifference(g, series, { spacing: 1e-5, origin: 1e-4, direction: 1e-5 }), null, 'the referenced series has the image geometry');
    assert.deepEqual(Array.from(series.data), Array.from(img.data));
    await checkSeg(f('oblique.dcm'), labels, infos);
    // read as annotations: on the image grid by geometry
    const ann = await readAnnotationLabels(f('oblique.dcm'));
    assert.deepEqual(ann.infos.map((l) => l.name), ['organ', 'lesion']);
  });

  it('says which labels hold no voxel and so have no segment', async () => {
    const g = oblique([8, 6, 4]);
    const labels = withGeometry(g, new Uint8Array(192).map((_, i) => (i > 60 && i < 120 ? 1 : 0)));
    const out = await writeLabelOutput(labels, f('empty.dcm'), { format: 'dicom-seg', infos, image: withGeometry(g, new Int16Array(192)) });
    assert.match(out.notes.join('\n'), /empty\.dcm: label 2 \(lesion\) holds no voxel and has no segment in the DICOM SEG/);
    assert.deepEqual((await readDicomSeg(f('empty.dcm'))).segments.map((x) => x.name), ['organ']);
  });

  it('segments a DICOM series into a DICOM SEG that references it, and reads that SEG back as annotations', async () => {
    const dir = f('ct_series');
    mkdirSync(dir);
    const p = makePhantom({ size: [40, 40, 10], spacing: [1.5, 1.5, 5] });
    const uid = writeCtSeries(dir, { nx: 40, ny: 40, nz: 10, spacing: [1.5, 1.5, 5], origin: [-30, -30, -25], value: (x, y, z) => Math.round(p.image.data[x + 40 * (y + 40 * z)]) + 1024 });
    const sg = new SliceGeometry(p.image, 2);
    const sparse = new Uint8Array(p.truth.data.length);
    for (const w of [2, 5, 7]) sg.insert(sparse, w, sg.slice(p.truth.data, w));
    const img = await readVolume(dir);
    await writeVolume(withGeometry(img, sparse), f('ct_keys.nii.gz'));
    const r = cli(['segment', '--image', 'ct_series', '--annotations', 'ct_keys.nii.gz', '--key-slices', '2,5,7', '--label-names', '1=organ:#c87850,2=lesion:#285afa',
      '--out', 'ct_seg.dcm', '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!existsSync(f('ct_seg_image')), 'no copy of a DICOM input');
    const r2 = cli(['segment', '--image', 'ct_series', '--annotations', 'ct_keys.nii.gz', '--key-slices', '2,5,7', '--out', 'ct_seg.nii.gz', '--quiet']);
    assert.equal(r2.code, 0, r2.stderr);
    const plain = await readLabelVolume(f('ct_seg.nii.gz'));
    await checkSeg(f('ct_seg.dcm'), plain, infos, uid);
    // the SEG as annotations: placed by geometry, same key slices, same result
    const r3 = cli(['segment', '--image', 'ct_series', '--annotations', 'ct_seg.dcm', '--key-slices', '2,5,7', '--out', 'again.nii.gz', '--quiet']);
    assert.equal(r3.code, 0, r3.stderr);
    assert.deepEqual(Array.from((await readLabelVolume(f('again.nii.gz'))).data), Array.from(plain.data));
    assert.deepEqual(parseColorTable(readFileSync(f('again.ctbl'), 'utf8')).map((l) => l.name), ['organ', 'lesion']);
  });
});

describe('label formats on the real data', { skip: sharedDataSkip() }, () => {
  it('spleen: .seg.nrrd and DICOM SEG round trips keep the expert labels and the geometry', async () => {
    const imageFile = path.join(SHARED_DATA, 'msd-spleen-crop/spleen_2_crop_ct.nii.gz');
    const image = await readVolume(imageFile);
    const truth = await readLabelVolume(path.join(SHARED_DATA, 'msd-spleen-crop/spleen_2_crop_label.nii.gz'));
    const infos = [{ value: 1, name: 'spleen', color: [157, 108, 162] as [number, number, number] }];
    await writeLabelOutput(truth, f('spleen.seg.nrrd'), { format: 'seg-nrrd', infos });
    const seg = parseSegNrrd(new Uint8Array(readFileSync(f('spleen.seg.nrrd'))), 'spleen.seg.nrrd');
    assert.equal(gridDifference(image, seg.labels, TIGHT), null);
    assert.deepEqual(Array.from(seg.labels.data), Array.from(truth.data));
    await writeLabelOutput(truth, f('spleen.dcm'), { format: 'dicom-seg', infos, image });
    await checkSeg(f('spleen.dcm'), truth, infos);
  });
});
