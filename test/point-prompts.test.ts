import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KeySlice, Point } from '../src/annotations/types.js';
import { ClassicSession, DEFAULT_CLASSIC, singleClickNotes } from '../src/engines/classic/engine.js';
import { clickGroups, pointRegion, sliceNoise } from '../src/engines/classic/point-region.js';
import type { RoiImage } from '../src/propagation/types.js';
import { segment } from '../src/pipeline/segment.js';
import { simulateClicks } from '../src/simulate/annotator.js';
import { dice, makeBlob } from './helpers/volumes.js';

/** A deterministic noisy slice: `value(u, v)` plus uniform noise of +/- `noise`. */
function slice(nu: number, nv: number, noise: number, value: (u: number, v: number) => number): Float32Array {
  let s = 12345;
  const rand = (): number => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
  const out = new Float32Array(nu * nv);
  for (let v = 0; v < nv; v++) for (let u = 0; u < nu; u++) out[u + nu * v] = value(u, v) + noise * rand();
  return out;
}

function maskOf(nu: number, nv: number, inside: (u: number, v: number) => boolean): Uint8Array {
  const m = new Uint8Array(nu * nv);
  for (let v = 0; v < nv; v++) for (let u = 0; u < nu; u++) m[u + nu * v] = inside(u, v) ? 1 : 0;
  return m;
}

function roi(image: Float32Array, nu: number, nv: number, d = 0.8): RoiImage {
  return { nu, nv, count: 1, du: d, dv: d, dw: 5, raw: () => image, windowed: () => image };
}

const key = (points: Point[], negativePoints: Point[] = [], box?: [number, number, number, number]): KeySlice => ({
  index: 0,
  empty: false,
  points,
  negativePoints,
  ...(box ? { box } : {}),
});

describe('points as a prompt: the region grown from the clicks', () => {
  // An elongated organ (ellipse 45 x 16 px at 0.8 mm: 72 mm long, far beyond any fixed search disc) on darker
  // surroundings, and a neighbour of the same brightness joined to it by a 3-pixel bridge.
  const nu = 128;
  const nv = 64;
  const organ = (u: number, v: number): boolean => ((u - 50) / 45) ** 2 + ((v - 32) / 16) ** 2 <= 1;
  const neighbour = (u: number, v: number): boolean => (u - 112) ** 2 + (v - 32) ** 2 <= 12 ** 2 || (u >= 94 && u <= 101 && Math.abs(v - 32) <= 1);
  const image = slice(nu, nv, 8, (u, v) => (organ(u, v) || neighbour(u, v) ? 120 : 40));
  const truth = maskOf(nu, nv, organ);
  const clicks = simulateClicks(truth, image, { nu, nv, du: 0.8, dv: 0.8 });

  it('grows over the object from the clicks, bounded by its edges and the negative click', () => {
    const r = pointRegion(image, { nu, nv, du: 0.8, dv: 0.8 }, clicks.points, clicks.negativePoints);
    assert.ok(dice(r.region, truth) > 0.85, `Dice ${dice(r.region, truth).toFixed(3)}`);
    for (const [i, j] of clicks.points) assert.equal(r.region[i + nu * j], 1);
    for (const [i, j] of clicks.negativePoints) assert.equal(r.region[i + nu * j], 0);
    assert.ok(Math.abs(r.centre - 120) < 10, `centre ${r.centre}`);
    // The organ's edges stopped the flood, except at the bridge, where the negative click did.
    assert.ok(r.edgeBound > 0.75 && r.edgeBound < 1, `edge-bound share ${r.edgeBound.toFixed(2)}`);
  });

  it('a negative click on the bridged neighbour keeps the flood out of it', () => {
    const near = clicks.points.slice(0, 1);
    const without = pointRegion(image, { nu, nv, du: 0.8, dv: 0.8 }, near, [], { reachFactor: 100 });
    const inNeighbour = (m: Uint8Array): number => m.reduce((s, x, i) => s + (x && neighbour(i % nu, Math.floor(i / nu)) ? 1 : 0), 0);
    assert.ok(inNeighbour(without.region) > 100, 'without a negative click the flood crosses the bridge');
    const withNeg = pointRegion(image, { nu, nv, du: 0.8, dv: 0.8 }, near, [[112, 32]], { reachFactor: 100 });
    assert.ok(inNeighbour(withNeg.region) < 20, `${inNeighbour(withNeg.region)} neighbour pixels`);
  });

  it('clicks close together on a small structure in look-alike surroundings keep the flood near them', () => {
    // A disc of radius 4 px a little brighter than surroundings that fill the slice: the clicks' neighbourhoods
    // straddle its border, so the tolerance takes in the surroundings; the clicks' spread still says how small
    // the structure is.
    // The structure's radius: 4 px, and 2 px (the tapering end of a structure, where the clicks lie a pixel apart).
    const n = 64;
    for (const radius of [4, 2]) {
      const small = (u: number, v: number): boolean => (u - 32) ** 2 + (v - 32) ** 2 <= radius ** 2;
      const img = slice(n, n, 6, (u, v) => (small(u, v) ? 112 : 100));
      const truthSmall = maskOf(n, n, small);
      const c = simulateClicks(truthSmall, img, { nu: n, nv: n, du: 1, dv: 1 });
      assert.ok(c.points.length >= 2);
      const r = pointRegion(img, { nu: n, nv: n, du: 1, dv: 1 }, c.points, c.negativePoints);
      const area = r.region.reduce((s, x) => s + x, 0);
      const truthArea = truthSmall.reduce((s, x) => s + x, 0);
      assert.ok(area < 3 * truthArea, `radius ${radius}: region ${area} px for a ${truthArea} px structure (reach ${r.reach.toFixed(1)} mm)`);
      assert.ok(dice(r.region, truthSmall) > 0.5, `radius ${radius}: Dice ${dice(r.region, truthSmall).toFixed(3)}`);
      assert.ok(r.edgeBound < 0.9, `radius ${radius}: the reach, not the image, bounded the flood (${r.edgeBound.toFixed(2)})`);
    }
  });

  it('clicks on lesions narrower than the sampling radius read the lesions, not the tissue around them', () => {
    // Two bright lesions of 2 x 2 px, 30 px apart, in tissue that fills the slice: each click's neighbourhood is
    // mostly tissue, whose intensity the flood would otherwise take for the object's over the clicks' wide spread.
    const n = 64;
    const lesion = (u: number, v: number): boolean => (u >= 16 && u <= 17 && v >= 30 && v <= 31) || (u >= 46 && u <= 47 && v >= 30 && v <= 31);
    const img = slice(n, n, 3, (u, v) => (lesion(u, v) ? 160 : 100));
    const truthLesions = maskOf(n, n, lesion);
    const r = pointRegion(img, { nu: n, nv: n, du: 1, dv: 1 }, [[16, 30], [47, 31]], []);
    const area = r.region.reduce((s, x) => s + x, 0);
    assert.ok(Math.abs(r.centre - 160) < 20, `centre ${r.centre.toFixed(1)}`);
    assert.ok(area <= 3 * 8, `region ${area} px for 8 lesion pixels`);
    assert.ok(dice(r.region, truthLesions) > 0.6, `Dice ${dice(r.region, truthLesions).toFixed(3)}`);
  });

  it('clicks on lesions apart, each in look-alike tissue, are flooded lesion by lesion, not over the distance between them', () => {
    // Two faint lesions (3 x 3 and 2 x 2 px, 6 above the tissue around them, noise +/- 3), each in a patch of that
    // tissue (radius 9 px) on darker surroundings, 29 px apart: two clicks on one, one on the other. Taken as one
    // object, the clicks' spread would let the flood fill both patches.
    const n = 64;
    const lesion = (u: number, v: number): boolean => (u >= 16 && u <= 18 && v >= 30 && v <= 32) || (u >= 46 && u <= 47 && v >= 30 && v <= 31);
    const patch = (u: number, v: number): boolean => (u - 17) ** 2 + (v - 31) ** 2 <= 81 || (u - 46) ** 2 + (v - 30) ** 2 <= 81;
    const img = slice(n, n, 3, (u, v) => (lesion(u, v) ? 106 : patch(u, v) ? 100 : 70));
    const truthLesions = maskOf(n, n, lesion);
    const clicks: Point[] = [[17, 31], [18, 31], [46, 30]];
    const r = pointRegion(img, { nu: n, nv: n, du: 1, dv: 1 }, clicks, []);
    const area = r.region.reduce((s, x) => s + x, 0);
    for (const [i, j] of clicks) assert.equal(r.region[i + n * j], 1);
    assert.ok(area <= 3 * 13, `region ${area} px for 13 lesion pixels (reach ${r.reach.toFixed(1)} mm)`);
    assert.ok(dice(r.region, truthLesions) > 0.5, `Dice ${dice(r.region, truthLesions).toFixed(3)}`);
  });

  it('a lone click on a second piece of an organ clicked twice elsewhere reaches over that piece', () => {
    // One organ in two pieces on this slice (a dark cleft between them): two clicks on the larger piece, one on the
    // smaller (radius 9 px). The lone click is scaled by its own depth, up to the other clicks' spread.
    const n = 96;
    const big = (u: number, v: number): boolean => ((u - 30) / 20) ** 2 + ((v - 48) / 14) ** 2 <= 1;
    const small = (u: number, v: number): boolean => (u - 70) ** 2 + (v - 48) ** 2 <= 81;
    const img = slice(n, n, 6, (u, v) => (big(u, v) || small(u, v) ? 120 : 40));
    const r = pointRegion(img, { nu: n, nv: n, du: 1, dv: 1 }, [[22, 48], [38, 48], [70, 48]], []);
    const truthSmall = maskOf(n, n, small);
    const covered = r.region.reduce((a, x, i) => a + (x && truthSmall[i] ? 1 : 0), 0);
    const smallArea = truthSmall.reduce((a, x) => a + x, 0);
    assert.ok(covered >= 0.8 * smallArea, `${covered} of the small piece's ${smallArea} px`);
    assert.ok(dice(r.region, maskOf(n, n, (u, v) => big(u, v) || small(u, v))) > 0.8);
  });

  it("reads the slice's noise on the tissue, not on the constant fill around it", () => {
    // A skull-stripped slice: 70 % zeros around a disc of tissue with noise of +/- 8 (a standard deviation of
    // about 4.6). The fill's zero differences would make the median difference, and the noise, 0.
    const n = 96;
    const tissue = (u: number, v: number): boolean => (u - 48) ** 2 + (v - 48) ** 2 <= 30 ** 2;
    const noisy = slice(n, n, 8, () => 100);
    const stripped = Float32Array.from(noisy, (x, i) => (tissue(i % n, Math.floor(i / n)) ? x : 0));
    const onTissue = sliceNoise(noisy, n, n);
    assert.ok(onTissue > 3 && onTissue < 7, `noise ${onTissue.toFixed(2)}`);
    assert.ok(Math.abs(sliceNoise(stripped, n, n) - onTissue) < 0.15 * onTissue, `${sliceNoise(stripped, n, n).toFixed(2)} against ${onTissue.toFixed(2)}`);
    assert.equal(sliceNoise(new Float32Array(n * n), n, n), 0);
  });

  it('groups clicks by the structures they lie on', () => {
    // Two bright discs apart on a dark slice, and a bright bar joining two clicks along a detour.
    const n = 48;
    const passable = maskOf(n, n, (u, v) => (u - 12) ** 2 + (v - 12) ** 2 <= 36 || (u - 36) ** 2 + (v - 12) ** 2 <= 36 || (v >= 30 && v <= 32) || (u >= 4 && u <= 6 && v >= 20) || (u >= 42 && u <= 44 && v >= 20));
    const g = { nu: n, nv: n, du: 1, dv: 1 };
    const key = (groups: Point[][]) => groups.map((x) => x.map(([i, j]) => `${i},${j}`).join(' '));
    assert.deepEqual(key(clickGroups(passable, g, [[10, 12], [14, 12], [36, 12]], 1)), ['10,12 14,12', '36,12']);
    // Joined only by the U-shaped detour (about 3 times the straight line): apart.
    assert.deepEqual(key(clickGroups(passable, g, [[5, 22], [43, 22]], 1)), ['5,22', '43,22']);
    // Along the bar: one structure, whatever the clicks' order.
    assert.deepEqual(key(clickGroups(passable, g, [[30, 31], [10, 31], [20, 31]], 1)), ['30,31 10,31 20,31']);
  });

  it('where the edges bounded the flood, the cut draws the border across the rim the flood stopped short of', async () => {
    // The organ with a soft border: the intensity falls from the organ's to the surroundings' over 5 pixels, the
    // truth's border in the middle of that rim. The flood from the clicks stops inside it.
    const soft = slice(nu, nv, 4, (u, v) => {
      const d = 16 * (Math.hypot((u - 64) / 45, (v - 32) / 16) - 1);
      return 120 - 80 * Math.min(1, Math.max(0, (d + 2.5) / 5));
    });
    const truthSoft = maskOf(nu, nv, (u, v) => Math.hypot((u - 64) / 45, (v - 32) / 16) <= 1);
    const c = simulateClicks(truthSoft, soft, { nu, nv, du: 1, dv: 1 });
    const grown = pointRegion(soft, { nu, nv, du: 1, dv: 1 }, c.points, c.negativePoints);
    assert.ok(grown.edgeBound >= 0.9, `edge-bound flood (${grown.edgeBound.toFixed(2)})`);
    const cut = async (o: typeof DEFAULT_CLASSIC) => (await new ClassicSession(roi(soft, nu, nv, 1), o).segmentSlice(key(c.points, c.negativePoints))).mask;
    const wide = await cut(DEFAULT_CLASSIC);
    const narrow = await cut({ ...DEFAULT_CLASSIC, edgeBoundMargin: DEFAULT_CLASSIC.pointMargin });
    const area = (m: Uint8Array) => m.reduce((a, x) => a + x, 0);
    assert.ok(area(grown.region) < area(narrow) && area(narrow) < area(wide) && area(wide) <= area(truthSoft), `areas: flood ${area(grown.region)}, cut ${area(narrow)} -> ${area(wide)}, truth ${area(truthSoft)}`);
    assert.ok(dice(wide, truthSoft) > dice(narrow, truthSoft), `Dice ${dice(narrow, truthSoft).toFixed(3)} -> ${dice(wide, truthSoft).toFixed(3)}`);
  });

  it('the classic engine segments the organ from the simulated clicks', async () => {
    const s = new ClassicSession(roi(image, nu, nv), DEFAULT_CLASSIC);
    const r = await s.segmentSlice(key(clicks.points, clicks.negativePoints));
    assert.ok(dice(r.mask, truth) > 0.9, `Dice ${dice(r.mask, truth).toFixed(3)}`);
  });

  it('more clicks never lose one: every positive click is in the result, every negative one out', async () => {
    const s = new ClassicSession(roi(image, nu, nv), DEFAULT_CLASSIC);
    const pts: Point[] = [[20, 32], [50, 32], [80, 32], [50, 22], [50, 42]];
    let last = 0;
    for (let n = 1; n <= pts.length; n++) {
      const r = await s.segmentSlice(key(pts.slice(0, n), [[112, 32]]));
      for (const [i, j] of pts.slice(0, n)) assert.equal(r.mask[i + nu * j], 1, `click ${i},${j} of ${n}`);
      assert.equal(r.mask[112 + nu * 32], 0);
      const d = dice(r.mask, truth);
      assert.ok(d >= last - 0.02, `${n} clicks: Dice ${d.toFixed(3)} after ${last.toFixed(3)}`);
      last = Math.max(last, d);
    }
  });

  it('with a box, clicks refine its cut: a clicked piece in the box stays', async () => {
    // Two bright discs in one box; the box's cut alone keeps the pieces that span it, a click keeps the other.
    const a = (u: number, v: number): boolean => (u - 30) ** 2 + (v - 30) ** 2 <= 14 ** 2;
    const b = (u: number, v: number): boolean => (u - 52) ** 2 + (v - 48) ** 2 <= 4 ** 2;
    const img = slice(72, 72, 6, (u, v) => (a(u, v) || b(u, v) ? 120 : 40));
    const s = new ClassicSession(roi(img, 72, 72), DEFAULT_CLASSIC);
    const plain = await s.segmentSlice(key([], [], [16, 16, 56, 52]));
    const clicked = await s.segmentSlice(key([[52, 48]], [], [16, 16, 56, 52]));
    assert.equal(clicked.mask[52 + 72 * 48], 1);
    assert.ok(clicked.mask[30 + 72 * 30] === 1, 'the large disc stays');
    assert.ok(plain.mask.reduce((x, y) => x + y, 0) > 0);
  });
});

describe('a single click is noted in the report', () => {
  const ks = (index: number, over: Partial<KeySlice>): KeySlice => ({ index, empty: false, points: [], negativePoints: [], ...over });
  it('the classic engine names the key slices with one click and nothing else', () => {
    const label = {
      value: 1,
      keySlices: [
        ks(3, { points: [[10, 10]] }),
        ks(5, { points: [[10, 10], [12, 12], [14, 10]] }),
        ks(7, { points: [[10, 10]], box: [5, 5, 15, 15] }),
        ks(9, { points: [[10, 10]], negativePoints: [[20, 20]] }),
        ks(11, { mask: new Uint8Array(4) }),
        ks(13, { empty: true }),
      ],
    };
    const notes = singleClickNotes(label);
    assert.equal(notes.length, 1);
    assert.match(notes[0], /^2 key slice\(s\) with a single click \(slice 3, 9\)/);
    assert.deepEqual(singleClickNotes({ value: 1, keySlices: [ks(5, { points: [[10, 10], [12, 12]] }), ks(7, { box: [5, 5, 15, 15] })] }), []);
  });

  it("segment's report carries the note", async () => {
    const blob = makeBlob({ nx: 48, ny: 48, nz: 9, z0: 1, z1: 7, rmax: 10, noise: 4, dz: 2 });
    const out = await segment(blob.image, { axis: 2, labels: [{ value: 1, keySlices: [ks(4, { points: [[24, 24]] })] }] }, { engine: 'classic' });
    assert.equal(out.report.labels[0].notes.length, 1);
    assert.match(out.report.labels[0].notes[0], /single click \(slice 4\)/);
  });
});
