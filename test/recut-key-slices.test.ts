import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KeySlice } from '../src/annotations/types.js';
import { rng } from '../src/demo/phantom.js';
import { ClassicSession, classicEngine, DEFAULT_CLASSIC } from '../src/engines/classic/engine.js';
import { boundingBox2d, countNonZero } from '../src/morphology/binary.js';
import { partsNear } from '../src/propagation/apart.js';
import { keySliceMasks } from '../src/propagation/controller.js';
import type { ObjectSession, RoiImage, SliceResult } from '../src/propagation/types.js';
import { segment } from '../src/pipeline/segment.js';
import { openSession } from '../src/session/session.js';
import type { SliceUpdate } from '../src/session/types.js';
import { IDENTITY_DIRECTION, SliceGeometry, type Volume } from '../src/volume/volume.js';

const nu = 40;
const nv = 30;
const g = { nu, nv, du: 1, dv: 1 };

/** A mask of `nu x nv` with the given rectangles [u0, v0, u1, v1] (inclusive) set. */
function rects(...rs: [number, number, number, number][]): Uint8Array {
  const m = new Uint8Array(nu * nv);
  for (const [u0, v0, u1, v1] of rs) for (let v = v0; v <= v1; v++) for (let u = u0; u <= u1; u++) m[u + nu * v] = 1;
  return m;
}

const key = (index: number, extra: Partial<KeySlice>): KeySlice => ({ index, empty: false, points: [], negativePoints: [], ...extra });

/** Noise of sd about 8 (a sum of six uniforms), seeded. */
function noiseOf(seed: number): () => number {
  const rand = rng(seed);
  return () => {
    let x = 0;
    for (let i = 0; i < 6; i++) x += rand();
    return (x - 3) * 1.41 * 8;
  };
}

/**
 * A thin diagonal band (the object, 100; where `present`) on an n x n slice, moved `shift` pixels along u, in a
 * box that is mostly surroundings: above the band a tissue of 75 found only near the box, below it and outside 50.
 */
function bandSlice(n: number, shift: number, present: boolean, noise: () => number): { truth: Uint8Array; above: Uint8Array; values: Float32Array } {
  const truth = new Uint8Array(n * n);
  const above = new Uint8Array(n * n);
  const values = new Float32Array(n * n);
  for (let v = 0; v < n; v++) {
    for (let u = 0; u < n; u++) {
      const i = u + n * v;
      const x = u - shift;
      const t = Math.max(0, Math.min(1, (x + v - 32) / 56));
      truth[i] = present && Math.hypot(x - 16 - 28 * t, v - 16 - 28 * t) <= 2.5 ? 1 : 0;
      above[i] = !truth[i] && v < x && Math.min(x, v) >= 12 && Math.max(x, v) <= 48 ? 1 : 0;
      values[i] = (truth[i] ? 100 : above[i] ? 75 : 50) + noise();
    }
  }
  return { truth, above, values };
}

describe('key slices with boxes cut again with the other key slices', () => {
  it('partsNear keeps the parts of a mask beside the given region and drops those apart from it', () => {
    const box = rects([5, 5, 12, 12]);
    const near = rects([6, 14, 10, 17]);
    const far = rects([32, 20, 36, 26]);
    const both = rects([6, 14, 10, 17], [32, 20, 36, 26]);
    assert.deepEqual(partsNear(box, g)(both), near);
    assert.equal(partsNear(box, g)(far), null);
    assert.deepEqual(partsNear(box, g)(rects([5, 5, 12, 12])), box, 'a mask on the region itself is near');
  });

  it("passes each box the near parts of the other key slices' masks, once every key slice has its first cut, and keeps the recut", async () => {
    const calls: { index: number; others: { index: number; mask: Uint8Array }[]; first: SliceResult }[] = [];
    const cut = rects([7, 7, 10, 10]);
    const recut = rects([6, 6, 11, 11]);
    const session: ObjectSession = {
      segmentSlice: async (k) => ({ mask: k.box ? cut : rects([20, 20, 22, 22]), confidence: 0.5 }),
      recutKeySlice: async (k, others, first) => {
        calls.push({ index: k.index, others: others.map((o) => ({ index: o.index, mask: o.mask })), first });
        return { mask: recut, confidence: 0.6 };
      },
      propagate: async () => ({ mask: new Uint8Array(nu * nv), confidence: 0 }),
    };
    const drawn = rects([6, 14, 10, 17], [32, 20, 36, 26]);
    const keys = [key(2, { box: [5, 5, 12, 12] }), key(5, { mask: drawn }), key(8, { points: [[21, 21]] }), key(9, { empty: true })];
    const { masks, confidence, engineCalls } = await keySliceMasks(session, keys, g);
    assert.equal(calls.length, 1, 'only the key slice with a box is cut again');
    assert.equal(calls[0].index, 2);
    assert.deepEqual(
      calls[0].others.map((o) => o.index),
      [5],
      "the points key slice's cut lies apart from the box; the box's own slice is not among the others",
    );
    assert.deepEqual(calls[0].others[0].mask, rects([6, 14, 10, 17]), 'the far lesion of the drawn mask is left out');
    assert.equal(calls[0].first.confidence, 0.5);
    assert.deepEqual(masks.get(2), recut);
    assert.equal(confidence.get(2), 0.6);
    assert.deepEqual(masks.get(5), drawn, 'a drawn mask is kept as drawn');
    assert.equal(engineCalls, 3, 'two first cuts and one recut');
  });

  it('an engine that answers null keeps the first cut', async () => {
    const cut = rects([7, 7, 10, 10]);
    const session: ObjectSession = {
      segmentSlice: async () => ({ mask: cut, confidence: 0.9 }),
      recutKeySlice: async () => null,
      propagate: async () => ({ mask: new Uint8Array(nu * nv), confidence: 0 }),
    };
    const keys = [key(2, { box: [5, 5, 12, 12] }), key(5, { mask: rects([6, 6, 11, 11]) })];
    const { masks, engineCalls } = await keySliceMasks(session, keys, g);
    assert.deepEqual(masks.get(2), cut);
    assert.equal(engineCalls, 1);
  });
});

describe('classic engine: recutting a box with the object values of other key slices', () => {
  // The box of a thin band (see `bandSlice`) alone leaves the cut in doubt between the band and the band with the
  // tissue above it.
  const n = 64;
  const { truth, above, values: slice } = bandSlice(n, 0, true, noiseOf(7));
  const raw = () => slice;
  const img: RoiImage = { nu: n, nv: n, count: 16, du: 1, dv: 1, dw: 3, raw, windowed: raw };
  const at = 8;
  const boxKey = key(at, { box: boundingBox2d(truth, n, n) as [number, number, number, number] });
  const dice = (a: Uint8Array) => {
    let both = 0;
    for (let i = 0; i < a.length; i++) if (a[i] && truth[i]) both++;
    return (2 * both) / (countNonZero(a) + countNonZero(truth));
  };

  it('leaves a confident cut, a key slice without a box, or no others alone', async () => {
    const s = new ClassicSession(img, DEFAULT_CLASSIC);
    const others = [{ index: 6, mask: truth }];
    assert.equal(await s.recutKeySlice(boxKey, others, { mask: truth, confidence: DEFAULT_CLASSIC.recutBelow }), null);
    assert.equal(await s.recutKeySlice(key(at, { points: [[30, 30]] }), others, { mask: truth, confidence: 0 }), null);
    assert.equal(await s.recutKeySlice(boxKey, [], { mask: truth, confidence: 0 }), null);
  });

  it("the object's values from other slices take the cut off the surroundings the box holds; the surroundings' values keep it there", async () => {
    const s = new ClassicSession(img, DEFAULT_CLASSIC);
    const first = await s.segmentSlice(boxKey);
    const low = { ...first, confidence: 0 };
    const object = await s.recutKeySlice(boxKey, [6, 10].map((index) => ({ index, mask: truth })), low);
    const wrong = await s.recutKeySlice(boxKey, [6, 10].map((index) => ({ index, mask: above })), low);
    assert.ok(object && wrong, 'recut');
    assert.ok(dice(first.mask) < 0.7, `the box alone takes the tissue above the band too: Dice ${dice(first.mask).toFixed(3)}`);
    assert.ok(dice(object.mask) > 0.9, `with the object's values: Dice ${dice(object.mask).toFixed(3)}`);
    assert.ok(dice(wrong.mask) < 0.7, `with the surroundings' values: Dice ${dice(wrong.mask).toFixed(3)}`);
  });
});

describe('a session with box key slices cut again', () => {
  // The band of the engine test on every slice, moving by a pixel every other slice, with its look-alike tissue.
  const n = 64;
  const nz = 14;
  const noise = noiseOf(11);
  const data = new Float32Array(n * n * nz);
  const truth = new Uint8Array(n * n * nz);
  for (let z = 0; z < nz; z++) {
    const b = bandSlice(n, Math.floor(z / 2), z >= 2 && z <= 11, noise);
    data.set(b.values, n * n * z);
    truth.set(b.truth, n * n * z);
  }
  const image: Volume<Float32Array> = { size: [n, n, nz], spacing: [1, 1, 1], origin: [0, 0, 0], direction: IDENTITY_DIRECTION, data };
  const sg = new SliceGeometry(image, 2);
  const boxOf = (w: number) => boundingBox2d(sg.maskOf(truth, w, 1) as Uint8Array, n, n) as [number, number, number, number];
  const drain = async (it: AsyncIterable<SliceUpdate>) => {
    for await (const u of it) void u;
  };
  const keyAt = async (labels: { data: ArrayLike<number> }, w: number) => Uint8Array.from(sg.extract(labels.data, w, new Uint8Array(sg.area)));

  // The box alone cuts the band with the tissue above it and is sure of it (confidence about 0.9): the default
  // cuts it again all the same.
  const engine = classicEngine();

  for (const reuse of ['exact', 'fronts'] as const) {
    it(`a box's cut follows the other key slices, and the session equals segment() after each edit (${reuse} reuse)`, async () => {
      const s = await openSession(image, { engine, reuse });
      await s.setKeySlice(1, 4, { box: boxOf(4) });
      await drain(s.propagate());
      const alone = await keyAt(await s.labels(), 4);
      await s.setKeySlice(1, 9, { mask: sg.maskOf(truth, 9, 1) as Uint8Array });
      await drain(s.propagate());
      const withMask = await keyAt(await s.labels(), 4);
      const truth4 = sg.maskOf(truth, 4, 1) as Uint8Array;
      const d = (m: Uint8Array) => {
        let both = 0;
        for (let i = 0; i < m.length; i++) if (m[i] && truth4[i]) both++;
        return (2 * both) / (countNonZero(m) + countNonZero(truth4));
      };
      assert.ok(d(withMask) > d(alone) + 0.05, `slice 4's cut with the drawn slice 9: Dice ${d(withMask).toFixed(3)} against ${d(alone).toFixed(3)} alone`);
      const scratch = async (keys: KeySlice[]) => (await segment(image, { axis: 2, labels: [{ value: 1, keySlices: keys }] }, { engine })).labels.data;
      const box4 = key(4, { box: boxOf(4) });
      assert.deepEqual((await s.labels()).data, await scratch([box4, key(9, { mask: sg.maskOf(truth, 9, 1) as Uint8Array })]));
      // The drawn slice replaced by a box: slice 4 is cut again with the new cut of slice 9.
      await s.setKeySlice(1, 9, { box: boxOf(9) });
      await drain(s.propagate());
      assert.deepEqual((await s.labels()).data, await scratch([box4, key(9, { box: boxOf(9) })]));
      assert.ok(await s.undo());
      await drain(s.propagate());
      assert.deepEqual(await keyAt(await s.labels(), 4), withMask, 'undo brings back the cut made with the drawn slice');
      await s.close();
    });
  }
});
