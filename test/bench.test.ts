import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { benchFiles } from '../src/bench/bench-files.js';
import { findDatasets, MANIFEST_NAME } from '../src/bench/manifest.js';
import { getMethod } from '../src/bench/methods.js';
import { makePhantom } from '../src/demo/phantom.js';
import { writeVolume } from '../src/volume/io-node.js';
import { writeBrightnessModel } from './helpers/onnx-graphs.js';
import { tempDir } from './helpers/paths.js';
import { writeSam2Model } from './helpers/sam2-graphs.js';
import { referenceFrame } from '../src/bench/reference.js';
import { budgetDips, endErrorByDataset, summarise, summaryMarkdown } from '../src/bench/report.js';
import type { BenchRow } from '../src/bench/run-bench.js';

const tmp = tempDir();
after(tmp.cleanup);

async function phantomDataset(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const { image, truth } = makePhantom({ size: [48, 48, 14], spacing: [2, 2, 5], seed: 5 });
  await writeVolume(image, path.join(dir, 'ct.nii.gz'));
  await writeVolume(truth, path.join(dir, 'truth.nii.gz'));
  writeFileSync(path.join(dir, MANIFEST_NAME), JSON.stringify({
    name: 'phantom', modality: 'CT', window: 'abdomen',
    cases: [{ id: 'p1', image: 'ct.nii.gz', label: 'truth.nii.gz', labels: [1] }],
  }));
}

describe('benchmark', () => {
  it('finds datasets by manifest and refuses a bad manifest with the field named', async () => {
    const dir = path.join(tmp.dir, 'data');
    await phantomDataset(path.join(dir, 'phantom'));
    const ds = await findDatasets(dir);
    assert.deepEqual(ds.map((d) => d.name), ['phantom']);
    assert.equal(ds[0].root, path.join(dir, 'phantom'));
    const bad = path.join(tmp.dir, 'bad');
    mkdirSync(bad);
    writeFileSync(path.join(bad, MANIFEST_NAME), JSON.stringify({ name: 'x', modality: 'PET', cases: [] }));
    await assert.rejects(findDatasets(bad), /keyslice-dataset\.json: modality: must be "CT" or "MR"/);
  });

  it('runs every method on every budget and kind, and writes JSON, CSV, Markdown and SVG', async () => {
    const dir = path.join(tmp.dir, 'data2');
    await phantomDataset(dir);
    const out = path.join(tmp.dir, 'results');
    const res = await benchFiles({ data: dir, budgets: [1, 3], kinds: ['mask', 'box', 'points'], placements: ['fixed'], out, methods: ['keyslice:interp', 'mci', 'linear'] });
    assert.equal(res.rows.length, 1 * 2 * 3 * 3);
    assert.match(res.summary, /\| phantom \| points \| keyslice:interp \| 0\.\d{3} \| 0\.\d{3} \|/);
    for (const f of ['results.json', 'results.csv', 'summary.md', 'dice-vs-budget.svg']) assert.ok(existsSync(path.join(out, f)), f);
    const csv = readFileSync(path.join(out, 'results.csv'), 'utf8').trim().split('\n');
    assert.equal(csv.length, 1 + res.rows.length);
    assert.match(res.summary, /\| phantom \| mask \| mci \| 0\.\d{3} \| 0\.\d{3} \|/);
    assert.match(res.summary, /### Mean end error by budget[^]*\| phantom \| box \| mci \| \d+\.\d{2} \| \d+\.\d{2} \|/);
    assert.match(res.summary, /\| Dice \| Dice non-key \| Dice key \|/);
    assert.match(res.summary, /### End error on the objects the key slices hold[^]*\| phantom \| mask \| mci \| \d+\.\d{2} \(1\/1\) \| \d+\.\d{2} \(1\/1\) \|/);
    assert.match(readFileSync(path.join(out, 'dice-vs-budget.svg'), 'utf8'), /^<svg[^>]*>[\s\S]*<polyline[\s\S]*<\/svg>\n$/);
    for (const r of res.rows) {
      assert.ok(r.dice >= 0 && r.dice <= 1);
      assert.equal(r.keySlices.length, r.budget);
      assert.ok(r.keyObjects && r.keyObjects.touched >= 1 && r.keyObjects.ends.length <= r.keyObjects.touched);
      if (r.budget === 1) assert.equal(r.diceNonKey, 0, `${r.method}: nothing propagates from one key slice`);
      assert.ok(r.diceKey >= 0 && r.diceKey <= 1);
      // keyslice keeps a drawn key mask as it is: its key slices are the truth there.
      if (r.kind === 'mask' && r.method === 'keyslice:interp') assert.equal(r.diceKey, 1, `key slices ${r.keySlices}`);
    }
    const k3 = res.rows.filter((r) => r.budget === 3 && r.kind === 'mask');
    for (const r of k3) assert.ok(r.dice > 0.7, `${r.method} k=3 Dice ${r.dice}`);
  });

  it('places key slices by suggestion, and measures what skipping saves against a no-skipping run', async () => {
    const dir = path.join(tmp.dir, 'data3');
    await phantomDataset(dir);
    const out = path.join(tmp.dir, 'results3');
    const res = await benchFiles({
      data: dir,
      budgets: [1, 2, 3],
      kinds: ['mask'],
      placements: ['fixed', 'suggested'],
      out,
      methods: ['keyslice:classic', 'keyslice:classic/noskip'],
    });
    const suggested = res.rows.filter((r) => r.placement === 'suggested');
    assert.ok(suggested.length >= 4);
    const k1 = res.rows.filter((r) => r.budget === 1);
    assert.deepEqual(new Set(k1.map((r) => r.keySlices.join())).size, 1, 'both placements start from the same slice');
    for (const r of suggested) {
      assert.equal(r.keySlices.length, r.budget);
      assert.ok(r.engineCalls !== null && r.engineCalls > 0);
    }
    for (const r of res.rows.filter((x) => x.method.endsWith('/noskip'))) assert.equal(r.callsSaved, 0, 'no skipping in the baseline');
    assert.match(res.summary, /\| phantom \| mask, suggested \| keyslice:classic \|/);
    assert.match(res.summary, /### Skipping redundant slices/);
    assert.match(res.summary, /\| phantom \| mask \| keyslice:classic \| \d+\.\d \| \d+\.\d \| -?\d+ % \|/);
  });

  it('refuses unknown methods', () => {
    assert.throws(() => getMethod('sam-magic'), /unknown bench method "sam-magic"/);
  });

  it('times a reference encoder run for the model engines in the same run, and times each object in such runs', async () => {
    const dir = path.join(tmp.dir, 'data-ref');
    await phantomDataset(dir);
    const out = path.join(tmp.dir, 'results-ref');
    const model = writeBrightnessModel(path.join(tmp.dir, 'ref-model'));
    const res = await benchFiles({ data: dir, budgets: [1], kinds: ['mask'], placements: ['fixed'], out, model, methods: ['keyslice:hybrid', 'keyslice:sam', 'keyslice:classic', 'mci'] });
    assert.equal(res.rows.length, 4);
    for (const r of res.rows) {
      if (r.method === 'keyslice:hybrid' || r.method === 'keyslice:sam') {
        assert.ok(r.reference && r.reference.seconds > 0 && r.reference.cpuSeconds > 0, `${r.method}: ${JSON.stringify(r.reference)}`);
        assert.equal(r.objects, 1);
        assert.ok((r.engineStats?.encoderCalls ?? 0) > 0, `${r.method} ran its encoder`);
        assert.ok(Math.abs((r.referenceRuns as number) - r.seconds / r.reference.seconds) < 1e-9);
        assert.ok(Math.abs((r.cpuReferenceRuns as number) - r.cpuSeconds / r.reference.cpuSeconds) < 1e-9);
      } else {
        assert.equal(r.reference, undefined, r.method);
        assert.equal(r.referenceRuns, undefined, r.method);
      }
    }
    assert.match(res.summary, /### Model engines: time per object[^]*\| phantom \| mask \| keyslice:hybrid \| 1 \| \d+\.\d{2} \| \d+\.\d{2} \| \d+\.\d{3} \| \d+\.\d \| \d+\.\d \| \d+\.\d \|/);
    assert.doesNotMatch(res.summary, /\| phantom \| mask \| keyslice:classic \| 1 \| \d+\.\d{2} \| \d+\.\d{2} \| \d+\.\d{3} \|/);
    const json = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')) as { rows: { method: string; referenceRuns?: number }[] };
    assert.ok((json.rows.find((r) => r.method === 'keyslice:hybrid')?.referenceRuns ?? 0) > 0);
    const csv = readFileSync(path.join(out, 'results.csv'), 'utf8').trim().split('\n');
    const cols = csv[0].split(',');
    const at = cols.indexOf('referenceRuns');
    assert.ok(at > 0);
    const cells = new Map(csv.slice(1).map((l) => [l.split(',')[cols.indexOf('method')], l.split(',')[at]]));
    assert.ok(Number(cells.get('keyslice:sam')) > 0);
    assert.equal(cells.get('mci'), '');
  });

  it('times the reference run of a SAM2-family model for medsam2 rows', async () => {
    const dir = path.join(tmp.dir, 'data-ref2');
    await phantomDataset(dir);
    const model = writeSam2Model(path.join(tmp.dir, 'ref-sam2'));
    const res = await benchFiles({ data: dir, budgets: [1], kinds: ['mask'], placements: ['fixed'], out: path.join(tmp.dir, 'results-ref2'), model, methods: ['keyslice:medsam2'] });
    assert.equal(res.rows.length, 1);
    assert.ok((res.rows[0].reference?.seconds ?? 0) > 0);
    assert.ok((res.rows[0].cpuReferenceRuns ?? 0) > 0);
  });

  it('makes the reference input from the model\'s mean and std, the same on every call', () => {
    const a = referenceFrame(32, [10, 20, 30], [2, 4, 8]);
    assert.equal(a.length, 3 * 32 * 32);
    assert.deepEqual(a, referenceFrame(32, [10, 20, 30], [2, 4, 8]));
    // The same pixel in each channel: (p - mean) / std.
    const p = a[5] * 2 + 10;
    assert.ok(Math.abs((a[32 * 32 + 5] * 4 + 20) - p) < 1e-3 && Math.abs((a[2 * 32 * 32 + 5] * 8 + 30) - p) < 1e-3);
    assert.ok(Math.max(...a) > Math.min(...a), 'not a constant input');
  });
  it('gives seconds per object where a row segments all objects of its case together', () => {
    const row = (label: number, seconds: number, objects?: number): BenchRow => ({
      dataset: 'd', case: 'c', label, kind: 'mask', placement: 'fixed', budget: 1, method: 'm', keySlices: [3],
      truthExtent: [1, 5], predExtent: [1, 5], dice: 0.9, diceNonKey: 0.9, diceKey: 1, nsd2mm: 0.9, hd95: 1, seconds,
      cpuSeconds: seconds, rssMiB: 1, engineCalls: null, callsSaved: null, ...(objects !== undefined ? { objects } : {}),
    });
    // Two labels segmented together in each row (4 s and 6 s for both): 2 and 3 s per object.
    assert.equal(summarise([row(1, 4, 2), row(2, 6, 2)]).get('d|mask|m|1')?.seconds, 2.5);
    // A peer segments one label per row.
    assert.equal(summarise([row(1, 4), row(2, 6)]).get('d|mask|m|1')?.seconds, 5);
  });
  it('lists the steps between budgets where more key slices lowered the mean Dice', () => {
    const row = (kind: 'mask' | 'box', placement: 'fixed' | 'nested', budget: number, label: number, dice: number): BenchRow => ({
      dataset: 'd', case: 'c', label, kind, placement, budget, method: 'm', keySlices: [3],
      truthExtent: [1, 5], predExtent: [1, 5], dice, diceNonKey: dice, diceKey: 1, nsd2mm: dice, hd95: 1, seconds: 1,
      cpuSeconds: 1, rssMiB: 1, engineCalls: null, callsSaved: null,
    });
    const rows = [
      // mask, fixed: 0.8, 0.9, 0.85 (a dip from k=2 to k=3), 0.95 (means of two labels).
      ...[1, 2].flatMap((l) => [row('mask', 'fixed', 1, l, 0.8), row('mask', 'fixed', 2, l, l === 1 ? 0.8 : 1), row('mask', 'fixed', 3, l, 0.85), row('mask', 'fixed', 5, l, 0.95)]),
      // box, nested: rising; box, fixed: level, then down at k=5.
      row('box', 'nested', 1, 1, 0.5), row('box', 'nested', 2, 1, 0.6),
      row('box', 'fixed', 1, 1, 0.7), row('box', 'fixed', 2, 1, 0.7), row('box', 'fixed', 5, 1, 0.69),
    ];
    const dips = budgetDips(rows);
    assert.deepEqual(dips.map((x) => [x.kind, x.from, x.to, +x.change.toFixed(6), x.n]), [['mask', 2, 3, -0.05, 2], ['box', 2, 5, -0.01, 1]]);
    // The rows' own changes: label 1 rose by 0.05, label 2 fell by 0.15; their mean's standard error is 0.1. One row: none.
    assert.deepEqual(dips.map((x) => [x.paired, x.fell, x.rose, x.se === null ? null : +x.se.toFixed(6), x.heldShare]), [[2, 1, 1, 0.1, null], [1, 1, 0, null, null]]);
    assert.deepEqual(budgetDips(rows, 0.02).map((x) => x.kind), ['mask'], 'a tolerance leaves the small dip out');
    const md = summaryMarkdown(rows, { peakRssMiB: 1, seconds: 1 });
    assert.match(md, /### More key slices, lower mean Dice[^]*\| d \| mask \| m \| k=2 → k=3 \| -0\.050 \| 0\.100 \| 1 \/ 1 \| – \| 2 \|/);
    assert.match(md, /\| d \| box \| m \| k=2 → k=5 \| -0\.010 \| – \| 1 \/ 0 \| – \| 1 \|/);
    // Where the rows record the share of the truth the key slices hold, the table gives it at both budgets.
    const held = (budget: number, dice: number, heldShare: number): BenchRow => ({ ...row('mask', 'fixed', budget, 1, dice), keyObjects: { touched: 2, heldShare, ends: [] } });
    const [placed] = budgetDips([held(2, 0.3, 0.25), held(3, 0.28, 0.2)]);
    assert.deepEqual(placed.heldShare, [0.25, 0.2]);
    assert.match(summaryMarkdown([held(2, 0.3, 0.25), held(3, 0.28, 0.2)], { peakRssMiB: 1, seconds: 1 }), /\| -0\.020 \| – \| 1 \/ 0 \| 0\.250 → 0\.200 \| 1 \|/);
    assert.match(summaryMarkdown(rows.filter((r) => r.kind === 'box' && r.placement === 'nested'), { peakRssMiB: 1, seconds: 1 }), /None: every protocol's mean Dice rose/);
  });
  it('gives the end error per dataset at k >= 2, on the label and on the objects the key slices hold', () => {
    const row = (budget: number, predExtent: [number, number] | null, ends?: [number, number][], touched = 0, heldShare?: number): BenchRow => ({
      dataset: 'lesions', case: 'c', label: 1, kind: 'mask', placement: 'fixed', budget, method: 'm', keySlices: [3],
      truthExtent: [0, 40], predExtent, dice: 0.5, diceNonKey: 0.5, diceKey: 1, nsd2mm: 0.5, hd95: 1, seconds: 1,
      cpuSeconds: 1, rssMiB: 1, engineCalls: null, callsSaved: null,
      ...(ends ? { keyObjects: { touched, ends, ...(heldShare !== undefined ? { heldShare } : {}) } } : {}),
    });
    const rows = [
      row(1, [20, 22], [[9, 9]], 1, 0.2),
      // Lesions no key slice holds lie at slices 0 and 40: the label's end error counts them.
      row(2, [10, 30], [[1, 0], [0, 1]], 3, 0.5),
      row(3, [2, 38], [[2, 2]], 1, 1),
      row(5, null, [], 2),
    ];
    const [c] = endErrorByDataset(rows);
    assert.deepEqual([c.dataset, c.method, c.rows], ['lesions', 'm', 3], 'k = 1 left out');
    assert.equal(c.endError, (10 + 10 + 2 + 2) / 4, 'an empty prediction has no end');
    assert.equal(c.keyObjectEndError, (1 + 0 + 0 + 1 + 2 + 2) / 6);
    assert.deepEqual([c.keyObjectsFound, c.keyObjectsHeld], [3, 6]);
    assert.equal(endErrorByDataset(rows, 1)[0].rows, 4);
    const md = summaryMarkdown(rows, { peakRssMiB: 1, seconds: 1 });
    assert.match(md, /### End error per dataset at k >= 2[^]*\| lesions \| m \| 3 \| 6\.00 \| 1\.00 \| 3\/6 \|/);
    assert.match(md, /### End error on the objects the key slices hold/, 'the table by kind and budget stays');
    // The share of the truth the key slices hold, where below 100 %; a row without it (older results) shows none.
    assert.match(md, /\| lesions \| mask \| m \| 9\.00 \(1\/1; 20 % of the truth\) \| 0\.50 \(2\/3; 50 % of the truth\) \| 2\.00 \(1\/1\) \| – \(0\/2\) \|/);
  });
});
