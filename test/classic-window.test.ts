import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gaussianBlur2d } from '../src/analysis/similarity.js';
import { makePhantom } from '../src/demo/phantom.js';
import { ClassicSession, DEFAULT_CLASSIC } from '../src/engines/classic/engine.js';
import { blurInWindow, cropSlice, pasteSlice, windowAround } from '../src/engines/classic/window.js';
import { squaredDistanceTransform } from '../src/metrics/edt.js';
import { signedDistance2d } from '../src/morphology/binary.js';
import type { RoiImage } from '../src/propagation/types.js';
import { SliceGeometry } from '../src/volume/volume.js';

const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe('classic engine: solving in a window around the object', () => {
  it('the window holds every set pixel with its margin, clipped to the slice; empty masks give the whole slice', () => {
    const nu = 30;
    const nv = 20;
    const m = new Uint8Array(nu * nv);
    m[5 + nu * 7] = 1;
    m[12 + nu * 9] = 1;
    assert.deepEqual(windowAround([m], nu, nv, 3), { u0: 2, v0: 4, nu: 14, nv: 9 });
    assert.deepEqual(windowAround([m, undefined], nu, nv, 8), { u0: 0, v0: 0, nu: 21, nv: 18 });
    assert.deepEqual(windowAround([new Uint8Array(nu * nv)], nu, nv, 3), { u0: 0, v0: 0, nu, nv });
  });

  it('crop then paste puts the window back and zeroes the rest', () => {
    const nu = 9;
    const nv = 7;
    const m = Uint8Array.from({ length: nu * nv }, (_, i) => (i % 5 === 0 ? 1 : 0));
    const w = { u0: 2, v0: 1, nu: 4, nv: 5 };
    const back = pasteSlice(cropSlice(m, nu, w), w, nu, nv);
    for (let v = 0; v < nv; v++) {
      for (let u = 0; u < nu; u++) {
        const inside = u >= 2 && u < 6 && v >= 1 && v < 6;
        assert.equal(back[u + nu * v], inside ? m[u + nu * v] : 0, `(${u}, ${v})`);
      }
    }
  });

  it('blurring in a window equals the whole-slice blur to the last bit, inside and at the slice edges', () => {
    const nu = 37;
    const nv = 29;
    const src = Float32Array.from({ length: nu * nv }, (_, i) => Math.sin(i * 0.37) * 100 + ((i * 7919) % 17));
    for (const sigma of [0.7, 1, 1.5]) {
      const full = gaussianBlur2d(src, nu, nv, sigma);
      for (const w of [{ u0: 10, v0: 8, nu: 12, nv: 9 }, { u0: 0, v0: 0, nu: 5, nv: 29 }, { u0: 30, v0: 20, nu: 7, nv: 9 }, { u0: 0, v0: 0, nu, nv }]) {
        assert.ok(bits(blurInWindow(src, nu, nv, w, sigma)).equals(bits(cropSlice(full, nu, w))), `sigma ${sigma} window ${JSON.stringify(w)}`);
      }
    }
  });

  it('propagation gives the same masks and confidences as on the whole slice (phantom, with prior, guide and curvature)', async () => {
    const ph = makePhantom({ size: [96, 96, 16], spacing: [1.2, 1.2, 3] });
    const sg = new SliceGeometry(ph.image, 2);
    const nu = sg.nu;
    const nv = sg.nv;
    const slices = new Map<number, Float32Array>();
    const raw = (w: number) => {
      let s = slices.get(w);
      if (!s) slices.set(w, (s = Float32Array.from(sg.slice(ph.image.data, w))));
      return s;
    };
    const img: RoiImage = { nu, nv, count: sg.count, du: sg.du, dv: sg.dv, dw: sg.dw, raw, windowed: raw };
    const organ = (w: number) => Uint8Array.from(sg.slice(ph.truth.data, w), (x) => (x === 1 ? 1 : 0));
    let steps = 0;
    for (const key of [5, 8]) {
      const runs = await Promise.all([true, false].map(async (solveInWindow) => {
        const s = new ClassicSession(img, { ...DEFAULT_CLASSIC, solveInWindow });
        s.learn([{ index: key, mask: organ(key) }, { index: 11, mask: organ(11) }]);
        const out = [];
        let mask: Uint8Array = organ(key);
        for (let to = key + 1; to <= key + 3; to++) {
          const prior = to % 2 === 0 ? organ(to) : null;
          const logits = Float32Array.from(organ(to), (x, i) => (x ? 2 : -2) + ((i % 7) - 3) * 0.3);
          const r = await s.propagate({ front: { key, direction: 1, between: !!prior }, from: to - 1, to, mask, prior, key, keyMask: organ(key) }, { logits, weight: 0.5 });
          out.push(r);
          mask = r.mask;
        }
        return out;
      }));
      const [windowed, whole] = runs;
      for (let i = 0; i < windowed.length; i++) {
        assert.ok(whole[i].mask.some((x) => x), 'the object is there');
        assert.deepEqual(Array.from(windowed[i].mask), Array.from(whole[i].mask), `step ${i} from key ${key}`);
        assert.equal(windowed[i].confidence, whole[i].confidence);
        steps++;
      }
    }
    assert.equal(steps, 6);
  });
});

describe('signed distance of a 2D mask', () => {
  it('equals the definition through squaredDistanceTransform to the last bit (anisotropic, empty, full, random)', () => {
    const nu = 23;
    const nv = 17;
    let seed = 7;
    const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const masks = [
      new Uint8Array(nu * nv),
      new Uint8Array(nu * nv).fill(1),
      Uint8Array.from({ length: nu * nv }, () => (rand() < 0.1 ? 1 : 0)),
      Uint8Array.from({ length: nu * nv }, () => (rand() < 0.6 ? 1 : 0)),
      Uint8Array.from({ length: nu * nv }, (_, i) => (Math.hypot((i % nu) - 11, Math.floor(i / nu) - 8) < 6 ? 1 : 0)),
    ];
    for (const [du, dv] of [[1, 1], [0.8, 1.3], [0.7031, 0.7031]]) {
      for (const m of masks) {
        const inside = squaredDistanceTransform(m, [nu, nv, 1], [du, dv, 1]);
        const outside = squaredDistanceTransform(m.map((x) => 1 - x), [nu, nv, 1], [du, dv, 1]);
        const half = Math.min(du, dv) / 2;
        const expected = Float32Array.from(m, (x, i) => (x ? -(Math.sqrt(outside[i]) - half) : Math.sqrt(inside[i]) - half));
        assert.ok(bits(signedDistance2d(m, nu, nv, du, dv)).equals(bits(expected)), `spacing ${du} x ${dv}`);
      }
    }
  });
});

describe('classic engine: the score of a key mask', () => {
  it("scores the front's own key mask by the front's models: high on the object, low once moved off it", () => {
    const ph = makePhantom({ size: [96, 96, 16], spacing: [1.2, 1.2, 3] });
    const sg = new SliceGeometry(ph.image, 2);
    const raw = (w: number) => Float32Array.from(sg.slice(ph.image.data, w));
    const img: RoiImage = { nu: sg.nu, nv: sg.nv, count: sg.count, du: sg.du, dv: sg.dv, dw: sg.dw, raw, windowed: raw };
    const organ = (w: number) => Uint8Array.from(sg.slice(ph.truth.data, w), (x) => (x === 1 ? 1 : 0));
    const s = new ClassicSession(img, DEFAULT_CLASSIC);
    const key = 8;
    s.learn([{ index: key, mask: organ(key) }]);
    const front = { key, direction: 1 as const, between: false };
    const own = s.keyScore(front, organ(key));
    // The same shape moved by a third of the slice: mostly on the surroundings.
    const moved = new Uint8Array(sg.nu * sg.nv);
    const shift = Math.round(sg.nu / 3);
    for (let v = 0; v < sg.nv; v++) for (let u = 0; u + shift < sg.nu; u++) moved[u + shift + sg.nu * v] = organ(key)[u + sg.nu * v];
    const off = s.keyScore(front, moved);
    assert.ok(own > 0.8, `own key mask ${own.toFixed(3)}`);
    assert.ok(off < own - 0.3, `moved mask ${off.toFixed(3)} against ${own.toFixed(3)}`);
  });
});
