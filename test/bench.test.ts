import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { benchFiles } from '../src/bench/bench-files.js';
import { findDatasets, MANIFEST_NAME } from '../src/bench/manifest.js';
import { getMethod } from '../src/bench/methods.js';
import { makePhantom } from '../src/demo/phantom.js';
import { writeVolume } from '../src/volume/io-node.js';
import { tempDir } from './helpers/paths.js';

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
    assert.match(res.summary, /### End error on the objects the key slices hold[^]*\| phantom \| mask \| mci \| \d+\.\d{2} \(1\/1\) \| \d+\.\d{2} \(1\/1\) \|/);
    assert.match(readFileSync(path.join(out, 'dice-vs-budget.svg'), 'utf8'), /^<svg[^>]*>[\s\S]*<polyline[\s\S]*<\/svg>\n$/);
    for (const r of res.rows) {
      assert.ok(r.dice >= 0 && r.dice <= 1);
      assert.equal(r.keySlices.length, r.budget);
      assert.ok(r.keyObjects && r.keyObjects.touched >= 1 && r.keyObjects.ends.length <= r.keyObjects.touched);
      if (r.budget === 1) assert.equal(r.diceNonKey, 0, `${r.method}: nothing propagates from one key slice`);
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
});
