import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { growthExponent, runScale, scaleGrid } from '../src/bench/scale.js';
import { tempDir } from './helpers/paths.js';

const tmp = tempDir();
after(tmp.cleanup);

describe('scale benchmark', () => {
  it('growth exponent of a power law is its power', () => {
    const xs = [1e5, 1e6, 1e7];
    assert.ok(Math.abs(growthExponent(xs, xs.map((x) => 3 * x ** 1.5)) - 1.5) < 1e-12);
    assert.ok(Math.abs(growthExponent(xs, xs.map(() => 2))) < 1e-12);
    assert.ok(Number.isNaN(growthExponent([5], [1])));
  });

  it('grid: every in-plane size with every slice count', () => {
    assert.deepEqual(scaleGrid([64, 128], [10]), [[64, 64, 10], [128, 128, 10]]);
  });

  it('measures read, write, gzip references and segmentation on small phantoms; writes table, JSON and plot', async () => {
    const out = path.join(tmp.dir, 'scale');
    const res = await runScale({ inPlane: [32], slices: [12, 20], methods: ['keyslice:interp'], out });
    assert.equal(res.rows.length, 2);
    for (const r of res.rows) {
      assert.ok(r.read > 0 && r.write > 0 && r.gzipDc > 0 && r.gzip1 > 0);
      assert.ok(r.objectSlices > 2 && r.objectSlices <= r.size[2]);
      const m = r.methods[0];
      assert.equal(m.method, 'keyslice:interp');
      assert.equal(m.keySlices.length, 3);
      assert.ok(m.dice > 0.5, `Dice ${m.dice}`);
      assert.ok(m.peakSegmentMiB > 20 && m.peakMiB >= m.peakSegmentMiB);
    }
    assert.ok(res.rows[1].objectSlices > res.rows[0].objectSlices, 'the organ spans more slices on the finer grid');
    for (const f of res.files) assert.ok(existsSync(f), f);
    assert.match(readFileSync(path.join(out, 'scale.md'), 'utf8'), /\| 32x32x20 \| keyslice:interp \|/);
    assert.match(readFileSync(path.join(out, 'scale.svg'), 'utf8'), /^<svg[^]*<polyline[^]*<\/svg>\n$/);
    assert.deepEqual(readdirSync(out).sort(), ['scale.json', 'scale.md', 'scale.svg'], 'phantom files removed');
  });
});
