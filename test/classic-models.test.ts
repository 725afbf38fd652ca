import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { borrowedPartner, frontModels, keptFrontModels, partnerKey, partnerWeight, type KeySamples } from '../src/engines/classic/front-models.js';

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

  it('borrows only what the own key slice lacks, never more than all of it', () => {
    assert.equal(partnerWeight(700, 500, 640), 0, 'enough samples: none borrowed');
    assert.equal(partnerWeight(640, 500, 640), 0);
    assert.equal(partnerWeight(140, 1000, 640), 0.5);
    assert.equal(partnerWeight(10, 100, 640), 1, 'at most the whole partner');
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
    assert.ok(Math.abs(pooled.fg.total - 640) < 1e-9, 'the object model is filled up to samples per bin x bins');
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
});
