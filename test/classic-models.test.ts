import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { borrowedPartner, frontModels, keptFrontModels, mergeSorted, partnerKey, partnerWeight, sortedSlice, type KeySamples } from '../src/engines/classic/front-models.js';
import { IntensityModel, IntensityRange, posterior, posteriorByBin } from '../src/engines/classic/intensity-model.js';

const samples = (index: number, inside: number[], around: number[]): KeySamples => ({ index, inside, around, slice: [...inside, ...around] });

describe('classic engine: intensity models per front', () => {
  it('a front between key slices borrows from the far end of its gap; an outward front from the key behind it', () => {
    const keys = [4, 10, 17];
    assert.equal(partnerKey({ key: 10, direction: 1, between: true }, keys), 17);
    assert.equal(partnerKey({ key: 10, direction: -1, between: true }, keys), 4);
    assert.equal(partnerKey({ key: 17, direction: 1, between: false }, keys), 10);
    assert.equal(partnerKey({ key: 4, direction: -1, between: false }, keys), 10);
    assert.equal(partnerKey({ key: 4, direction: -1, between: false }, [4]), null, 'a single key slice has no partner');
  });

  it('borrows only what the own key slice lacks, never weighing more than the own samples nor more than all of it', () => {
    assert.equal(partnerWeight(700, 500, 640), 0, 'enough samples: none borrowed');
    assert.equal(partnerWeight(640, 500, 640), 0);
    assert.equal(partnerWeight(400, 1000, 640), 0.24, 'fills the 240 samples lacking');
    assert.equal(partnerWeight(140, 1000, 640), 0.14, 'weighs as much as the own 140 samples, not the 500 lacking');
    assert.equal(partnerWeight(10, 100, 640), 0.1);
    assert.equal(partnerWeight(300, 100, 640), 1, 'at most the whole partner');
    assert.equal(partnerWeight(0, 1280, 640), 0.5, 'no samples of its own: the partner fills the histogram');
    assert.equal(partnerWeight(10, 0, 640), 0);
  });

  it('a front with enough object samples depends on its own key slice alone', () => {
    const bright = Array.from({ length: 800 }, (_, i) => 200 + (i % 7));
    const dark = Array.from({ length: 800 }, (_, i) => 20 + (i % 5));
    const own = samples(3, bright, dark);
    const odd = samples(9, dark, bright); // a partner with the opposite contrast
    const m = frontModels(own, odd, 10);
    assert.equal(m.partner, null);
    assert.ok(m.fg.costOf(203) < m.bg.costOf(203) && m.fg.costOf(22) > m.bg.costOf(22), 'the own contrast alone');
    const few = samples(3, bright.slice(0, 100), dark.slice(0, 100));
    const pooled = frontModels(few, samples(9, bright, dark), 10);
    assert.equal(pooled.partner, 9);
    // The partner a front depends on is known without building its models, and is the one they borrow from.
    assert.equal(borrowedPartner(own, odd, 10), null);
    assert.equal(borrowedPartner(few, samples(9, bright, dark), 10)?.index, 9);
    assert.equal(borrowedPartner(few, samples(9, [], dark), 10), null, 'a partner without object samples lends none');
    assert.ok(Math.abs(pooled.fg.total - 200) < 1e-9, 'the partner weighs as much as the own 100 samples');
    const most = frontModels(samples(3, bright.slice(0, 500), dark), samples(9, bright, dark), 10);
    assert.ok(Math.abs(most.fg.total - 640) < 1e-9, 'the object model is filled up to samples per bin x bins');
  });

  it('models made from the same samples are made once; other samples or settings make their own', () => {
    const bright = Array.from({ length: 100 }, (_, i) => 200 + (i % 7));
    const dark = Array.from({ length: 100 }, (_, i) => 20 + (i % 5));
    const own = samples(3, bright, dark);
    const partner = samples(9, [...bright, ...bright], dark);
    const m = keptFrontModels(own, partner, 10);
    assert.equal(keptFrontModels(own, partner, 10), m, 'the same samples: the same models');
    const fresh = frontModels(own, partner, 10);
    assert.deepEqual([m.partner, m.fg.counts, m.bg.counts, m.fg.range], [fresh.partner, fresh.fg.counts, fresh.bg.counts, fresh.fg.range], 'equal to models made anew');
    assert.notEqual(keptFrontModels(own, null, 10), m, 'no partner: other models');
    assert.equal(keptFrontModels(own, null, 10).partner, null);
    assert.notEqual(keptFrontModels(own, partner, 20), m, 'other settings: other models');
    // Samples equal in value but not the same objects (a new key mask) are made anew.
    assert.notEqual(keptFrontModels(samples(3, bright, dark), partner, 10), m);
  });

  it('the histograms\' range of two key slices comes from their samples sorted once each, as from sorting them together', () => {
    const sorted = (xs: number[]) => Float64Array.from(xs).sort();
    const cases: [number[], number[]][] = [
      [[], []],
      [[3, 1, 2], []],
      [[], [5, -1]],
      [[0, -0, 2, 2, NaN, -7.5], [-0, 0, 2, NaN, 1e-30, -7.5, 4]],
      [Array.from({ length: 300 }, (_, i) => Math.sin(i) * 100), Array.from({ length: 211 }, (_, i) => Math.cos(3 * i) * 90 + 5)],
    ];
    for (const [a, b] of cases) {
      const merged = mergeSorted(sorted(a), sorted(b));
      const together = sorted([...a, ...b]);
      assert.equal(merged.length, together.length);
      // Object.is tells -0 from 0 and matches NaN: the same values in the same order.
      for (let i = 0; i < merged.length; i++) assert.ok(Object.is(merged[i], together[i]), `${merged[i]} vs ${together[i]} at ${i}`);
    }
    const bright = Array.from({ length: 40 }, (_, i) => 200 + (i % 7));
    const own = samples(3, bright, Array.from({ length: 900 }, (_, i) => 20 + ((i * 7) % 31)));
    const partner = samples(9, Array.from({ length: 2000 }, (_, i) => 150 + (i % 90)), Array.from({ length: 500 }, (_, i) => (i * 13) % 60));
    assert.equal(sortedSlice(own), sortedSlice(own), 'sorted once per samples');
    const m = frontModels(own, partner, 10);
    assert.equal(m.partner, 9, 'the partner is borrowed from');
    assert.deepEqual(m.fg.range, IntensityRange.of([...own.slice as number[], ...partner.slice as number[]]), 'the range of both slices together');
    assert.deepEqual(frontModels(own, null, 10).fg.range, IntensityRange.of(own.slice));
  });

  it('the posterior read from a table by bin equals the posterior of each value; models on other ranges give no table', () => {
    const range = new IntensityRange(-50, 250, 64);
    const fg = new IntensityModel(range);
    const bg = new IntensityModel(range);
    for (let i = 0; i < 400; i++) {
      fg.add(100 + 40 * Math.sin(i));
      bg.add(20 + 90 * Math.cos(0.7 * i));
    }
    const table = posteriorByBin(fg, bg);
    assert.ok(table);
    for (let x = -80; x <= 280; x += 0.37) assert.equal(table[range.bin(x)], posterior(fg, bg, x), `value ${x}`);
    assert.equal(posteriorByBin(fg, new IntensityModel(new IntensityRange(-50, 250, 64))), null);
  });

  it("adding another model's counts scaled by w equals adding each of its values with weight w", () => {
    const range = new IntensityRange(-50, 250, 64);
    const values = Array.from({ length: 300 }, (_, i) => 120 + 70 * Math.sin(1.3 * i));
    const base = () => {
      const m = new IntensityModel(range);
      for (let i = 0; i < 200; i++) m.add(40 + 60 * Math.cos(i));
      return m;
    };
    const one = base();
    const scaled = base();
    const other = new IntensityModel(range);
    for (const x of values) {
      one.add(x, 0.37);
      other.add(x);
    }
    scaled.addScaled(other, 0.37);
    assert.ok(Math.abs(scaled.total - one.total) < 1e-9, `totals ${scaled.total} and ${one.total}`);
    const a = one.costs();
    const b = scaled.costs();
    for (let k = 0; k < a.length; k++) assert.ok(Math.abs(a[k] - b[k]) < 1e-5, `bin ${k}: ${a[k]} and ${b[k]}`);
  });
});
