import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Annotations } from '../src/annotations/types.js';
import { interpolateKeyMasks } from '../src/interpolation/mci.js';
import { interpolateShapes } from '../src/interpolation/shape.js';
import { segment } from '../src/pipeline/segment.js';
import { SliceGeometry, withGeometry, type Geometry } from '../src/volume/volume.js';

function disc(nu: number, nv: number, ci: number, cj: number, r: number): Uint8Array {
  const m = new Uint8Array(nu * nv);
  for (let j = 0; j < nv; j++) for (let i = 0; i < nu; i++) if ((i - ci) ** 2 + (j - cj) ** 2 <= r * r) m[i + nu * j] = 1;
  return m;
}
function sum(a: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i]) n++;
  return n;
}

describe('contour interpolation between key masks', () => {
  it('grows a disc smoothly between a small and a large key disc, and keeps the key slices exactly', async () => {
    const nu = 24;
    const nv = 24;
    const small = disc(nu, nv, 12, 12, 3);
    const large = disc(nu, nv, 12, 12, 9);
    const stack = await interpolateKeyMasks({ nu, nv, count: 7 }, [
      { index: 1, mask: small },
      { index: 5, mask: large },
    ]);
    const areas = [0, 1, 2, 3, 4, 5, 6].map((w) => sum(stack.subarray(w * nu * nv, (w + 1) * nu * nv)));
    assert.equal(areas[0], 0, 'no extrapolation below the first key slice');
    assert.equal(areas[6], 0, 'no extrapolation above the last key slice');
    assert.equal(areas[1], sum(small));
    assert.equal(areas[5], sum(large));
    assert.ok(areas[1] < areas[2] && areas[2] < areas[3] && areas[3] < areas[4] && areas[4] < areas[5], `areas ${areas}`);
  });

  it('interpolates along slice axis 0 too (the wrapper ignores axis 0; keyslice stacks slices itself)', async () => {
    const g: Geometry = { size: [6, 16, 16], spacing: [4, 1, 1], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
    const sg = new SliceGeometry(g, 0);
    const annotations: Annotations = {
      axis: 0,
      labels: [{ value: 3, keySlices: [0, 4].map((index) => ({ index, empty: false, mask: disc(16, 16, 8, 8, 4), points: [], negativePoints: [] })) }],
    };
    const { labels, report } = await segment(withGeometry(g, new Float32Array(6 * 256)), annotations, { engine: 'interp', postprocess: { smooth: false } });
    for (const w of [1, 2, 3]) assert.equal(sg.countEqual(labels.data, w, 3), sum(disc(16, 16, 8, 8, 4)), `slice ${w}`);
    assert.equal(sg.countEqual(labels.data, 5, 3), 0);
    assert.deepEqual(report.labels[0].extent, [0, 4]);
  });
});

describe('label merging', () => {
  it('key slices win over another label, the lower label value keeps contested voxels elsewhere', async () => {
    const g: Geometry = { size: [12, 12, 5], spacing: [1, 1, 2], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
    const sg = new SliceGeometry(g, 2);
    const a = disc(12, 12, 5, 6, 3);
    const b = disc(12, 12, 7, 6, 3);
    const ks = (index: number, mask: Uint8Array | null) => ({ index, empty: mask === null, ...(mask ? { mask } : {}), points: [], negativePoints: [] });
    const annotations: Annotations = {
      axis: 2,
      labels: [
        { value: 1, keySlices: [ks(0, a), ks(4, a)] },
        { value: 2, keySlices: [ks(0, null), ks(2, b), ks(4, null)] },
      ],
    };
    const { labels } = await segment(withGeometry(g, new Float32Array(720)), annotations, { postprocess: { smooth: false } });
    const s2 = sg.slice(labels.data, 2);
    assert.deepEqual(Array.from(s2).map((v) => (v === 2 ? 1 : 0)), Array.from(b), 'label 2 key slice kept exactly');
    const s0 = sg.slice(labels.data, 0);
    assert.deepEqual(Array.from(s0).map((v) => (v === 1 ? 1 : 0)), Array.from(a));
    assert.equal(sg.countEqual(labels.data, 0, 2), 0, 'absent key slice of label 2 stays free of it');
    // slice 1: label 1 interpolated (a), label 2 is a single key slice: no propagation from it
    assert.equal(sg.countEqual(labels.data, 1, 1), sum(a));
  });
});

describe('shape-based interpolation between key masks', () => {
  const nu = 40;
  const nv = 40;
  const area = nu * nv;
  const at = (stack: Uint8Array, w: number): Uint8Array => stack.subarray(w * area, (w + 1) * area);
  const diceOf = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
    let both = 0;
    let n = 0;
    for (let i = 0; i < a.length; i++) {
      both += a[i] && b[i] ? 1 : 0;
      n += (a[i] ? 1 : 0) + (b[i] ? 1 : 0);
    }
    return n ? (2 * both) / n : 1;
  };

  it('follows a bulge between key slices from the neighbouring key slices (cubic), where a linear blend shrinks', () => {
    // A ball of radius 12 cut by slices 0..24: key slices at 1, 6, 18, 23; the largest section (slice 12) is
    // mid-way between two key slices.
    const radius = (w: number): number => Math.sqrt(Math.max(0, 144 - (w - 12) ** 2));
    const keys = [1, 6, 18, 23].map((index) => ({ index, mask: disc(nu, nv, 20, 20, radius(index)) }));
    const stack = interpolateShapes({ nu, nv, count: 25 }, keys, { du: 1, dv: 1 });
    const linear = interpolateShapes({ nu, nv, count: 25 }, [keys[1], keys[2]], { du: 1, dv: 1 });
    const truth12 = disc(nu, nv, 20, 20, radius(12));
    assert.ok(sum(at(stack, 12)) > sum(at(linear, 12)), 'the cubic blend is larger than the linear one mid-gap');
    const dc = diceOf(at(stack, 12), truth12);
    const dl = diceOf(at(linear, 12), truth12);
    assert.ok(dc > 0.92 && dc > dl + 0.04, `slice 12 Dice: cubic ${dc.toFixed(3)}, linear ${dl.toFixed(3)}`);
    for (const k of keys) assert.deepEqual(Array.from(at(stack, k.index)), Array.from(k.mask), `key slice ${k.index} as given`);
    assert.equal(sum(at(stack, 0)), 0, 'nothing below the first key slice');
    assert.equal(sum(at(stack, 24)), 0, 'nothing above the last key slice');
  });

  it('carries a moving shape along (centroid alignment) instead of fading it out and in', () => {
    const a = disc(nu, nv, 10, 20, 5);
    const b = disc(nu, nv, 30, 20, 5);
    const stack = interpolateShapes({ nu, nv, count: 5 }, [{ index: 0, mask: a }, { index: 4, mask: b }], { du: 1, dv: 1 });
    const mid = disc(nu, nv, 20, 20, 5);
    assert.ok(diceOf(at(stack, 2), mid) > 0.95, `mid-slice Dice ${diceOf(at(stack, 2), mid)}`);
    assert.ok(diceOf(at(stack, 1), disc(nu, nv, 15, 20, 5)) > 0.9);
  });

  it('keeps the size between two different shapes: a wide and a tall ellipse of equal area give that area', () => {
    const ellipse = (a: number, b: number): Uint8Array => {
      const m = new Uint8Array(area);
      for (let v = 0; v < nv; v++) for (let u = 0; u < nu; u++) if (((u - 20) / a) ** 2 + ((v - 20) / b) ** 2 <= 1) m[u + nu * v] = 1;
      return m;
    };
    const wide = ellipse(14, 5);
    const tall = ellipse(5, 14);
    const stack = interpolateShapes({ nu, nv, count: 5 }, [{ index: 0, mask: wide }, { index: 4, mask: tall }], { du: 1, dv: 1 });
    const mid = sum(at(stack, 2));
    assert.ok(Math.abs(mid - sum(wide)) <= 2, `mid-slice area ${mid} vs ${sum(wide)}`);
    // The mid-slice shape is a blend of both: it covers their intersection and lies within their union.
    let outside = 0;
    for (let i = 0; i < area; i++) {
      if (wide[i] && tall[i] && !at(stack, 2)[i]) outside++;
      if (at(stack, 2)[i] && !wide[i] && !tall[i]) outside++;
    }
    assert.ok(outside < 0.1 * mid, `${outside} pixels off the blend`);
  });

  it('never interpolates across an absent key slice but tapers towards it, and works with anisotropic pixels', () => {
    const a = disc(nu, nv, 20, 20, 6);
    const stack = interpolateShapes(
      { nu, nv, count: 9 },
      [
        { index: 0, mask: a },
        { index: 4, mask: null },
        { index: 8, mask: a },
      ],
      { du: 0.5, dv: 2 },
    );
    // Towards the absent slice the object tapers: smaller at every step, gone at the absent slice, inside the key.
    const areas = [1, 2, 3].map((w) => sum(at(stack, w)));
    assert.ok(sum(a) > areas[0] && areas[0] > areas[1] && areas[1] > areas[2] && areas[2] > 0, `areas ${areas}`);
    assert.equal(sum(at(stack, 4)), 0, 'the absent slice stays empty');
    for (let w = 1; w < 4; w++) for (let i = 0; i < area; i++) assert.ok(!at(stack, w)[i] || a[i], 'the taper stays inside the key mask');
    assert.ok(sum(at(stack, 7)) > sum(at(stack, 5)), 'and grows back towards the next key slice');
    const two = interpolateShapes({ nu, nv, count: 9 }, [{ index: 0, mask: a }, { index: 8, mask: a }], { du: 0.5, dv: 2 });
    for (let w = 1; w < 8; w++) assert.deepEqual(Array.from(at(two, w)), Array.from(a), `identical keys give the same mask on slice ${w}`);
  });
});
