import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SliceReport } from '../src/propagation/types.js';
import { simulateLabel } from '../src/simulate/annotator.js';
import { keyObjects, unseenRisk } from '../src/suggest/objects.js';
import { planNextSlices } from '../src/suggest/plan.js';
import { suggestSlices } from '../src/suggest/suggest.js';
import { IDENTITY_DIRECTION, SliceGeometry, type Volume } from '../src/volume/volume.js';

/** A binary stack nu x nv x count with the given boxes [u0, v0, w0, u1, v1, w1] (inclusive) set. */
function stackOf(nu: number, nv: number, count: number, boxes: number[][]): Uint8Array {
  const s = new Uint8Array(nu * nv * count);
  for (const [u0, v0, w0, u1, v1, w1] of boxes) {
    for (let w = w0; w <= w1; w++) for (let v = v0; v <= v1; v++) for (let u = u0; u <= u1; u++) s[u + nu * (v + nv * w)] = 1;
  }
  return s;
}

describe('scattered objects of a label', () => {
  it('counts the separate objects a key slice touches, and calls them scattered only when they lie far apart', () => {
    const one = keyObjects(stackOf(40, 40, 20, [[10, 10, 5, 20, 20, 15]]), 40, 40, 20, [10]);
    assert.deepEqual(one, { count: 1, scattered: false });
    // Two 5-voxel cubes 25 voxels apart: scattered.
    const far = keyObjects(stackOf(40, 40, 20, [[2, 2, 8, 6, 6, 12], [30, 30, 8, 34, 34, 12]]), 40, 40, 20, [10]);
    assert.deepEqual(far, { count: 2, scattered: true });
    // Two 5-voxel cubes side by side with a 2-voxel gap: two objects, not scattered.
    const near = keyObjects(stackOf(40, 40, 20, [[2, 2, 8, 6, 6, 12], [9, 2, 8, 13, 6, 12]]), 40, 40, 20, [10]);
    assert.deepEqual(near, { count: 2, scattered: false });
    // A speck beside an object is not an object.
    const speck = keyObjects(stackOf(40, 40, 20, [[10, 10, 5, 20, 20, 15], [35, 35, 10, 35, 35, 10]]), 40, 40, 20, [10]);
    assert.deepEqual(speck, { count: 1, scattered: false });
    // A U: two parts on the key slice that join on other slices are one object.
    const u = keyObjects(stackOf(40, 40, 20, [[2, 2, 8, 6, 6, 12], [30, 2, 8, 34, 6, 12], [2, 2, 12, 34, 6, 14]]), 40, 40, 20, [9]);
    assert.deepEqual(u, { count: 1, scattered: false });
    // An object no key slice touches does not count.
    const untouched = keyObjects(stackOf(40, 40, 20, [[2, 2, 8, 6, 6, 12], [30, 30, 15, 34, 34, 18]]), 40, 40, 20, [10]);
    assert.deepEqual(untouched, { count: 1, scattered: false });
  });

  it("weighs the unseen objects by each slice's tissue, only for a scattered label", () => {
    assert.equal(unseenRisk({ count: 1, scattered: false }, [0, 10, 10], [5, 5, 5]), undefined);
    const r = unseenRisk({ count: 3, scattered: true }, [0, 10, 30, 0], [0, 50, 100, 25]);
    assert.deepEqual(r, { objects: 3, areas: [0, 10, 20, 5] });
  });

  it('spreads the plan over the tissue for a scattered label, and says why', () => {
    const count = 60;
    // Two lesions around key slice 10; tissue on slices 5..54.
    const slices: SliceReport[] = Array.from({ length: count }, (_, slice) => {
      const area = slice >= 8 && slice <= 12 ? 20 : 0;
      return { slice, area, confidence: slice === 10 ? 1 : 0.8, source: slice === 10 ? 'key' : area > 0 ? 'propagated' : 'none', from: [] };
    });
    const areas = Array.from({ length: count }, (_, w) => (w >= 5 && w <= 54 ? 20 : 0));
    const input = { count, sliceSpacingMm: 1, objectKeys: [10], absentKeys: [], slices, fronts: [] };
    const alone = planNextSlices(input, 1);
    assert.ok(alone[0].slice >= 7 && alone[0].slice <= 13, `one object: near its slices (${alone[0].slice})`);
    const spread = planNextSlices({ ...input, unseen: { objects: 2, areas } }, 3);
    assert.equal(spread[0].reason, 'unexplored');
    assert.ok(spread[0].slice > 25 && spread[0].slice <= 54, `first far from the key slice, inside the tissue: ${spread[0].slice}`);
    assert.match(spread[0].detail, /2 separate objects/);
    for (const s of spread) assert.ok(s.slice >= 5 && s.slice <= 54, `inside the tissue: ${s.slice}`);
    // An "absent" key slice covers its neighbours: the next suggestion moves away from it.
    const [next] = planNextSlices({ ...input, absentKeys: [spread[0].slice], unseen: { objects: 2, areas } }, 1);
    assert.ok(Math.abs(next.slice - spread[0].slice) > 5, `away from the absent slice: ${next.slice}`);
  });
});

/**
 * A brain-like volume 64 x 64 x 40 (1 mm): tissue on every slice, bright lesions (3 x 3 x 4 voxels) at three places
 * along the slice axis; two of them lie on slice 10, far apart in the slice.
 */
function lesionVolume(): { image: Volume<Float32Array>; truth: Uint8Array } {
  const [nx, ny, nz] = [64, 64, 40];
  const data = new Float32Array(nx * ny * nz);
  const truth = new Uint8Array(nx * ny * nz);
  const lesions = [
    [10, 10, 8],
    [50, 50, 8],
    [30, 40, 30],
  ];
  let seed = 3;
  const rnd = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647) - 0.5;
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++) {
        const i = x + nx * (y + ny * z);
        const inTissue = (x - 32) ** 2 + (y - 32) ** 2 <= 30 ** 2;
        const lesion = lesions.some(([lx, ly, lz]) => x >= lx && x < lx + 3 && y >= ly && y < ly + 3 && z >= lz && z < lz + 4);
        data[i] = (lesion ? 200 : inTissue ? 100 : 0) + 4 * rnd();
        truth[i] = lesion ? 1 : 0;
      }
    }
  }
  return { image: { size: [nx, ny, nz], spacing: [1, 1, 1], origin: [0, 0, 0], direction: IDENTITY_DIRECTION, data }, truth };
}

describe('keyslice suggest on a label of scattered lesions', () => {
  it('asks beyond the lesions it knows, where lesions no key slice touches may lie', async () => {
    const { image, truth } = lesionVolume();
    const sg = new SliceGeometry(image, 2);
    const label = simulateLabel(truth, sg, 1, [10], 'mask');
    const r = await suggestSlices(image, 2, { axis: 2, labels: [label] }, { budget: 2 });
    const [first] = r.labels[0].suggestions;
    assert.equal(first.reason, 'unexplored', JSON.stringify(r.labels[0].suggestions));
    assert.ok(first.slice >= 20, `far from the known lesions (slices 8..11): ${first.slice}`);
  });

  it('keeps to the object for a label of one lesion', async () => {
    const { image, truth } = lesionVolume();
    const sg = new SliceGeometry(image, 2);
    const label = simulateLabel(truth, sg, 1, [31], 'mask');
    const r = await suggestSlices(image, 2, { axis: 2, labels: [label] }, { budget: 2 });
    for (const s of r.labels[0].suggestions) assert.notEqual(s.reason, 'unexplored', JSON.stringify(s));
  });
});
