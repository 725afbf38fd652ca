import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { blockMeans, cropBox, ssim, ssimStride, SSIM_SAMPLES } from '../src/analysis/similarity.js';
import { comparisonBlock } from '../src/propagation/front.js';
import { makePhantom, rng } from '../src/demo/phantom.js';
import { interpolateShapes } from '../src/interpolation/shape.js';
import { boundingBox2d, boundingBox3d, forgetDistances, signedDistance2d } from '../src/morphology/binary.js';
import { postprocessStack, postprocessStackFrom, type PostprocessMemo } from '../src/propagation/postprocess.js';
import { ROI_CACHED_SLICES, roiImage } from '../src/propagation/roi.js';
import { defaultSliceAxis, SliceGeometry } from '../src/volume/volume.js';

/** A filled ellipse (centre cu, cv; semi-axes ru, rv) on an nu x nv slice. */
function ellipse(nu: number, nv: number, cu: number, cv: number, ru: number, rv: number): Uint8Array {
  const m = new Uint8Array(nu * nv);
  for (let v = 0; v < nv; v++) for (let u = 0; u < nu; u++) if (((u - cu) / ru) ** 2 + ((v - cv) / rv) ** 2 <= 1) m[u + nu * v] = 1;
  return m;
}

function crop(src: ArrayLike<number>, nu: number, box: [number, number, number, number]): number[] {
  const out: number[] = [];
  for (let v = box[1]; v <= box[3]; v++) for (let u = box[0]; u <= box[2]; u++) out.push(src[u + nu * v]);
  return out;
}

describe('work in a window, same result', () => {
  it('signed distances of a part of a slice (with its origin) equal those of the whole slice there, to the last bit', () => {
    const nu = 120;
    const nv = 90;
    const mask = ellipse(nu, nv, 60.3, 41.7, 17, 11);
    for (let i = 0; i < 6; i++) mask[70 + i + nu * (20 + 2 * i)] = 1; // a ragged piece too
    const full = signedDistance2d(mask, nu, nv, 0.7, 1.3);
    const box: [number, number, number, number] = [33, 17, 95, 60];
    const part = Uint8Array.from(crop(mask, nu, box));
    const w = box[2] - box[0] + 1;
    const h = box[3] - box[1] + 1;
    forgetDistances();
    const sd = signedDistance2d(part, w, h, 0.7, 1.3, [box[0], box[1]]);
    assert.deepEqual(Array.from(sd), crop(full, nu, box).map((x) => Math.fround(x)));
  });

  it('a mask asked for again in a part of a kept map gets the map computed on that part, to the last bit', () => {
    const nu = 90;
    const nv = 70;
    const r = rng(17);
    const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    let differ = 0;
    for (let t = 0; t < 60; t++) {
      const mask = ellipse(nu, nv, 30 + 30 * r(), 25 + 20 * r(), 3 + 15 * r(), 3 + 12 * r());
      for (let k = 0; k < 5; k++) mask[Math.floor(r() * nu * nv)] = 1;
      const b = boundingBox2d(mask, nu, nv) ?? [0, 0, nu - 1, nv - 1];
      // A larger part A and a part B inside it holding the mask, with margins of 0 to 3 pixels (0: the mask
      // touches B's side, where A may reach beyond it).
      const grow = (m: number[]): [number, number, number, number] => [Math.max(0, b[0] - m[0]), Math.max(0, b[1] - m[1]), Math.min(nu - 1, b[2] + m[2]), Math.min(nv - 1, b[3] + m[3])];
      const mb = [0, 1, 2, 3].map(() => Math.floor(4 * r()));
      const inner = grow(mb);
      const outer = grow(mb.map((x) => x + Math.floor(3 * r())));
      const part = (box: [number, number, number, number]) => ({ m: Uint8Array.from(crop(mask, nu, box)), w: box[2] - box[0] + 1, h: box[3] - box[1] + 1, o: [box[0], box[1]] as [number, number] });
      const A = part(outer);
      const B = part(inner);
      const du = [0.8, 0.7031, 1.1][t % 3];
      forgetDistances();
      const fresh = signedDistance2d(B.m, B.w, B.h, du, 1, B.o);
      forgetDistances();
      const big = signedDistance2d(A.m, A.w, A.h, du, 1, A.o);
      const again = signedDistance2d(B.m, B.w, B.h, du, 1, B.o);
      assert.ok(bits(again).equals(bits(fresh)), `case ${t}`);
      // Where the mask touches B's side and A reaches beyond it, A's values there are not B's: the kept map must
      // not answer (some cases are of that kind).
      if (!bits(again).equals(bits(Float32Array.from(crop(big, A.w, [inner[0] - outer[0], inner[1] - outer[1], inner[2] - outer[0], inner[3] - outer[1]]))))) differ++;
    }
    assert.ok(differ > 0 && differ < 60, `${differ} of 60 parts differ from the larger part`);
  });

  it('shape interpolation in a window around the key masks equals the whole-slice interpolation', () => {
    const nu = 200;
    const nv = 160;
    const r = rng(3);
    // A shape moving across the slice (centroid-aligned), one changing size, scattered pieces, an absent end.
    const moving = [0, 9, 20, 31].map((w, i) => ({ index: w, mask: ellipse(nu, nv, 50 + 9 * i, 60 + 4 * i, 14 + i, 9) }));
    const scattered = (seed: number): Uint8Array => {
      const m = new Uint8Array(nu * nv);
      const q = rng(seed);
      for (let k = 0; k < 6; k++) {
        const e = ellipse(nu, nv, 70 + 40 * q(), 50 + 40 * q(), 2 + 3 * q(), 2 + 3 * q());
        for (let i = 0; i < m.length; i++) m[i] |= e[i];
      }
      return m;
    };
    const cases = [
      moving,
      [
        { index: 2, mask: ellipse(nu, nv, 100, 80, 30, 20) },
        { index: 12, mask: ellipse(nu, nv, 104, 78, 10, 8) },
        { index: 17, mask: null },
      ],
      [
        { index: 0, mask: scattered(1) },
        { index: 7, mask: scattered(2) },
      ],
      // Touching the slice's edge.
      [
        { index: 0, mask: ellipse(nu, nv, 5, 150, 20, 25) },
        { index: 6, mask: ellipse(nu, nv, 12 + r(), 140, 15, 20) },
      ],
    ];
    for (const keys of cases) {
      const count = Math.max(...keys.map((k) => k.index)) + 2;
      const spacing = { du: 0.8, dv: 0.9 };
      const windowed = interpolateShapes({ nu, nv, count }, keys, spacing);
      const whole = interpolateShapes({ nu, nv, count }, keys, spacing, undefined, { inWindow: false });
      assert.ok(windowed.some((x) => x));
      assert.deepEqual(windowed, whole);
      // The slices' distance maps given (as a session keeps them): the window's parts of them, the same result.
      const asked: Uint8Array[] = [];
      const distances = (m: Uint8Array) => (asked.push(m), signedDistance2d(m, nu, nv, spacing.du, spacing.dv));
      assert.deepEqual(interpolateShapes({ nu, nv, count }, keys, spacing, undefined, { distances }), whole);
      assert.ok(asked.length > 0 && asked.every((m) => m.length === nu * nv && keys.some((k) => k.mask === m)), 'asked for the key masks as given');
    }
  });

  it('the 3D box of a mask found run by run equals the box found voxel by voxel, runs across rows and slices included', () => {
    const naive = (m: Uint8Array, nu: number, nv: number, nw: number, margin: number) => {
      const b = [nu, nv, nw, -1, -1, -1];
      for (let i = 0; i < nu * nv * nw; i++) {
        if (!m[i]) continue;
        const c = [i % nu, Math.floor(i / nu) % nv, Math.floor(i / (nu * nv))];
        for (let a = 0; a < 3; a++) [b[a], b[a + 3]] = [Math.min(b[a], c[a]), Math.max(b[a + 3], c[a])];
      }
      if (b[3] < 0) return null;
      const size = [nu, nv, nw];
      return [...b.slice(0, 3).map((x) => Math.max(0, x - margin)), ...b.slice(3).map((x, a) => Math.min(size[a] - 1, x + margin))];
    };
    const next = rng(11);
    for (const [nu, nv, nw] of [[7, 5, 9], [33, 17, 6], [64, 3, 4], [1, 40, 3]]) {
      for (let trial = 0; trial < 40; trial++) {
        // A few random runs (some across rows and slices), in a larger array (the stack is its start).
        const m = new Uint8Array(nu * nv * nw + 5);
        const runs = trial % 10;
        for (let r = 0; r < runs; r++) {
          const start = Math.floor(next() * nu * nv * nw);
          const len = 1 + Math.floor(next() * (trial % 3 === 0 ? 3 * nu : 3));
          for (let i = start; i < Math.min(m.length, start + len); i++) m[i] = 1;
        }
        const margin = trial % 3;
        assert.deepEqual(boundingBox3d(m, nu, nv, nw, margin), naive(m, nu, nv, nw, margin), `${nu}x${nv}x${nw}, trial ${trial}`);
      }
    }
  });

  it('3D clean-up of an object in a large stack equals the clean-up of a stack just around it', () => {
    const [nu, nv, nw] = [30, 26, 12];
    const small = new Uint8Array(nu * nv * nw);
    const r = rng(7);
    for (let w = 1; w < nw - 1; w++) {
      const e = ellipse(nu, nv, 14 + r(), 12 + r(), 9, 7);
      for (let i = 0; i < nu * nv; i++) small[w * nu * nv + i] = e[i] && r() > 0.08 ? 1 : 0;
      if (w >= 8) small[w * nu * nv + 2 + nu * 2] = 1; // a stray piece away from the object
    }
    small[5 * nu * nv + 14 + nu * 12] = 0; // a hole
    const [bu, bv, bw] = [90, 70, 40];
    const [ou, ov, ow] = [37, 21, 9];
    const big = new Uint8Array(bu * bv * bw);
    for (let w = 0; w < nw; w++) for (let v = 0; v < nv; v++) for (let u = 0; u < nu; u++) big[ou + u + bu * (ov + v + bv * (ow + w))] = small[u + nu * (v + nv * w)];
    const ra = postprocessStack(small, nu, nv, nw, new Set([4]));
    const rb = postprocessStack(big, bu, bv, bw, new Set([4 + ow]));
    assert.ok((ra.smooth?.changedVoxels ?? 0) > 0 && (ra.keepConnected?.removedComponents ?? 0) > 0);
    assert.deepEqual({ ...rb, continuity: undefined }, { ...ra, continuity: undefined });
    assert.deepEqual(rb.continuity?.flaggedSlices, ra.continuity?.flaggedSlices.map((w) => w + ow));
    let outside = 0;
    for (let w = 0; w < bw; w++) {
      for (let v = 0; v < bv; v++) {
        for (let u = 0; u < bu; u++) {
          const x = big[u + bu * (v + bv * w)];
          const [su, sv, sw] = [u - ou, v - ov, w - ow];
          if (su < 0 || sv < 0 || sw < 0 || su >= nu || sv >= nv || sw >= nw) outside += x;
          else assert.equal(x, small[su + nu * (sv + nv * sw)]);
        }
      }
    }
    assert.equal(outside, 0);
  });

  it('3D clean-up slice by slice after an earlier run equals the clean-up from scratch, whatever changed', () => {
    const [nu, nv, nw] = [34, 30, 24];
    const area = nu * nv;
    const r = rng(5);
    const stack = new Uint8Array(area * nw);
    for (let w = 5; w < nw - 3; w++) {
      const e = ellipse(nu, nv, 16 + r(), 14 + r(), 10, 8);
      for (let i = 0; i < area; i++) stack[w * area + i] = e[i] && r() > 0.1 ? 1 : 0;
    }
    stack[12 * area + 2 + nu * 2] = 1; // a stray voxel, dropped by keepConnected
    const check = (input: Uint8Array, keys: number[], memo: PostprocessMemo | null, name: string, options = {}): PostprocessMemo | null => {
      const fresh = input.slice();
      const want = postprocessStack(fresh, nu, nv, nw, new Set(keys), options);
      const mine = input.slice();
      const got = postprocessStackFrom({ mask: mine, nu, nv, nw }, new Set(keys), options, memo);
      assert.deepEqual(got.report, want, `${name}: the same report`);
      assert.ok(Buffer.from(mine).equals(Buffer.from(fresh)), `${name}: the same voxels`);
      return got.memo;
    };
    const first = check(stack, [6, 14], null, 'first run');
    assert.ok(first && first.changed.reduce((a, b) => a + b, 0) > 0, 'the vote changed voxels');
    let memo: PostprocessMemo | null = first;
    // An edit: slices 9-11 change, and slice 10 becomes a key slice.
    const edited = stack.slice();
    for (let i = 10 * area; i < 11 * area; i++) edited[i] = 0;
    const e = ellipse(nu, nv, 12, 13, 7, 6);
    for (let i = 0; i < area; i++) edited[10 * area + i] = e[i];
    for (let i = 9 * area; i < 10 * area; i += 7) edited[i] ^= 1;
    // The memo is what unchanged slices are taken from (a mark put into its slice 7 comes back), and not what
    // changed slices are taken from (a mark put into its slice 10 does not).
    const marked = { ...first, out: first.out.slice() };
    const c = first.crop;
    const inCrop = (w: number): number => (w - c.w0) * c.nu * c.nv + (16 - c.u0) + c.nu * (14 - c.v0);
    marked.out[inCrop(7)] ^= 1;
    marked.out[inCrop(10)] ^= 1;
    const probe = edited.slice();
    postprocessStackFrom({ mask: probe, nu, nv, nw }, new Set([6, 10, 14]), {}, marked);
    const scratch = edited.slice();
    postprocessStack(scratch, nu, nv, nw, new Set([6, 10, 14]));
    assert.notEqual(probe[7 * area + 16 + nu * 14], scratch[7 * area + 16 + nu * 14], 'an unchanged slice is taken from the memo');
    assert.equal(probe[10 * area + 16 + nu * 14], scratch[10 * area + 16 + nu * 14], 'a changed slice is cleaned again');
    memo = check(edited, [6, 10, 14], memo, 'an edit next to a new key slice');
    // A key slice removed (its slice is cleaned again), and a piece far from the key slices becomes big enough to
    // smooth (every slice it spans changes its big pieces).
    const again = edited.slice();
    for (let w = nw - 3; w < nw; w++) for (let v = 0; v < 8; v++) for (let u = 26; u < 34; u++) again[w * area + u + nu * v] = 1;
    for (let v = 0; v < 8; v++) for (let u = 18; u < 26; u++) again[(nw - 4) * area + u + nu * v] = 1;
    // The object grows by two slices below (the slices kept start lower than the memo's).
    again.copyWithin(3 * area, 5 * area, 6 * area);
    again.copyWithin(4 * area, 5 * area, 6 * area);
    memo = check(again, [6, 14, nw - 2], memo, 'a key slice removed, another added');
    assert.ok(first.crop.w0 > 0 && memo && memo.crop.w0 < first.crop.w0 && memo.crop.nu !== first.crop.nu, `the box kept moved (${JSON.stringify([first.crop, memo?.crop])})`);
    // The same input again: nothing to clean anew, the same result; other options: the memo is not used.
    memo = check(again, [6, 14, nw - 2], memo, 'nothing changed');
    check(again, [6, 14, nw - 2], memo, 'other options', { smooth: false });
    // Another stack size: the memo does not fit and is not used; an empty stack leaves none.
    const other = postprocessStackFrom({ mask: again.slice(0, area * (nw - 1)), nu, nv, nw: nw - 1 }, new Set([6]), {}, memo);
    assert.equal(other.memo?.nw, nw - 1);
    const none = new Uint8Array(area * nw);
    const nothingDone = { keepConnected: { removedComponents: 0, removedVoxels: 0 }, smooth: { changedVoxels: 0, keptPieces: 0 }, fillHoles: { filledVoxels: 0 }, continuity: { flaggedSlices: [] } };
    assert.deepEqual(postprocessStackFrom({ mask: none, nu, nv, nw }, new Set([6]), {}, memo), { report: nothingDone, memo: null });
    assert.deepEqual(postprocessStack(none, nu, nv, nw, new Set([6])), nothingDone, 'an empty stack reports each step with nothing done');
    assert.deepEqual(postprocessStack(none, nu, nv, nw, new Set([6]), { smooth: false, continuity: false }), { keepConnected: nothingDone.keepConnected, fillHoles: nothingDone.fillHoles }, 'only the steps that are on');
  });

  it('SSIM of a large region is the mean of its map on a grid: close to every pixel, exact below the grid size', () => {
    assert.equal(ssimStride(128, 128), 1);
    assert.equal(ssimStride(400, 330), 2);
    assert.equal(ssimStride(512, 512), 4);
    const nu = 300;
    const nv = 220;
    assert.ok(nu * nv >= 2 * SSIM_SAMPLES);
    const r = rng(11);
    const a = Float32Array.from({ length: nu * nv }, (_, i) => 0.5 + 0.3 * Math.sin((i % nu) / 9) * Math.cos(Math.floor(i / nu) / 13) + 0.05 * r());
    for (const noise of [0.02, 0.2]) {
      const b = a.map((x) => Math.min(1, Math.max(0, x + noise * (r() - 0.5))));
      const all = ssim(a, b, nu, nv, 1);
      assert.ok(Math.abs(ssim(a, b, nu, nv) - all) < 0.01, `noise ${noise}`);
    }
    const small = a.subarray(0, 100 * 100);
    assert.equal(ssim(small, small.map((x) => x * 0.9), 100, 100), ssim(small, small.map((x) => x * 0.9), 100, 100, 1));
  });

  it('an ROI view keeps only a few slices and gives the same values when a slice is asked again', () => {
    const { image } = makePhantom({ size: [48, 40, 30], spacing: [1, 1, 2] });
    const sg = new SliceGeometry(image, defaultSliceAxis(image.spacing));
    const img = roiImage(image, sg, { u0: 5, v0: 4, u1: 40, v1: 30 }, { low: -200, high: 300, kind: 'manual' });
    const first = Array.from(img.windowed(3));
    const raw = Array.from(img.raw(3));
    for (let w = 4; w < 4 + 2 * ROI_CACHED_SLICES; w++) img.windowed(w);
    assert.deepEqual(Array.from(img.windowed(3)), first);
    assert.deepEqual(Array.from(img.raw(3)), raw);
    assert.equal(first.length, 36 * 27);
    const full = sg.slice(image.data, 3);
    assert.equal(raw[0], full[5 + sg.nu * 4]);
    assert.ok(first.every((x) => x >= 0 && x <= 1));
  });
});

describe('slice comparisons on large regions', () => {
  it('averages a box over blocks (partial blocks at its far edges); blocks of 1 are the box itself', () => {
    const nu = 7;
    const src = Float32Array.from({ length: nu * 5 }, (_, i) => i);
    const box = [1, 1, 5, 4] as const;
    assert.deepEqual(blockMeans(src, nu, box, 1).data, cropBox(src, nu, box));
    const b = blockMeans(src, nu, box, 2);
    assert.equal(b.nu, 3);
    assert.equal(b.nv, 2);
    // Rows 1-2 and 3-4, columns 1-2, 3-4 and 5 (a partial block).
    const mean = (cells: number[]) => cells.reduce((x, y) => x + y, 0) / cells.length;
    const at = (u: number, v: number) => u + nu * v;
    assert.deepEqual([...b.data], [
      mean([at(1, 1), at(2, 1), at(1, 2), at(2, 2)]),
      mean([at(3, 1), at(4, 1), at(3, 2), at(4, 2)]),
      mean([at(5, 1), at(5, 2)]),
      mean([at(1, 3), at(2, 3), at(1, 4), at(2, 4)]),
      mean([at(3, 3), at(4, 3), at(3, 4), at(4, 4)]),
      mean([at(5, 3), at(5, 4)]),
    ]);
  });

  it('block means equal a pixel-by-pixel pass to the last bit (random values, boxes and block sizes)', () => {
    const nu = 53;
    const nv = 41;
    let seed = 3;
    const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const src = Float32Array.from({ length: nu * nv }, () => 1000 * rand() - 300);
    for (let t = 0; t < 40; t++) {
      const u0 = Math.floor(rand() * 20);
      const v0 = Math.floor(rand() * 15);
      const box = [u0, v0, u0 + 5 + Math.floor(rand() * 27), v0 + 5 + Math.floor(rand() * 20)] as const;
      const f = 2 + Math.floor(rand() * 5);
      const w = box[2] - box[0] + 1;
      const bw = Math.ceil(w / f);
      const sum = new Float64Array(bw * Math.ceil((box[3] - box[1] + 1) / f));
      const n = new Uint32Array(sum.length);
      for (let v = box[1]; v <= box[3]; v++) {
        for (let u = box[0]; u <= box[2]; u++) {
          const b = bw * Math.floor((v - box[1]) / f) + Math.floor((u - box[0]) / f);
          sum[b] += src[u + nu * v];
          n[b]++;
        }
      }
      assert.deepEqual(blockMeans(src, nu, box, f).data, Float32Array.from(sum, (x, i) => x / n[i]), `box ${box.join(',')}, blocks of ${f}`);
    }
  });

  it('compares every pixel below 256 x 256 of them, beyond it blocks whose grid holds about 128 x 128 samples', () => {
    assert.equal(comparisonBlock([0, 0, 127, 127]), 1);
    assert.equal(comparisonBlock([10, 10, 260, 260]), 1, '251 x 251 pixels: under four times the samples');
    assert.equal(comparisonBlock([0, 0, 255, 255]), 2, '256 x 256 pixels: four times the samples');
    assert.equal(comparisonBlock([0, 0, 412, 322]), 3, 'a large organ on a 512 x 512 CT');
    let last = 1;
    for (let side = 256; side <= 1024; side += 16) {
      for (const aspect of [1, 0.6]) {
        const [nu, nv] = [side, Math.max(1, Math.round(side * aspect))];
        const f = comparisonBlock([0, 0, nu - 1, nv - 1]);
        if (nu * nv < 4 * SSIM_SAMPLES) {
          assert.equal(f, 1);
          continue;
        }
        const samples = (nu / f) * (nv / f);
        assert.ok(samples >= 0.64 * SSIM_SAMPLES && samples <= 1.8 * SSIM_SAMPLES, `${nu} x ${nv}: ${f} gives ${samples} samples`);
        if (aspect === 1) {
          assert.ok(f >= last, `${nu} x ${nv}: block ${f} after ${last}`);
          last = f;
        }
      }
    }
  });
});

describe('slice geometry: a box of a slice', () => {
  it('reads the same values as the whole slice cut to the box, along each axis', () => {
    const size: [number, number, number] = [7, 6, 5];
    const data = Int16Array.from({ length: 7 * 6 * 5 }, (_, i) => (i * 37) % 101 - 50);
    for (const axis of [0, 1, 2] as const) {
      const sg = new SliceGeometry({ size, spacing: [1, 1, 1] }, axis);
      const box = { u0: 1, v0: 2, u1: sg.nu - 2, v1: sg.nv - 1 };
      const bu = box.u1 - box.u0 + 1;
      const bv = box.v1 - box.v0 + 1;
      for (let w = 0; w < sg.count; w++) {
        const full = sg.extract(data, w, new Float32Array(sg.area));
        const want = new Float32Array(bu * bv);
        for (let v = 0; v < bv; v++) for (let u = 0; u < bu; u++) want[u + bu * v] = full[box.u0 + u + sg.nu * (box.v0 + v)];
        assert.deepEqual(sg.extractBox(data, w, box, new Float32Array(bu * bv)), want, `axis ${axis}, slice ${w}`);
      }
    }
  });
});
