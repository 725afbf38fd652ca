import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nestedKeySlices, selectKeySlices, simulateClicks, simulateLabel, tightBox } from '../src/simulate/annotator.js';
import { SliceGeometry } from '../src/volume/volume.js';

describe('simulated annotator', () => {
  it('k = 1 takes the slice of largest area, lowest index on ties', () => {
    assert.deepEqual(selectKeySlices([0, 3, 7, 7, 2, 0], 1), [2]);
  });

  it('k >= 2 spreads slices over the extent without giving its ends', () => {
    // extent 2..11 (10 slices)
    const areas = [0, 0, 1, 2, 3, 4, 5, 5, 4, 3, 2, 1, 0];
    assert.deepEqual(selectKeySlices(areas, 2), [4, 9]); // floor(2 + 2.5) = 4, floor(2 + 7.5) = 9
    assert.deepEqual(selectKeySlices(areas, 3), [3, 7, 10]); // 2 + 1.67, 2 + 5, 2 + 8.33
    assert.deepEqual(selectKeySlices(areas, 5), [3, 5, 7, 9, 11]);
  });

  it('drops duplicate slices for short objects and returns nothing for absent ones', () => {
    assert.deepEqual(selectKeySlices([0, 4, 4, 0], 5), [1, 2]);
    assert.deepEqual(selectKeySlices([0, 0], 3), []);
    assert.throws(() => selectKeySlices([1], 0), /budget/);
  });

  it('nested key slices: each budget adds to the smaller one, spread over the extent, ends not given', () => {
    // extent 5..45 (41 slices), largest area on slice 20
    const areas = Array.from({ length: 50 }, (_, z) => (z >= 5 && z <= 45 ? 100 - Math.abs(z - 20) : 0));
    assert.deepEqual(nestedKeySlices(areas, 1), [20]);
    let last: number[] = [];
    for (let k = 1; k <= 8; k++) {
      const keys = nestedKeySlices(areas, k);
      assert.equal(keys.length, k);
      assert.deepEqual([...keys].sort((a, b) => a - b), keys, 'sorted');
      for (const z of last) assert.ok(keys.includes(z), `k = ${k} keeps slice ${z} of k = ${k - 1}`);
      for (const z of keys) assert.ok(z > 5 && z < 45, `k = ${k}: slice ${z} inside the extent, not on its ends`);
      last = keys;
    }
    // The second slice goes to the longer side (21..45), about a third of the way from its end; the third to the other side.
    assert.deepEqual(nestedKeySlices(areas, 2), [20, 37]);
    assert.deepEqual(nestedKeySlices(areas, 3), [10, 20, 37]);
    // No slice lies further than a fixed spread's from its nearest key slice, ends counted twice.
    const worst = (keys: number[]) => Math.max(...areas.map((a, z) => (a > 0 ? Math.min(2 * Math.min(z - 4.5, 45.5 - z), ...keys.map((k) => Math.abs(z - k))) : 0)));
    for (const k of [3, 5]) assert.ok(worst(nestedKeySlices(areas, k)) <= 1.5 * worst(selectKeySlices(areas, k)), `k = ${k}`);
    assert.deepEqual(nestedKeySlices([0, 4, 4, 0], 5), [1, 2]);
    assert.deepEqual(nestedKeySlices([0, 0], 3), []);
    assert.throws(() => nestedKeySlices([1], 0), /budget/);
  });

  it('draws masks or tight boxes, and "empty" where the object is absent', () => {
    const size: [number, number, number] = [5, 4, 3];
    const truth = new Uint8Array(60);
    truth[1 + 5 * 1 + 20 * 1] = 2;
    truth[3 + 5 * 2 + 20 * 1] = 2;
    const sg = new SliceGeometry({ size, spacing: [1, 1, 1] }, 2);
    const boxes = simulateLabel(truth, sg, 2, [0, 1], 'box');
    assert.equal(boxes.keySlices[0].empty, true);
    assert.deepEqual(boxes.keySlices[1].box, [1, 1, 3, 2]);
    const masks = simulateLabel(truth, sg, 2, [1], 'mask');
    assert.equal(masks.keySlices[0].mask?.reduce((a, b) => a + b, 0), 2);
    assert.equal(tightBox(new Uint8Array(4), 2, 2), null);
  });

  it('clicks: positives spread over the mask from its deepest point, one negative where the outside looks like the object', () => {
    // A 9 x 5 rectangle at u 2..10, v 2..6 on a 14 x 10 slice; outside it is dark except one bright pixel
    // two pixels right of the border, which the negative click must find.
    const nu = 14;
    const nv = 10;
    const mask = new Uint8Array(nu * nv);
    const image = new Float32Array(nu * nv);
    for (let v = 2; v <= 6; v++) for (let u = 2; u <= 10; u++) {
      mask[u + nu * v] = 1;
      image[u + nu * v] = 100;
    }
    image[12 + nu * 4] = 900;
    const g = { nu, nv, du: 1, dv: 1 };
    const { points, negativePoints } = simulateClicks(mask, image, g);
    assert.equal(points.length, 3);
    // The first click on the rectangle's mid row (deepest), the next two apart from it, all inside.
    assert.equal(points[0][1], 4);
    for (const [u, v] of points) assert.equal(mask[u + nu * v], 1);
    for (let a = 0; a < 3; a++) for (let b = a + 1; b < 3; b++) assert.ok(Math.hypot(points[a][0] - points[b][0], points[a][1] - points[b][1]) >= 2);
    assert.equal(negativePoints.length, 1);
    const [nu0, nv0] = negativePoints[0];
    assert.equal(mask[nu0 + nu * nv0], 0);
    // 3 x 3 means: the pixels around the bright one are closest to the object's 100.
    assert.ok(Math.abs(nu0 - 12) <= 1 && Math.abs(nv0 - 4) <= 1, `negative click at ${nu0},${nv0}`);
    // Deterministic, and fewer positives when the mask has no room for them.
    assert.deepEqual(simulateClicks(mask, image, g), { points, negativePoints });
    const one = new Uint8Array(nu * nv);
    one[5 + nu * 5] = 1;
    assert.equal(simulateClicks(one, image, g).points.length, 1);
  });

  it('simulated points key slices carry the clicks and need the image', () => {
    const size: [number, number, number] = [12, 12, 2];
    const truth = new Uint8Array(288);
    const image = new Float32Array(288);
    for (let v = 3; v <= 8; v++) for (let u = 3; u <= 8; u++) truth[u + 12 * v + 144] = 1;
    const sg = new SliceGeometry({ size, spacing: [1, 1, 1] }, 2);
    const label = simulateLabel(truth, sg, 1, [0, 1], 'points', image);
    assert.equal(label.keySlices[0].empty, true);
    assert.equal(label.keySlices[1].points.length, 3);
    assert.equal(label.keySlices[1].negativePoints.length, 1);
    assert.equal(label.keySlices[1].box, undefined);
    assert.throws(() => simulateLabel(truth, sg, 1, [1], 'points'), /image/);
  });
});
