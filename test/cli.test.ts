import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { makePhantom } from '../src/demo/phantom.js';
import { selectKeySlices, sliceAreas } from '../src/simulate/annotator.js';
import { embeddingCacheOptions } from '../src/cli/options.js';
import { readLabelVolume, readVolume, writeVolume } from '../src/volume/io-node.js';
import { defaultSliceAxis, gridDifference, labelValues, SliceGeometry, withGeometry } from '../src/volume/volume.js';
import { SHARED_CASES, SHARED_DATA, sharedDataSkip, tempDir, runCli } from './helpers/paths.js';

const tmp = tempDir();
after(tmp.cleanup);
const f = (name: string) => path.join(tmp.dir, name);

const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { env });

/** Sparse annotation volume: the truth on the given slices only. */
function keySliceVolume(truth: ArrayLike<number>, sg: SliceGeometry, slices: number[]): Uint8Array {
  const out = new Uint8Array(truth.length);
  const s = new Uint8Array(sg.area);
  for (const w of slices) sg.insert(out, w, sg.extract(truth, w, s));
  return out;
}

describe('keyslice segment on a phantom', () => {
  let keys: number[] = [];
  before(async () => {
    const { image, truth } = makePhantom({ size: [64, 64, 16], spacing: [1.5, 1.5, 5] });
    const sg = new SliceGeometry(image, 2);
    keys = selectKeySlices(sliceAreas(truth.data, sg, 1), 3);
    await writeVolume(image, f('ct.nii.gz'));
    await writeVolume(withGeometry(image, keySliceVolume(truth.data, sg, keys)), f('keys.nii.gz'));
    const nan = new Float32Array(image.data);
    nan[100] = NaN;
    await writeVolume(withGeometry(image, nan), f('nan.nii.gz'));
    await writeVolume(withGeometry({ ...image, spacing: [1.5, 1.5, 2.5] }, new Uint8Array(truth.data.length)), f('other-grid.nii.gz'));
    writeFileSync(f('corrupt.nii.gz'), gzipSync(Buffer.from('this is not a NIfTI header at all')));
    writeFileSync(f('truncated.nii.gz'), readFileSync(f('ct.nii.gz')).subarray(0, 400));
    // 4D NRRD: 4 x 3 x 2 x 3 int16 voxels
    writeFileSync(f('4d.nrrd'), Buffer.concat([
      Buffer.from('NRRD0004\ntype: short\ndimension: 4\nsizes: 4 3 2 3\nencoding: raw\nendian: little\nspace dimension: 4\nspace directions: (1,0,0,0) (0,1,0,0) (0,0,1,0) (0,0,0,1)\n\n'),
      Buffer.alloc(4 * 3 * 2 * 3 * 2),
    ]));
    // A header promising 3000^3 float voxels with data that is never read: refused from the header alone.
    writeFileSync(f('huge.nhdr'), 'NRRD0004\ntype: float\ndimension: 3\nsizes: 3000 3000 3000\nencoding: raw\nendian: little\ndata file: huge.raw\n\n');
    writeFileSync(f('huge.raw'), Buffer.alloc(16));
    writeFileSync(f('unknown-label.json'), JSON.stringify({ version: 1, labels: [{ value: 1, keySlices: [{ slice: 3, box: [1, 1, 5, 5] }] }], keySlices: [{ label: 7, slice: 4, box: [1, 1, 3, 3] }] }));
    writeFileSync(f('box-outside.json'), JSON.stringify({ version: 1, labels: [{ value: 1, keySlices: [{ slice: 3, box: [10, 10, 70, 20] }] }] }));
    writeFileSync(f('box.json'), JSON.stringify({ version: 1, labels: [{ value: 2, name: 'lesion', keySlices: [{ slice: 8, box: [30, 26, 40, 36] }, { slice: 12, empty: true }] }] }));
  });

  it('writes a label volume on the image grid that keeps the key slices exactly, with a report', () => {
    const r = cli(['segment', '--image', f('ct.nii.gz'), '--annotations', f('keys.nii.gz'), '--key-slices', keys.join(','),
      '--prompts', f('box.json'), '--out', f('seg.nii.gz'), '--report', f('report.json')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /label 1: \d+ voxels/);
    assert.match(r.stdout, /label 2 \(lesion\)/);
    const report = JSON.parse(readFileSync(f('report.json'), 'utf8'));
    assert.deepEqual(report.labels.map((l: { value: number }) => l.value), [1, 2]);
    assert.ok(report.labels[1].emptyKeySlices.includes(12));
    return Promise.all([readVolume(f('ct.nii.gz')), readLabelVolume(f('seg.nii.gz')), readLabelVolume(f('keys.nii.gz'))]).then(([img, seg, key]) => {
      assert.equal(gridDifference(img, seg, { spacing: 1e-6, origin: 1e-5, direction: 1e-6 }), null);
      const sg = new SliceGeometry(img, 2);
      for (const w of keys) {
        const a = sg.slice(seg.data, w);
        const b = sg.slice(key.data, w);
        assert.deepEqual(Array.from(a), Array.from(b), `key slice ${w} unchanged`);
      }
      // between the key slices the organ is filled in
      assert.ok(sg.countEqual(seg.data, Math.round((keys[0] + keys[1]) / 2), 1) > 0);
      assert.equal(sg.countEqual(seg.data, 12, 2), 0, 'absent key slice stays empty');
    });
  });

  it('reports every front and slice, and keeps propagation inside --range', async () => {
    const r = cli(['segment', '--image', f('ct.nii.gz'), '--annotations', f('keys.nii.gz'), '--key-slices', keys.join(','),
      '--out', f('seg-range.nii.gz'), '--report', f('report-range.json'), '--range', `${keys[0]}:${keys[keys.length - 1]}`, '--window', 'mediastinum']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /front from \d+ (up|down): .*stopped: /);
    const report = JSON.parse(readFileSync(f('report-range.json'), 'utf8'));
    const l = report.labels[0];
    assert.deepEqual(report.range, [keys[0], keys[keys.length - 1]]);
    assert.deepEqual(report.window, { low: -125, high: 225, kind: 'preset', name: 'mediastinum' });
    assert.deepEqual(l.extent, [keys[0], keys[keys.length - 1]]);
    for (const fr of l.fronts) assert.ok(['key-slice', 'range', 'object-ended', 'low-confidence', 'area-collapse', 'area-regrowth', 'similarity-break'].includes(fr.stop));
    const sources = new Set(l.slices.map((s: { source: string }) => s.source));
    assert.ok(sources.has('key'));
    for (const s of l.slices) {
      assert.ok(s.confidence >= 0 && s.confidence <= 1);
      if (s.source !== 'none') assert.ok(s.from.length >= 1);
    }
    assert.ok('keepConnected' in l.postprocess && 'fillHoles' in l.postprocess && 'smooth' in l.postprocess);
  });

  const cases: [string, string[], number, RegExp][] = [
    ['missing image file', ['--image', 'nope.nii.gz', '--prompts', 'box.json'], 3, /nope\.nii\.gz: no such file or folder/],
    ['corrupt image', ['--image', 'corrupt.nii.gz', '--prompts', 'box.json'], 3, /corrupt\.nii\.gz: not a readable image/],
    ['truncated image', ['--image', 'truncated.nii.gz', '--prompts', 'box.json'], 3, /truncated\.nii\.gz: compressed data is damaged or truncated/],
    ['grids that differ', ['--image', 'ct.nii.gz', '--annotations', 'other-grid.nii.gz', '--key-slices', '3'], 3, /other-grid\.nii\.gz: annotation grid does not match the image .*ct\.nii\.gz: spacing differs/],
    ['key slice out of range', ['--image', 'ct.nii.gz', '--annotations', 'keys.nii.gz', '--key-slices', '3,16'], 3, /keys\.nii\.gz: key slice 16 is out of range 0\.\.15 along axis 2/],
    ['unknown label in the prompts file', ['--image', 'ct.nii.gz', '--prompts', 'unknown-label.json'], 3, /unknown-label\.json: keySlices\[0\]\.label: unknown label 7/],
    ['box outside the slice', ['--image', 'ct.nii.gz', '--prompts', 'box-outside.json'], 3, /box-outside\.json: label 1, slice 3: box corner \[70,20\] lies outside the slice \(i 0\.\.63, j 0\.\.63\)/],
    ['NaN voxels', ['--image', 'nan.nii.gz', '--prompts', 'box.json'], 3, /nan\.nii\.gz: 1 voxel\(s\) are NaN or infinite \(first at voxel \[36, 1, 0\]\)/],
    ['4D image', ['--image', '4d.nrrd', '--prompts', 'box.json'], 3, /4d\.nrrd: 4D image of size 4x3x2x3/],
    ['volume too large for memory', ['--image', 'huge.nhdr', '--prompts', 'box.json'], 3, /huge\.nhdr: volume of 3000x3000x3000 = 27000000000 voxels is too large/],
    ['annotations without key slices', ['--image', 'ct.nii.gz', '--annotations', 'keys.nii.gz'], 2, /--annotations needs --key-slices/],
    ['unknown engine', ['--image', 'ct.nii.gz', '--prompts', 'box.json', '--engine', 'magic'], 2, /unknown engine "magic"/],
    ['a malformed range', ['--image', 'ct.nii.gz', '--prompts', 'box.json', '--range', '9:3'], 2, /--range must be FIRST:LAST/],
    ['a range beyond the image', ['--image', 'ct.nii.gz', '--prompts', 'box.json', '--range', '2:16'], 2, /slice range 2:16 is not within 0:15 along axis 2/],
    ['an unknown post-processing step', ['--image', 'ct.nii.gz', '--prompts', 'box.json', '--post', 'fill-holes,blur'], 2, /unknown post-processing step "blur"/],
    ['an unknown window', ['--image', 'ct.nii.gz', '--prompts', 'box.json', '--window', 'liver'], 2, /--window must be auto, a CT preset \(abdomen, lung, brain, mediastinum, bone\) or LOW:HIGH/],
    ['an empty window', ['--image', 'ct.nii.gz', '--prompts', 'box.json', '--window', '40:-40'], 2, /--window must be/],
    ['a model with a weight-free engine', ['--image', 'ct.nii.gz', '--prompts', 'box.json', '--engine', 'classic', '--model', 'ct.nii.gz'], 2, /--model is for the model engines/],
    ['an embedding cache with a weight-free engine', ['--image', 'ct.nii.gz', '--prompts', 'box.json', '--engine', 'classic', '--embedding-cache', 'emb'], 2, /--embedding-cache keeps the image embeddings of the sam and hybrid engines/],
    ['an embedding cache that is a file', ['--image', 'ct.nii.gz', '--prompts', 'box.json', '--engine', 'sam', '--embedding-cache', 'box.json'], 4, /box\.json: the embedding cache must be a folder, and this is a file/],
    ['an embedding cache size of zero', ['--image', 'ct.nii.gz', '--prompts', 'box.json', '--engine', 'sam', '--embedding-cache', 'emb', '--embedding-cache-gb', '0'], 2, /--embedding-cache-gb must be a positive number of GiB \(the cache folder's size limit\), got "0"/],
    ['an embedding cache size that is no number', ['--image', 'ct.nii.gz', '--prompts', 'box.json', '--engine', 'sam', '--embedding-cache', 'emb', '--embedding-cache-gb', '2GB'], 2, /--embedding-cache-gb must be a positive number of GiB .*got "2GB"/],
    ['an embedding cache size without the folder', ['--image', 'ct.nii.gz', '--prompts', 'box.json', '--engine', 'sam', '--embedding-cache-gb', '4'], 2, /--embedding-cache-gb sets the size limit of the embedding cache folder: give the folder with --embedding-cache DIR/],
  ];
  for (const [what, args, code, message] of cases) {
    it(`refuses ${what} with a clear message, exit ${code}, and writes nothing`, () => {
      const out = f(`out-${what.replace(/\W+/g, '-')}.nii.gz`);
      const literal = new Set(['--key-slices', '--engine', '--range', '--post', '--window', '--embedding-cache-gb']);
      const full = args.map((a, i) => (i > 0 && args[i - 1].startsWith('--') && !literal.has(args[i - 1]) ? f(a) : a));
      const r = cli(['segment', ...full, '--out', out]);
      assert.equal(r.code, code, `exit code (stderr: ${r.stderr})`);
      assert.match(r.stderr, message);
      assert.match(r.stderr, /^keyslice: error: /m);
      assert.equal(existsSync(out), false, 'no output written');
      assert.deepEqual(readdirSync(tmp.dir).filter((x) => x.includes('.tmp-')), []);
    });
  }

  it('takes --embedding-cache-gb on train and bench too, and refuses it there without a folder or with a bad size', () => {
    const refusals: [string[], RegExp][] = [
      [['train', '--data', tmp.dir, '--out', f('never'), '--engine', 'sam', '--embedding-cache-gb', '1'], /--embedding-cache-gb sets the size limit/],
      [['train', '--data', tmp.dir, '--out', f('never'), '--engine', 'sam', '--embedding-cache', f('emb'), '--embedding-cache-gb=-0.5'], /--embedding-cache-gb must be a positive number of GiB .*got "-0\.5"/],
      [['bench', '--data', tmp.dir, '--loo', 'residual', '--embedding-cache-gb', '3'], /--embedding-cache-gb sets the size limit/],
      [['bench', '--data', tmp.dir, '--loo', 'residual', '--embedding-cache', f('emb'), '--embedding-cache-gb', 'NaN'], /--embedding-cache-gb must be a positive number of GiB .*got "NaN"/],
    ];
    assert.deepEqual(embeddingCacheOptions({ 'embedding-cache': 'emb', 'embedding-cache-gb': '0.5' }), { embeddingCache: 'emb', embeddingCacheBytes: 512 * 1024 ** 2 });
    assert.deepEqual(embeddingCacheOptions({ 'embedding-cache': 'emb', 'embedding-cache-gb': '8' }), { embeddingCache: 'emb', embeddingCacheBytes: 8 * 1024 ** 3 });
    assert.deepEqual(embeddingCacheOptions({ 'embedding-cache': 'emb' }), { embeddingCache: 'emb' });
    assert.deepEqual(embeddingCacheOptions({}), { embeddingCache: undefined });
    for (const [args, message] of refusals) {
      const r = cli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(existsSync(f('never')) || existsSync(f('emb')), false, 'nothing created');
    }
  });

  it('never overwrites an input', () => {
    const before = readFileSync(f('keys.nii.gz'));
    const r = cli(['segment', '--image', f('ct.nii.gz'), '--annotations', f('keys.nii.gz'), '--key-slices', 'auto', '--out', f('keys.nii.gz')]);
    assert.equal(r.code, 4);
    assert.match(r.stderr, /keys\.nii\.gz: output would overwrite an input file/);
    assert.ok(readFileSync(f('keys.nii.gz')).equals(before));
  });

  it('keeps the 4D test file honest: it is a real 4D NRRD', () => {
    assert.match(readFileSync(f('4d.nrrd')).subarray(0, 60).toString(), /dimension: 4/);
    assert.ok(gunzipSync(readFileSync(f('corrupt.nii.gz'))).length > 0);
  });
});

describe('keyslice analyze and suggest', () => {
  let keys: number[] = [];
  before(async () => {
    const { image, truth } = makePhantom({ size: [64, 64, 16], spacing: [1.5, 1.5, 5], seed: 3 });
    const sg = new SliceGeometry(image, 2);
    keys = selectKeySlices(sliceAreas(truth.data, sg, 1), 1);
    await writeVolume(image, f('an-ct.nii.gz'));
    await writeVolume(withGeometry(image, keySliceVolume(truth.data, sg, keys)), f('an-keys.nii.gz'));
    writeFileSync(f('an-box.json'), JSON.stringify({ version: 1, labels: [{ value: 2, name: 'lesion', keySlices: [{ slice: 8, box: [30, 26, 40, 36] }] }] }));
  });

  it('analyze writes the profile as JSON and SVG, over the tissue and each annotated object', () => {
    const out = f('analysis');
    const r = cli(['analyze', '--image', f('an-ct.nii.gz'), '--annotations', f('an-keys.nii.gz'), '--key-slices', keys.join(','), '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /16 slices along axis 2, 5\.00 mm apart/);
    assert.match(r.stdout, /label 1: mean neighbour SSIM 0\.\d{3}/);
    const doc = JSON.parse(readFileSync(path.join(out, 'profile.json'), 'utf8'));
    assert.equal(doc.whole.pairs.length, 15);
    assert.equal(doc.labels[0].value, 1);
    assert.deepEqual(doc.labels[0].keySlices, keys);
    assert.equal(doc.whole.predictability.length, 16);
    for (const p of doc.whole.pairs) assert.ok(p.ssim <= 1 && p.histogram >= 0 && p.histogram <= 1);
    assert.match(readFileSync(path.join(out, 'profile.svg'), 'utf8'), /^<svg[^>]*>[\s\S]*<polyline[\s\S]*<\/svg>\n$/);
    // No annotations: the tissue only.
    const bare = cli(['analyze', '--image', f('an-ct.nii.gz'), '--out', f('analysis-bare'), '--quiet']);
    assert.equal(bare.code, 0, bare.stderr);
    assert.deepEqual(JSON.parse(readFileSync(path.join(f('analysis-bare'), 'profile.json'), 'utf8')).labels, []);
  });

  it('analyze refuses an output that is a file, and annotations without key slices', () => {
    const r = cli(['analyze', '--image', f('an-ct.nii.gz'), '--out', f('an-ct.nii.gz')]);
    assert.equal(r.code, 4);
    assert.match(r.stderr, /an-ct\.nii\.gz: output must be a folder/);
    const k = cli(['analyze', '--image', f('an-ct.nii.gz'), '--annotations', f('an-keys.nii.gz'), '--out', f('x')]);
    assert.equal(k.code, 2);
    assert.match(k.stderr, /--annotations needs --key-slices/);
  });

  it('suggest names slices with reasons; where to start without annotations; JSON on request', () => {
    const r = cli(['suggest', '--image', f('an-ct.nii.gz'), '--annotations', f('an-keys.nii.gz'), '--key-slices', keys.join(','), '--budget', '2']);
    assert.equal(r.code, 0, r.stderr);
    // The key slice holds the organ (1) and the lesion (2): two slices each.
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0], new RegExp(`^label 1, key slices ${keys[0]}:`));
    assert.match(lines[3], new RegExp(`^label 2, key slices ${keys[0]}:`));
    assert.equal(lines.length, 6);
    for (const l of [...lines.slice(1, 3), ...lines.slice(4)]) {
      assert.match(l, /^ {2}slice \d+ {2}(largest-gap|gap|likely-end|far-from-keys|unexplored|low-confidence|similarity-break) +\S/);
    }
    const start = cli(['suggest', '--image', f('an-ct.nii.gz')]);
    assert.equal(start.code, 0, start.stderr);
    assert.match(start.stdout, /^start at slice \d+: no annotation yet/);
    const json = cli(['suggest', '--image', f('an-ct.nii.gz'), '--prompts', f('an-box.json'), '--json']);
    assert.equal(json.code, 0, json.stderr);
    const doc = JSON.parse(json.stdout);
    assert.equal(doc.labels[0].value, 2);
    assert.equal(doc.labels[0].suggestions.length, 1);
    assert.equal(cli(['suggest', '--image', f('an-ct.nii.gz'), '--budget', '0']).code, 2);
  });
});

describe('keyslice score', () => {
  it('prints per-label metrics and JSON, and refuses grids that differ', async () => {
    const { image, truth } = makePhantom({ size: [32, 32, 8], spacing: [2, 2, 5], seed: 3 });
    await writeVolume(truth, f('truth.nii.gz'));
    const pred = new Uint8Array(truth.data);
    for (let i = 0; i < pred.length; i++) if (pred[i] === 2) pred[i] = 0;
    await writeVolume(withGeometry(image, pred), f('pred.nii.gz'));
    const r = cli(['score', '--pred', f('pred.nii.gz'), '--gt', f('truth.nii.gz'), '--json']);
    assert.equal(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout);
    assert.deepEqual(rows.map((x: { label: number }) => x.label), [1, 2]);
    assert.equal(rows[0].dice, 1);
    assert.equal(rows[1].dice, 0);
    assert.equal(rows[1].hd95, null);
    const t = cli(['score', '--pred', f('pred.nii.gz'), '--gt', f('truth.nii.gz'), '--label', '1']);
    assert.match(t.stdout, /^1\s+1\.000\s+1\.000\s+0\.00/m);
    const g = cli(['score', '--pred', f('other-grid.nii.gz'), '--gt', f('truth.nii.gz')]);
    assert.equal(g.code, 3);
    assert.match(g.stderr, /other-grid\.nii\.gz: grid differs from/);
  });
});

describe('keyslice demo', () => {
  it('runs with no input and prints Dice against the phantom truth', () => {
    const r = cli(['demo', '--out', f('demo')]);
    assert.equal(r.code, 0, r.stderr);
    const dice = [...r.stdout.matchAll(/Dice (\d\.\d+)/g)].map((m) => Number(m[1]));
    assert.equal(dice.length, 2);
    // The organ from three masks and the lesion inside it from two boxes: the merge of the two labels must not
    // hand one label's slices to the other (the figures are deterministic: 0.960 and 0.888).
    const [organ, lesion] = dice;
    assert.ok(organ > 0.94, `demo organ Dice ${organ}`);
    assert.ok(lesion > 0.86, `demo lesion Dice ${lesion}`);
    for (const name of ['phantom_ct.nii.gz', 'phantom_truth.nii.gz', 'key_slices.nii.gz', 'prompts.json', 'segmentation.nii.gz']) {
      assert.ok(existsSync(path.join(f('demo'), name)), name);
    }
  });
});

describe('keyslice segment on every real volume', { skip: sharedDataSkip() }, () => {
  for (const c of SHARED_CASES) {
    it(`${c.name}: output on the input grid, key slices kept, labels preserved`, async () => {
      const imageFile = path.join(SHARED_DATA, c.image);
      const image = await readVolume(imageFile);
      const truth = await readLabelVolume(path.join(SHARED_DATA, c.label));
      const sg = new SliceGeometry(image, defaultSliceAxis(image.spacing));
      const any = sliceAreas(truth.data.map((v) => (v ? 1 : 0)), sg, 1);
      const keys = selectKeySlices(any, 3);
      const sparseFile = f(`${c.name}_keys.nii.gz`);
      await writeVolume(withGeometry(image, keySliceVolume(truth.data, sg, keys)), sparseFile);
      const out = f(`${c.name}_seg.nii.gz`);
      const r = cli(['segment', '--image', imageFile, '--annotations', sparseFile, '--key-slices', keys.join(','), '--out', out, '--quiet']);
      assert.equal(r.code, 0, r.stderr);
      const seg = await readLabelVolume(out);
      assert.equal(gridDifference(image, seg, { spacing: 1e-6, origin: 1e-5, direction: 1e-6 }), null);
      const keyValues = new Set<number>();
      for (const w of keys) {
        const a = sg.slice(seg.data, w);
        const b = sg.slice(truth.data, w);
        assert.deepEqual(Array.from(a), Array.from(b), `key slice ${w}`);
        for (const v of labelValues(b)) keyValues.add(v);
      }
      assert.deepEqual(labelValues(seg.data), [...keyValues].sort((a, b) => a - b));
    });
  }
});
