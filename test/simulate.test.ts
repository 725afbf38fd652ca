import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { selectKeySlices, simulateLabel, tightBox } from '../src/simulate/annotator.js';
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
});
