import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gaussianBlur2d, gaussianBlur2dWhere, histogramDistance, ssim } from '../src/analysis/similarity.js';
import { intensityWindow, OrderStatistics, presetWindow } from '../src/analysis/window.js';
import { parseWindow } from '../src/cli/options.js';
import { makePhantom, rng } from '../src/demo/phantom.js';
import { boundingBox2d, connectedComponents, countNonZero, fewestSpanning, fillHoles2d, levelSetCurvature, maskOfValueInPlace, signedDistance2d, spansBox } from '../src/morphology/binary.js';
import { maskOf } from '../src/metrics/metrics.js';
import { postprocessStack } from '../src/propagation/postprocess.js';

function noise(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => r());
}

describe('slice similarity', () => {
  it('SSIM is 1 for identical slices, near 0 for unrelated noise, and falls with added noise', () => {
    const a = noise(32 * 32, 1);
    assert.ok(Math.abs(ssim(a, a, 32, 32) - 1) < 1e-6);
    assert.ok(Math.abs(ssim(a, noise(32 * 32, 2), 32, 32)) < 0.1);
    const ramp = Float32Array.from({ length: 32 * 32 }, (_, i) => (i % 32) / 31);
    const r = rng(5);
    const slight = ramp.map((x) => Math.min(1, Math.max(0, x + 0.02 * (r() - 0.5))));
    const heavy = ramp.map((x) => Math.min(1, Math.max(0, x + 0.6 * (r() - 0.5))));
    assert.ok(ssim(ramp, slight, 32, 32) > ssim(ramp, heavy, 32, 32));
  });

  it('SSIM is the mean of the SSIM map from Gaussian-filtered maps (sigma 1.5), edges clamped, to the last bit', () => {
    const byDefinition = (a: Float32Array, b: Float32Array, nu: number, nv: number): number => {
      const f = (x: Float32Array): Float32Array => gaussianBlur2d(x, nu, nv, 1.5);
      const [ma, mb] = [f(a), f(b)];
      const maa = f(a.map((x) => x * x));
      const mbb = f(b.map((x) => x * x));
      const mab = f(a.map((x, i) => x * b[i]));
      let t = 0;
      for (let i = 0; i < a.length; i++) {
        const cov = mab[i] - ma[i] * mb[i];
        const va = maa[i] - ma[i] * ma[i];
        const vb = mbb[i] - mb[i] * mb[i];
        t += ((2 * ma[i] * mb[i] + 1e-4) * (2 * cov + 9e-4)) / ((ma[i] * ma[i] + mb[i] * mb[i] + 1e-4) * (va + vb + 9e-4));
      }
      return t / a.length;
    };
    let seed = 10;
    // Shapes smaller than the filter (radius 5), one-pixel strips and an ordinary crop.
    for (const [nu, nv] of [[1, 9], [9, 1], [3, 4], [11, 11], [40, 23]]) {
      const a = noise(nu * nv, seed++);
      const b = a.map((x, i) => Math.min(1, Math.max(0, x + 0.3 * (noise(nu * nv, seed)[i] - 0.5))));
      seed++;
      assert.equal(ssim(a, b, nu, nv), byDefinition(a, b, nu, nv), `${nu} x ${nv}`);
    }
  });

  it('histogram distance is 0 for the same distribution and 1 for disjoint ones', () => {
    const a = Float32Array.from({ length: 1000 }, (_, i) => (i % 100) / 200);
    assert.equal(histogramDistance(a, a), 0);
    assert.ok(Math.abs(histogramDistance(a, a.map((x) => x + 0.5)) - 1) < 1e-9);
  });
});

describe('intensity window', () => {
  it('order statistics give the values a full sort (NaN last) holds at any ranks, asked in any order', () => {
    let seed = 70;
    for (const n of [1, 2, 3, 10, 257, 5000]) {
      for (const kind of ['spread', 'ties', 'nan']) {
        const r = rng(seed++);
        const values = Float64Array.from({ length: n }, () => {
          if (kind === 'nan' && r() < 0.2) return NaN;
          return kind === 'ties' ? Math.floor(r() * 4) : (r() - 0.5) * 2000;
        });
        const sorted = values.slice().sort();
        const stats = new OrderStatistics(values.slice());
        const ranks = [n - 1, 0, Math.floor(n / 2), ...Array.from({ length: 20 }, () => Math.floor(r() * n)), 0, n - 1];
        for (const k of ranks) assert.ok(Object.is(stats.at(k), sorted[k]), `n ${n} ${kind} rank ${k}: ${stats.at(k)} vs ${sorted[k]}`);
      }
    }
  });

  it('picks the soft-tissue window for CT in HU and percentiles otherwise', () => {
    const { image } = makePhantom({ size: [32, 32, 4] });
    assert.equal(intensityWindow(image).kind, 'ct-soft-tissue');
    const mr = { data: Float32Array.from({ length: 10000 }, (_, i) => (i % 1000) + 200) };
    const w = intensityWindow(mr);
    assert.equal(w.kind, 'percentile');
    assert.ok(w.low >= 200 && w.low < 210 && w.high > 1190 && w.high <= 1199, `${w.low}..${w.high}`);
  });
});

describe('binary morphology and 3D post-processing', () => {
  it('signed distance is negative inside, positive outside, about 0 at the boundary', () => {
    const m = new Uint8Array(11 * 11);
    for (let v = 3; v <= 7; v++) for (let u = 3; u <= 7; u++) m[u + 11 * v] = 1;
    const sd = signedDistance2d(m, 11, 11, 1, 1);
    assert.equal(sd[5 + 11 * 5], -2.5);
    assert.equal(sd[3 + 11 * 5], -0.5);
    assert.equal(sd[2 + 11 * 5], 0.5);
    assert.equal(sd[0 + 11 * 5], 2.5);
  });

  it('keeps the fewest components, largest first, that span a tight box', () => {
    const n = 20;
    const rect = (m: Uint8Array, u0: number, v0: number, u1: number, v1: number): void => {
      for (let v = v0; v <= v1; v++) for (let u = u0; u <= u1; u++) m[u + n * v] = 1;
    };
    const box: [number, number, number, number] = [2, 2, 17, 17];
    // An L spanning the box, and a separate speck inside it: the speck goes.
    const m = new Uint8Array(n * n);
    rect(m, 2, 2, 17, 5);
    rect(m, 2, 2, 5, 17);
    rect(m, 12, 12, 14, 14);
    assert.ok(spansBox(m, n, n, box, 0.1));
    const out = fewestSpanning(m, n, n, box, 0.1);
    assert.equal(out[13 + n * 13], 0);
    assert.equal(countNonZero(out), countNonZero(m) - 9);
    // Two bars, neither spanning the box alone: both stay.
    const two = new Uint8Array(n * n);
    rect(two, 2, 2, 17, 4);
    rect(two, 2, 15, 17, 17);
    assert.deepEqual(fewestSpanning(two, n, n, box, 0.1), two);
    // Nothing spans it: the mask as it is.
    const small = new Uint8Array(n * n);
    rect(small, 8, 8, 10, 10);
    rect(small, 14, 14, 15, 15);
    assert.ok(!spansBox(small, n, n, box, 0.1));
    assert.deepEqual(fewestSpanning(small, n, n, box, 0.1), small);
  });

  it('counts the non-zero values of a byte array wherever it starts, of any value, as one by one', () => {
    const buf = new Uint8Array(301);
    for (let i = 0; i < buf.length; i++) buf[i] = i % 7 === 0 ? 0 : i % 11 === 0 ? 255 : i % 3 === 0 ? 1 : i % 5 === 0 ? 128 : 0;
    for (let start = 0; start < 4; start++) {
      for (const end of [start + 63, start + 64, 297, 298, 299, 300]) {
        const a = buf.subarray(start, end);
        assert.equal(countNonZero(a), Array.from(a).filter((x) => x !== 0).length, `bytes ${start}..${end}`);
      }
    }
    assert.equal(countNonZero(new Uint8Array(100)), 0);
    assert.equal(countNonZero(new Float32Array([0, 0.5, -1, 0])), 2);
  });

  it('finds the bounding box of a 2D mask as a pixel-by-pixel pass does (random, single pixel, empty)', () => {
    const rand = rng(9);
    const nu = 37;
    const nv = 23;
    for (let t = 0; t < 30; t++) {
      const p = t < 10 ? 0.002 : t < 20 ? 0.05 : 0.6;
      const m = Uint8Array.from({ length: nu * nv }, () => (rand() < p ? 1 + Math.floor(rand() * 3) : 0));
      let box: [number, number, number, number] | null = null;
      for (let i = 0; i < m.length; i++) {
        if (!m[i]) continue;
        const u = i % nu;
        const v = Math.floor(i / nu);
        box = box ? [Math.min(box[0], u), Math.min(box[1], v), Math.max(box[2], u), Math.max(box[3], v)] : [u, v, u, v];
      }
      assert.deepEqual(boundingBox2d(m, nu, nv), box);
    }
  });

  it('blurs and takes level-set curvature only where asked, with the values of the whole map there (random maps and masks)', () => {
    const rand = rng(13);
    const nu = 41;
    const nv = 29;
    const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    for (let t = 0; t < 12; t++) {
      const disc = Uint8Array.from({ length: nu * nv }, (_, i) => (Math.hypot((i % nu) - 20 - 5 * rand(), Math.floor(i / nu) - 14) < 6 + 6 * rand() ? 1 : 0));
      const sd = t === 11 ? new Float32Array(nu * nv).fill(Infinity) : signedDistance2d(disc, nu, nv, 0.8, 1.1);
      const p = [0.02, 0.3, 0.9][t % 3];
      const where = Uint8Array.from({ length: nu * nv }, () => (rand() < p ? 1 : 0));
      const pick = (a: Float32Array) => Float32Array.from(a, (x, i) => (where[i] ? x : 0));
      for (const sigma of [0.7, 1, 1.5]) {
        assert.ok(bits(gaussianBlur2dWhere(sd.map((x) => (Number.isFinite(x) ? x : 0)), nu, nv, sigma, where)).equals(bits(pick(gaussianBlur2d(sd.map((x) => (Number.isFinite(x) ? x : 0)), nu, nv, sigma)))));
      }
      assert.ok(bits(levelSetCurvature(sd, nu, nv, 0.8, 1.1, where)).equals(bits(pick(levelSetCurvature(sd, nu, nv, 0.8, 1.1)))), `map ${t}`);
    }
  });

  it('makes a byte label volume the mask of one value in place, as maskOf does (any start, long empty parts, value 0)', () => {
    const rand = rng(5);
    const labels = Uint8Array.from({ length: 1003 }, (_, i) => (i > 300 && i < 700 ? 0 : rand() < 0.5 ? 0 : Math.floor(rand() * 4)));
    for (const start of [0, 1, 2, 3]) {
      for (const value of [0, 1, 2, 3, 9]) {
        const a = labels.slice().subarray(start);
        const expected = maskOf(a, value);
        assert.equal(maskOfValueInPlace(a, value), a);
        assert.deepEqual(a, expected, `start ${start}, value ${value}`);
      }
    }
  });

  it('fills holes but not bays open to the border; counts 6- and 26-connected components', () => {
    const m = new Uint8Array(7 * 7);
    for (let v = 1; v <= 5; v++) for (let u = 1; u <= 5; u++) m[u + 7 * v] = 1;
    m[3 + 7 * 3] = 0;
    m[0 + 7 * 3] = 0;
    assert.equal(fillHoles2d(m, 7, 7), 1);
    assert.equal(m[3 + 7 * 3], 1);
    const d = new Uint8Array(27);
    d[0] = 1;
    d[26] = 1;
    d[13] = 1;
    assert.equal(connectedComponents(d, 3, 3, 3, true).sizes.length - 1, 1);
    assert.equal(connectedComponents(d, 3, 3, 3, false).sizes.length - 1, 3);
  });

  it('connected components agree with a union of touching neighbours (26 and 6), in 2D and 3D, faces included', () => {
    const reference = (m: Uint8Array, nu: number, nv: number, nw: number, full: boolean): Int32Array => {
      const parent = Int32Array.from({ length: m.length }, (_, i) => i);
      const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i])));
      for (let w = 0; w < nw; w++) for (let v = 0; v < nv; v++) for (let u = 0; u < nu; u++) {
        const i = u + nu * (v + nv * w);
        if (!m[i]) continue;
        for (let dw = -1; dw <= 1; dw++) for (let dv = -1; dv <= 1; dv++) for (let du = -1; du <= 1; du++) {
          const [uu, vv, ww] = [u + du, v + dv, w + dw];
          if (uu < 0 || vv < 0 || ww < 0 || uu >= nu || vv >= nv || ww >= nw) continue;
          if (!full && Math.abs(du) + Math.abs(dv) + Math.abs(dw) > 1) continue;
          const j = uu + nu * (vv + nv * ww);
          if (m[j]) parent[find(i)] = find(j);
        }
      }
      return Int32Array.from(m, (x, i) => (x ? find(i) : -1));
    };
    let seed = 40;
    for (const [nu, nv, nw] of [[7, 6, 1], [5, 6, 4], [1, 8, 3], [9, 9, 9], [23, 17, 11]]) {
      for (const full of [true, false]) {
        const r = rng(seed++);
        const m = Uint8Array.from({ length: nu * nv * nw }, () => (r() < 0.35 ? 1 : 0));
        const { ids, sizes } = connectedComponents(m, nu, nv, nw, full);
        const ref = reference(m, nu, nv, nw, full);
        // Same partition: voxels share an id exactly when they share a root, and the sizes add up.
        const idOfRoot = new Map<number, number>();
        for (let i = 0; i < m.length; i++) {
          assert.equal(ids[i] > 0, m[i] === 1);
          if (!m[i]) continue;
          const known = idOfRoot.get(ref[i]);
          if (known === undefined) idOfRoot.set(ref[i], ids[i]);
          else assert.equal(ids[i], known, `${nu}x${nv}x${nw} full=${full} voxel ${i}`);
        }
        assert.equal(sizes.length - 1, idOfRoot.size);
        assert.equal(sizes.reduce((s, x) => s + x, 0), countNonZero(m));
        // Numbered in the order of each component's first voxel in memory order.
        let next = 1;
        for (let i = 0; i < m.length; i++) if (ids[i] === next) next++;
        else assert.ok(ids[i] < next, `${nu}x${nv}x${nw} full=${full}: id ${ids[i]} before ${next}`);
        assert.equal(next, sizes.length);
      }
    }
  });

  it('drops components away from the key slices, fills holes, keeps key slices, flags area jumps', () => {
    const nu = 10;
    const nv = 10;
    const nw = 7;
    const a = nu * nv;
    const stack = new Uint8Array(a * nw);
    const square = (w: number, u0: number, u1: number) => {
      for (let v = u0; v <= u1; v++) for (let u = u0; u <= u1; u++) stack[w * a + u + nu * v] = 1;
    };
    for (let w = 0; w <= 4; w++) square(w, 2, 6);
    square(3, 1, 8); // a jump in area on slice 3
    stack[1 * a + 4 + nu * 4] = 0; // a hole on slice 1
    stack[0 * a + 4 + nu * 4] = 0; // a hole on key slice 0: kept as drawn
    stack[6 * a + 0] = 1; // an island on slice 6, not connected
    const before0 = stack.slice(0, a);
    const r = postprocessStack(stack, nu, nv, nw, new Set([0]), { smooth: false });
    assert.deepEqual(r.keepConnected, { removedComponents: 1, removedVoxels: 1 });
    assert.equal(r.fillHoles?.filledVoxels, 1);
    assert.deepEqual(r.continuity?.flaggedSlices, [3]);
    assert.deepEqual(Array.from(stack.slice(0, a)), Array.from(before0), 'key slice unchanged');
    assert.equal(stack[6 * a], 0);
    const off = new Uint8Array(stack);
    off[6 * a] = 1;
    const r2 = postprocessStack(off, nu, nv, nw, new Set([0]), { keepConnected: false, fillHoles: false, smooth: false, continuity: false });
    assert.deepEqual(r2, {});
    assert.equal(off[6 * a], 1, 'steps switched off change nothing');
  });

  it('smooths what keepConnected left as a fresh pass would: the same voxels as the two steps one after the other', () => {
    for (const seed of [5, 6, 7]) {
      const r = rng(seed);
      const [nu, nv, nw] = [24, 20, 10];
      const stack = new Uint8Array(nu * nv * nw);
      // A noisy block, a second block apart from it (removed: no key slice holds it) and speckle.
      for (let w = 1; w < nw - 1; w++) for (let v = 3; v < 14; v++) for (let u = 3; u < 13; u++) stack[u + nu * (v + nv * w)] = r() < 0.8 ? 1 : 0;
      for (let w = 5; w < 9; w++) for (let v = 16; v < 20; v++) for (let u = 16; u < 23; u++) stack[u + nu * (v + nv * w)] = r() < 0.9 ? 1 : 0;
      for (let i = 0; i < stack.length; i++) if (r() < 0.01) stack[i] = 1;
      const keys = new Set([2]);
      const once = stack.slice();
      const all = postprocessStack(once, nu, nv, nw, keys, { fillHoles: false, continuity: false });
      const steps = stack.slice();
      const first = postprocessStack(steps, nu, nv, nw, keys, { smooth: false, fillHoles: false, continuity: false });
      const second = postprocessStack(steps, nu, nv, nw, keys, { keepConnected: false, fillHoles: false, continuity: false });
      assert.ok((first.keepConnected?.removedComponents ?? 0) > 0, `seed ${seed}: components removed`);
      assert.ok((second.smooth?.changedVoxels ?? 0) > 0, `seed ${seed}: voxels smoothed`);
      assert.deepEqual(all, { keepConnected: first.keepConnected, smooth: second.smooth }, `seed ${seed}: report`);
      assert.ok(Buffer.from(once).equals(Buffer.from(steps)), `seed ${seed}: voxels`);
    }
  });

  it('works in the object\'s bounding box: the same voxels and report as on a stack around it', () => {
    for (const seed of [1, 2, 3, 4]) {
      const r = rng(seed);
      // A noisy object, two voxels clear of its stack's sides: the whole-stack path.
      const [nu, nv, nw] = [14, 12, 9];
      const tight = new Uint8Array(nu * nv * nw);
      for (let w = 2; w < nw - 2; w++) {
        for (let v = 2; v < nv - 2; v++) for (let u = 2; u < nu - 2; u++) tight[u + nu * (v + nv * w)] = r() < 0.6 ? 1 : 0;
      }
      // The same object inside a larger stack: the bounding-box path.
      const [bu, bv, bw, ou, ov, ow] = [40, 33, 21, 9, 13, 5];
      const big = new Uint8Array(bu * bv * bw);
      for (let w = 0; w < nw; w++) for (let v = 0; v < nv; v++) for (let u = 0; u < nu; u++) big[u + ou + bu * (v + ov + bv * (w + ow))] = tight[u + nu * (v + nv * w)];
      const keys = new Set([4]);
      const a = postprocessStack(tight, nu, nv, nw, keys);
      const b = postprocessStack(big, bu, bv, bw, new Set([4 + ow]));
      assert.deepEqual(b.continuity?.flaggedSlices, a.continuity?.flaggedSlices.map((w) => w + ow), `seed ${seed}: flagged slices`);
      assert.deepEqual({ ...b, continuity: null }, { ...a, continuity: null }, `seed ${seed}: report`);
      let outside = 0;
      for (let w = 0; w < bw; w++) {
        for (let v = 0; v < bv; v++) {
          for (let u = 0; u < bu; u++) {
            const x = big[u + bu * (v + bv * w)];
            const [tu, tv, tw] = [u - ou, v - ov, w - ow];
            if (tu < 0 || tv < 0 || tw < 0 || tu >= nu || tv >= nv || tw >= nw) outside += x;
            else assert.equal(x, tight[tu + nu * (tv + nv * tw)], `seed ${seed}: voxel ${u},${v},${w}`);
          }
        }
      }
      assert.equal(outside, 0, `seed ${seed}: nothing written outside the object's neighbourhood`);
    }
  });

  it('3D majority smoothing settles slices that disagree with both neighbours, never touching key slices', () => {
    const nu = 12;
    const nv = 12;
    const nw = 5;
    const a = nu * nv;
    const stack = new Uint8Array(a * nw);
    const at = (u: number, v: number, w: number) => u + nu * (v + nv * w);
    for (let w = 0; w < nw; w++) for (let v = 3; v <= 8; v++) for (let u = 3; u <= 8; u++) stack[at(u, v, w)] = 1;
    for (let v = 3; v <= 8; v++) stack[at(9, v, 2)] = 1; // slice 2 bulges one column out
    stack[at(5, 5, 1)] = 0; // slice 1 misses a voxel deep inside
    stack[at(3, 3, 0)] = 0; // key slice 0 has a corner cut: it must stay so
    stack[at(9, 5, 4)] = 1; // key slice 4 has a one-voxel bump: kept
    const key0 = stack.slice(0, a);
    const key4 = stack.slice(4 * a, 5 * a);
    const r = postprocessStack(stack, nu, nv, nw, new Set([0, 4]), { keepConnected: false, fillHoles: false, continuity: false });
    assert.ok((r.smooth?.changedVoxels ?? 0) >= 7);
    for (let v = 3; v <= 8; v++) assert.equal(stack[at(9, v, 2)], 0, 'the bulge on slice 2 goes');
    assert.equal(stack[at(5, 5, 1)], 1, 'the missing voxel on slice 1 comes back');
    assert.equal(stack[at(5, 5, 2)], 1, 'the interior stays');
    assert.equal(stack[at(3, 5, 1)], 1, 'a straight edge backed by its neighbours stays');
    assert.deepEqual(Array.from(stack.slice(0, a)), Array.from(key0), 'key slice 0 unchanged');
    assert.deepEqual(Array.from(stack.slice(4 * a, 5 * a)), Array.from(key4), 'key slice 4 unchanged');
  });
});

describe('window presets and --window', () => {
  it('maps presets to level/width and parses LOW:HIGH', () => {
    assert.deepEqual(presetWindow('lung'), { low: -1350, high: 150, kind: 'preset', name: 'lung' });
    assert.deepEqual(presetWindow('brain'), { low: 0, high: 80, kind: 'preset', name: 'brain' });
    assert.equal(presetWindow('liver'), null);
    assert.deepEqual(parseWindow('-160:240'), { low: -160, high: 240, kind: 'manual' });
    assert.deepEqual(parseWindow('0.5:99.5'), { low: 0.5, high: 99.5, kind: 'manual' });
    assert.equal(parseWindow('auto'), undefined);
    assert.deepEqual(parseWindow('bone'), { low: -500, high: 1300, kind: 'preset', name: 'bone' });
    assert.throws(() => parseWindow('10:10'), /--window must be/);
  });
});
