import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Annotations } from '../src/annotations/types.js';
import { interpolateKeyMasks } from '../src/interpolation/mci.js';
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
