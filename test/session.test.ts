import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import type { Annotations, KeySlice } from '../src/annotations/types.js';
import { makePhantom } from '../src/demo/phantom.js';
import { classicEngine } from '../src/engines/classic/engine.js';
import { interpolationEngine } from '../src/engines/interp.js';
import { runInteractiveBench, summariseInteractive } from '../src/bench/interactive.js';
import { samEngine } from '../src/engines/sam/engine.js';
import { loadSamModel } from '../src/models/sam/load-node.js';
import { segment } from '../src/pipeline/segment.js';
import type { FrontInfo, SliceEngine } from '../src/propagation/types.js';
import { anyNonZero, eachSetRun } from '../src/morphology/binary.js';
import { hashBytes, sameBytes } from '../src/session/cache.js';
import { openSession, type KeysliceSessionHandle } from '../src/session/session.js';
import type { SliceUpdate } from '../src/session/types.js';
import { KeysliceError } from '../src/util/errors.js';
import { readLabelVolume, readVolume, writeVolume } from '../src/volume/io-node.js';
import { defaultSliceAxis, SliceGeometry, type Volume } from '../src/volume/volume.js';
import { writeBrightnessModel } from './helpers/onnx-graphs.js';
import { SHARED_DATA, sharedDataSkip } from './helpers/paths.js';
import { makeBlob, touchingParts } from './helpers/volumes.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'keyslice-session-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function drainAll(it: AsyncIterable<SliceUpdate>): Promise<SliceUpdate[]> {
  const out: SliceUpdate[] = [];
  for await (const u of it) out.push(u);
  return out;
}

/**
 * Sets key slice w of label 1 to mask m, propagates, checks the labels against a from-scratch `segment()` with
 * the key slices `keys` (updated here), and returns the hits and misses the edit added to one of the session's caches.
 */
async function setAndCount(
  image: Volume,
  s: KeysliceSessionHandle,
  keys: Map<number, Uint8Array>,
  w: number,
  m: Uint8Array,
  cache: 'keyDerived' | 'sliceDerived',
): Promise<{ hits: number; misses: number }> {
  const before = s.cacheStats();
  await s.setKeySlice(1, w, { mask: m });
  keys.set(w, m);
  await drainAll(s.propagate());
  const after = s.cacheStats();
  const scratch = await segment(image, { axis: s.axis, labels: [{ value: 1, keySlices: [...keys].map(([index, mask]) => ({ index, empty: false, mask, points: [], negativePoints: [] })) }] });
  assert.deepEqual((await s.labels()).data, scratch.labels.data, `key slice ${w}: the labels equal segment()`);
  return { hits: after[`${cache}Hits`] - before[`${cache}Hits`], misses: after[`${cache}Misses`] - before[`${cache}Misses`] };
}

/** The session's key slices as annotations for a from-scratch `segment()` (the same key slices, as set). */
function annotationsOf(s: KeysliceSessionHandle, keys: Map<number, Map<number, KeySlice>>): Annotations {
  return { axis: s.axis, labels: [...keys].map(([value, m]) => ({ value, keySlices: [...m.values()] })) };
}

/**
 * Runs a sequence of edits on a session and, after each one, checks that its labels equal a from-scratch
 * `segment()` with the same key slices, voxel for voxel. `edits` change the session and the mirror map.
 */
async function checkSequence(
  image: Volume,
  engine: string | SliceEngine,
  edits: { name: string; apply: (s: KeysliceSessionHandle, keys: Map<number, Map<number, KeySlice>>) => Promise<void> }[],
): Promise<KeysliceSessionHandle> {
  const s = await openSession(image, { engine });
  const keys = new Map<number, Map<number, KeySlice>>();
  for (const e of edits) {
    await e.apply(s, keys);
    await drainAll(s.propagate());
    assert.deepEqual(await s.pending(), [], `${e.name}: nothing left to propagate`);
    const mine = await s.labels();
    const scratch = await segment(image, annotationsOf(s, keys), { engine });
    assert.ok(Buffer.from(mine.data.buffer, mine.data.byteOffset, mine.data.byteLength).equals(Buffer.from(scratch.labels.data.buffer, scratch.labels.data.byteOffset, scratch.labels.data.byteLength)), `${e.name}: labels equal segment() voxel for voxel`);
    assert.deepEqual(mine.size, scratch.labels.size);
    assert.deepEqual(
      (await s.report()).labels.map((l) => [l.value, l.voxels, l.extent, l.fronts]),
      scratch.report.labels.map((l) => [l.value, l.voxels, l.extent, l.fronts]),
      `${e.name}: the report agrees`,
    );
  }
  return s;
}

const maskKey = (sg: SliceGeometry, truth: ArrayLike<number>, value: number, w: number): KeySlice => ({
  index: w,
  empty: false,
  mask: sg.maskOf(truth, w, value) ?? new Uint8Array(sg.area),
  points: [],
  negativePoints: [],
});

/** The standard sequence: add key slices, correct a propagated slice, mark absent, remove, undo, redo. */
function standardEdits(sg: SliceGeometry, truth: ArrayLike<number>, value: number, slices: { first: number; second: number; correct: number; absent: number }) {
  const setMask = (w: number) => async (s: KeysliceSessionHandle, keys: Map<number, Map<number, KeySlice>>) => {
    const k = maskKey(sg, truth, value, w);
    await s.setKeySlice(value, w, { mask: k.mask as Uint8Array });
    if (!keys.has(value)) keys.set(value, new Map());
    keys.get(value)?.set(w, k);
  };
  let undone: [number, KeySlice] | null = null;
  return [
    { name: 'first key slice', apply: setMask(slices.first) },
    { name: 'second key slice', apply: setMask(slices.second) },
    {
      name: 'correct a propagated slice',
      apply: async (s: KeysliceSessionHandle, keys: Map<number, Map<number, KeySlice>>) => {
        const k = maskKey(sg, truth, value, slices.correct);
        await s.correct(value, slices.correct, k.mask as Uint8Array);
        keys.get(value)?.set(slices.correct, k);
      },
    },
    {
      name: 'mark absent',
      apply: async (s: KeysliceSessionHandle, keys: Map<number, Map<number, KeySlice>>) => {
        await s.setKeySlice(value, slices.absent, { absent: true });
        keys.get(value)?.set(slices.absent, { index: slices.absent, empty: true, points: [], negativePoints: [] });
      },
    },
    {
      name: 'remove a key slice',
      apply: async (s: KeysliceSessionHandle, keys: Map<number, Map<number, KeySlice>>) => {
        undone = [slices.second, keys.get(value)?.get(slices.second) as KeySlice];
        await s.removeKeySlice(value, slices.second);
        keys.get(value)?.delete(slices.second);
      },
    },
    {
      name: 'undo',
      apply: async (s: KeysliceSessionHandle, keys: Map<number, Map<number, KeySlice>>) => {
        assert.ok(await s.undo());
        assert.deepEqual(await s.pending(), [], 'undo finds its result in the cache');
        // The key slice comes back in its place.
        const m = keys.get(value) as Map<number, KeySlice>;
        const restored = new Map<number, KeySlice>();
        const order = (await s.keySlices(value)).map((k) => k.slice);
        for (const [w, k] of [...m, undone as [number, KeySlice]]) restored.set(w, k);
        keys.set(value, new Map([...restored].sort((a, b) => order.indexOf(a[0]) - order.indexOf(b[0]))));
      },
    },
    {
      name: 'redo',
      apply: async (s: KeysliceSessionHandle, keys: Map<number, Map<number, KeySlice>>) => {
        assert.ok(await s.redo());
        keys.get(value)?.delete(slices.second);
      },
    },
  ];
}

describe('session on a generated CT phantom', () => {
  const ph = makePhantom({ size: [96, 96, 20], seed: 3 });
  const sg = new SliceGeometry(ph.image, 2);
  it('after each edit the labels equal a from-scratch segment() with the same key slices (classic engine)', async () => {
    const areas = Array.from({ length: sg.count }, (_, w) => (sg.maskOf(ph.truth.data, w, 1) ?? new Uint8Array(0)).reduce((a, b) => a + b, 0));
    const present = areas.map((a, w) => (a > 0 ? w : -1)).filter((w) => w >= 0);
    const lo = present[0];
    const hi = present[present.length - 1];
    const mid = Math.round((lo + hi) / 2);
    const edits = standardEdits(sg, ph.truth.data, 1, { first: mid, second: lo + 2, correct: hi - 2, absent: Math.min(sg.count - 1, hi + 1) });
    const s = await checkSequence(ph.image, 'classic', edits);
    assert.ok(s.cacheStats().labelHits >= 1, 'undo reused a result');
  });

  it('classic engine: an edit reuses the fronts it does not touch, and the labels still equal segment()', async () => {
    const areas = Array.from({ length: sg.count }, (_, w) => (sg.maskOf(ph.truth.data, w, 1) ?? new Uint8Array(0)).reduce((a, b) => a + b, 0));
    const present = areas.map((a, w) => (a > 0 ? w : -1)).filter((w) => w >= 0);
    const [lo, hi] = [present[0], present[present.length - 1]];
    const picks = [lo + 1, Math.round((2 * lo + hi) / 3), Math.round((lo + 2 * hi) / 3), hi - 1];
    const s = await openSession(ph.image, { engine: 'classic' });
    const keys = new Map<number, KeySlice>();
    for (const w of picks.slice(0, 3)) {
      const k = maskKey(sg, ph.truth.data, 1, w);
      await s.setKeySlice(1, w, { mask: k.mask as Uint8Array });
      keys.set(w, k);
    }
    await drainAll(s.propagate());
    const before = s.cacheStats();
    // A key slice beyond the last one: the fronts below the middle key slice depend on nothing it changes.
    const k = maskKey(sg, ph.truth.data, 1, picks[3]);
    await s.setKeySlice(1, picks[3], { mask: k.mask as Uint8Array });
    keys.set(picks[3], k);
    await drainAll(s.propagate());
    const after = s.cacheStats();
    assert.ok(after.frontHits - before.frontHits >= 2, `fronts reused (${after.frontHits - before.frontHits})`);
    assert.ok(after.frontMisses - before.frontMisses >= 1, 'the fronts next to the new key slice ran again');
    const scratch = await segment(ph.image, { axis: 2, labels: [{ value: 1, keySlices: [...keys.values()] }] });
    assert.deepEqual((await s.labels()).data, scratch.labels.data);
  });

  it('two labels: an edit of one leaves the other as it was, and its result is reused', async () => {
    const s = await openSession(ph.image, { engine: 'classic' });
    const k1 = maskKey(sg, ph.truth.data, 1, 10);
    const lesion = Array.from({ length: sg.count }, (_, w) => (sg.maskOf(ph.truth.data, w, 2) ?? new Uint8Array(0)).reduce((a, b) => a + b, 0));
    const lw = lesion.indexOf(Math.max(...lesion));
    const k2 = maskKey(sg, ph.truth.data, 2, lw);
    await s.setKeySlice({ value: 1, name: 'organ' }, 10, { mask: k1.mask as Uint8Array });
    await s.setKeySlice(2, lw, { mask: k2.mask as Uint8Array });
    await drainAll(s.propagate());
    const k1b = maskKey(sg, ph.truth.data, 1, 6);
    await s.setKeySlice(1, 6, { mask: k1b.mask as Uint8Array });
    assert.deepEqual(await s.pending(), [1]);
    const updates = await drainAll(s.propagate());
    assert.ok(updates.every((u) => u.label === 1), 'only the edited label is propagated');
    const scratch = await segment(ph.image, { axis: 2, labels: [{ value: 1, name: 'organ', keySlices: [k1, k1b] }, { value: 2, keySlices: [k2] }] });
    assert.deepEqual((await s.labels()).data, scratch.labels.data);
    assert.equal((await s.report()).labels[0].name, 'organ');
  });
});

describe('session: labels that end on each other', () => {
  const { blob, key } = touchingParts(14, 'slices');
  for (const order of [
    [1, 2],
    [2, 1],
  ]) {
    it(`two parts touching along the slice axis (labels in order ${order.join(', ')}): after each edit the labels equal segment(), and an edit of one label leaves the other's run as it was`, async () => {
      const at = { 1: [7, 4], 2: [21, 17] } as Record<number, number[]>;
      const setKey = (value: number, w: number) => async (s: KeysliceSessionHandle, keys: Map<number, Map<number, KeySlice>>) => {
        const k = key(value, w);
        await s.setKeySlice(value, w, { mask: k.mask as Uint8Array });
        if (!keys.has(value)) keys.set(value, new Map());
        keys.get(value)?.set(w, k);
      };
      const [a, b] = order;
      const s = await checkSequence(blob.image, 'classic', [
        { name: `label ${a}`, apply: setKey(a, at[a][0]) },
        { name: `label ${b}`, apply: setKey(b, at[b][0]) },
        {
          name: `a second key slice of label ${b}`,
          apply: async (s, keys) => {
            await setKey(b, at[b][1])(s, keys);
            assert.deepEqual(await s.pending(), [b], 'only the edited label is propagated again');
          },
        },
      ]);
      const fronts = (await s.report()).labels.flatMap((l) => l.fronts);
      assert.ok(fronts.filter((f) => f.stop === 'other-label').length >= 2, 'each part ends on the other');
      await s.close();
    });
  }
});

describe('session on real scans', { skip: sharedDataSkip() }, () => {
  it('hippocampus MR: after each edit the labels equal a from-scratch segment()', async () => {
    const image = await readVolume(path.join(SHARED_DATA, 'msd-hippocampus/images/hippocampus_003.nii.gz'));
    const truth = await readLabelVolume(path.join(SHARED_DATA, 'msd-hippocampus/labels/hippocampus_003.nii.gz'));
    const sg = new SliceGeometry(image, defaultSliceAxis(image.spacing));
    const areas = Array.from({ length: sg.count }, (_, w) => (sg.maskOf(truth.data, w, 1) ?? new Uint8Array(0)).reduce((a, b) => a + b, 0));
    const present = areas.map((a, w) => (a > 0 ? w : -1)).filter((w) => w >= 0);
    const lo = present[0];
    const hi = present[present.length - 1];
    const mid = present[present.length >> 1];
    const absent = hi + 1 < sg.count ? hi + 1 : lo - 1;
    const s = await checkSequence(image, 'classic', standardEdits(sg, truth.data, 1, { first: mid, second: Math.round((lo + mid) / 2), correct: Math.round((mid + hi) / 2), absent }));
    assert.equal(s.axis, defaultSliceAxis(image.spacing));
  });
});

describe('session: reuse, history, progress, errors', () => {
  const blob = makeBlob({ nx: 40, ny: 40, nz: 30, z0: 3, z1: 27 });
  const sg = new SliceGeometry(blob.image, 2);
  const mask = (w: number) => sg.maskOf(blob.truth, w, 1) ?? new Uint8Array(sg.area);

  it('re-runs only the fronts next to an edited key slice (an engine whose fronts depend on nothing else)', async () => {
    const calls: number[] = [];
    const counted: SliceEngine = {
      ...interpolationEngine,
      async open(img, run) {
        const inner = await interpolationEngine.open(img, run);
        return { ...inner, segmentSlice: (k) => inner.segmentSlice(k), propagate: (st) => (calls.push(st.front.key), inner.propagate(st)) };
      },
    };
    const s = await openSession(blob.image, { engine: counted });
    for (const w of [6, 12, 18, 24]) await s.setKeySlice(1, w, { mask: mask(w) });
    await drainAll(s.propagate());
    const all = calls.length;
    calls.length = 0;
    await s.setKeySlice(1, 21, { mask: mask(21) });
    await drainAll(s.propagate());
    assert.ok(calls.length > 0 && calls.length < all / 2, `${calls.length} engine steps after the edit, ${all} at first`);
    assert.deepEqual([...new Set(calls)].sort((a, b) => a - b), [18, 21, 24], 'the fronts of the split gap only');
    const scratch = await segment(blob.image, { axis: 2, labels: [{ value: 1, keySlices: [6, 12, 18, 24, 21].map((w) => ({ index: w, empty: false, mask: mask(w), points: [], negativePoints: [] })) }] }, { engine: interpolationEngine });
    assert.deepEqual((await s.labels()).data, scratch.labels.data);
  });

  it('undo and redo over more than 50 edits give back exactly the labels there were', async () => {
    const s = await openSession(blob.image, { engine: 'interp' });
    const seen: Uint8Array[] = [];
    const ws = Array.from({ length: 56 }, (_, i) => 5 + ((i * 7) % 20));
    for (const [i, w] of ws.entries()) {
      if (i % 3 === 2) await s.setKeySlice(1, w, { absent: true });
      else await s.setKeySlice(1, w, { mask: mask(w) });
      await drainAll(s.propagate());
      seen.push(Uint8Array.from((await s.labels()).data));
    }
    for (let i = seen.length - 2; i >= seen.length - 52; i--) {
      assert.ok(await s.undo());
      await drainAll(s.propagate());
      assert.deepEqual(Uint8Array.from((await s.labels()).data), seen[i], `undo to edit ${i}`);
    }
    for (let i = seen.length - 51; i < seen.length; i++) {
      assert.ok(await s.redo());
      await drainAll(s.propagate());
      assert.deepEqual(Uint8Array.from((await s.labels()).data), seen[i], `redo to edit ${i}`);
    }
    assert.equal(await s.redo(), null);
  });

  it('keeps its own copies of the key slices it is given: a caller changing its arrays later changes nothing', async () => {
    const s = await openSession(blob.image, { engine: 'interp' });
    const given: KeySlice[] = [6, 18].map((w) => ({ index: w, empty: false, mask: mask(w), points: [[20, 20]], negativePoints: [] }));
    await s.setAnnotations({ axis: 2, labels: [{ value: 1, keySlices: given }] });
    await drainAll(s.propagate());
    const before = Uint8Array.from((await s.labels()).data);
    for (const k of given) {
      k.mask?.fill(0);
      k.points[0][0] = 3;
    }
    const corrected = mask(12);
    await s.correct(1, 12, corrected);
    corrected.fill(0);
    assert.deepEqual(await s.pending(), [1], 'the correction is pending');
    await drainAll(s.propagate());
    const scratch = await segment(blob.image, { axis: 2, labels: [{ value: 1, keySlices: [6, 12, 18].map((w) => ({ index: w, empty: false, mask: mask(w), points: w === 12 ? [] : [[20, 20]], negativePoints: [] })) }] }, { engine: 'interp' });
    assert.deepEqual((await s.labels()).data, scratch.labels.data, 'the labels of the key slices as given');
    assert.ok(await s.undo());
    assert.deepEqual(await s.pending(), [], 'undo finds the first result again');
    assert.deepEqual(Uint8Array.from((await s.labels()).data), before);
  });

  it('bad input gets a named error and leaves the session exactly as it was', async () => {
    const s = await openSession(blob.image, { engine: 'interp' });
    await s.setKeySlice(1, 10, { mask: mask(10) });
    await drainAll(s.propagate());
    const before = Uint8Array.from((await s.labels()).data);
    const rev = await s.revision();
    const bad: [string, () => unknown, RegExp][] = [
      ['slice out of range', () => s.setKeySlice(1, 30, { mask: mask(10) }), /key slice 30 is out of range 0\.\.29/],
      ['unknown label', () => s.correct(7, 10, mask(10)), /label 7 is not in this session \(labels: 1\)/],
      ['mask of the wrong size', () => s.setKeySlice(1, 12, { mask: new Uint8Array(10) }), /the mask holds 10 pixels, the slice 40 x 40 = 1600/],
      ['point outside the slice', () => s.setKeySlice(1, 12, { points: [[40, 3]] }), /point \[40, 3\] lies outside the slice/],
      ['box outside the slice', () => s.setKeySlice(1, 12, { box: [2, 2, 50, 9] }), /box corner \[50, 9\] lies outside/],
      ['no prompt', () => s.setKeySlice(1, 12, {}), /no mask, box or point/],
      ['remove a missing key slice', () => s.removeKeySlice(1, 11), /label 1 has no key slice 11 \(its key slices: 10\)/],
      ['label value', () => s.setKeySlice(0, 12, { mask: mask(12) }), /a label value is a whole number from 1 to 65535/],
      ['propagate an unknown label', () => s.propagate({ labels: [4] }), /label 4 is not in this session/],
      ['remove an unknown label', () => s.removeLabel(7), /label 7 is not in this session \(labels: 1\)/],
    ];
    for (const [what, f, msg] of bad) {
      await assert.rejects(async () => f(), (e: unknown) => e instanceof KeysliceError && e.code === 'INVALID_ANNOTATION' && msg.test(e.message), what);
      assert.deepEqual(await s.revision(), rev, `${what}: no new revision`);
      assert.deepEqual(await s.pending(), [], `${what}: nothing to propagate`);
      assert.deepEqual(Uint8Array.from((await s.labels()).data), before, `${what}: labels unchanged`);
    }
    assert.deepEqual(await s.keySlices(1), [{ slice: 10, kind: 'mask' }]);
    // A label removed and the removal undone: its result comes back as it was, with nothing to propagate.
    await s.removeLabel(1);
    assert.ok((await s.labels()).data.every((x) => x === 0));
    assert.ok(await s.undo());
    assert.deepEqual(await s.pending(), []);
    assert.deepEqual(Uint8Array.from((await s.labels()).data), before);
  });

  it('byte helpers of the caches read a byte array the same wherever it starts against word boundaries', () => {
    const buf = new Uint8Array(203);
    for (const i of [1, 2, 40, 41, 77, 150, 199, 202]) buf[i] = 1 + (i % 5);
    buf.fill(1, 100, 131);
    for (let shift = 0; shift < 4; shift++) {
      const a = buf.subarray(shift, shift + 197);
      const copy = a.slice();
      assert.equal(hashBytes(a), hashBytes(copy), `shift ${shift}: the hash follows the bytes`);
      assert.equal(hashBytes(a), hashBytes(Array.from(a)), `shift ${shift}: as a plain array too`);
      assert.ok(sameBytes(a, copy) && sameBytes(copy, a));
      for (const i of [0, 3, 100, 196]) {
        const other = copy.slice();
        other[i] ^= 1;
        assert.ok(!sameBytes(a, other) && !sameBytes(other, a), `shift ${shift}: byte ${i} differs`);
        assert.notEqual(hashBytes(other), hashBytes(a));
      }
      const set: number[] = [];
      eachSetRun(a, (start, end) => {
        assert.ok(end > start && (start === 0 || a[start - 1] === 0) && (end === a.length || a[end] === 0), `shift ${shift}: [${start}, ${end}) is a whole run`);
        for (let i = start; i < end; i++) set.push(i);
      });
      assert.deepEqual(set, [...a.keys()].filter((i) => a[i] !== 0), `shift ${shift}: every set byte in order`);
      assert.ok(anyNonZero(a));
      const zeros = new Uint8Array(203).subarray(shift, shift + 197);
      assert.ok(!anyNonZero(zeros));
      zeros[196] = 1;
      assert.ok(anyNonZero(zeros), 'the last byte counts');
    }
  });

  it('yields every slice as it is decided, and a cancelled propagation leaves the session usable', async () => {
    const s = await openSession(blob.image, { engine: 'classic' });
    await s.setKeySlice(1, 15, { mask: mask(15) });
    const ac = new AbortController();
    const early: SliceUpdate[] = [];
    await assert.rejects(async () => {
      for await (const u of s.propagate({ signal: ac.signal })) {
        early.push(u);
        ac.abort();
      }
    }, (e: unknown) => (e as Error).name === 'AbortError');
    assert.equal(early.length, 1, 'stopped after the first slice');
    assert.equal(early[0].source, 'front');
    assert.deepEqual(await s.pending(), [1], 'the label still needs propagating');
    for await (const u of s.propagate()) {
      assert.equal(u.source, 'front');
      break; // leaving early stops the propagation too
    }
    assert.deepEqual(await s.pending(), [1]);
    const updates = await drainAll(s.propagate());
    const sources = new Set(updates.map((u) => u.source));
    assert.ok(sources.has('key') && sources.has('front'), [...sources].join(','));
    const last = new Map<number, SliceUpdate>();
    for (const u of updates) {
      assert.equal(u.mask.length, sg.area);
      if (u.box) assert.ok(u.mask[u.box[0] + sg.nu * u.box[1]] !== undefined);
      const was = last.get(u.slice);
      if (was) {
        // a slice comes again only as the final result, and only with another mask
        assert.ok(!was.final && u.final, `slice ${u.slice}: provisional, then final`);
        assert.notDeepEqual(u.mask, was.mask, `slice ${u.slice}: the same mask sent twice`);
      }
      last.set(u.slice, u);
    }
    assert.equal(updates.filter((u) => u.source === 'front' && u.final === false).length > 0, true, 'fronts send provisional updates');
    const scratch = await segment(blob.image, { axis: 2, labels: [{ value: 1, keySlices: [{ index: 15, empty: false, mask: mask(15), points: [], negativePoints: [] }] }] });
    assert.deepEqual((await s.labels()).data, scratch.labels.data);
    const stack = new Uint8Array(sg.area * sg.count);
    for (const u of last.values()) stack.set(u.mask, u.slice * sg.area);
    const fromLabels = new Uint8Array(sg.area * sg.count);
    for (let w = 0; w < sg.count; w++) fromLabels.set(sg.maskOf((await s.labels()).data, w, 1) ?? new Uint8Array(sg.area), w * sg.area);
    assert.deepEqual(stack, fromLabels, 'the last update of each slice is the labels there');
  });

  it('two sessions sharing one model give the results each gives alone', async () => {
    const model = await loadSamModel(writeBrightnessModel(path.join(tmp, 'shared')), { memoryCacheBytes: 0 });
    const engine = samEngine(model);
    const edit = async (keys: number[]) => {
      const s = await openSession(blob.image, { engine });
      for (const w of keys) await s.setKeySlice(1, w, { mask: mask(w) });
      await drainAll(s.propagate());
      return s;
    };
    const alone = [await edit([10]), await edit([8, 20])];
    const [a, b] = await Promise.all([edit([10]), edit([8, 20])]);
    assert.deepEqual((await a.labels()).data, (await alone[0].labels()).data);
    assert.deepEqual((await b.labels()).data, (await alone[1].labels()).data);
    const strip = async (s: KeysliceSessionHandle) => Object.fromEntries(Object.entries((await s.report()).engineStats ?? {}).filter(([k]) => !k.endsWith('Seconds')));
    assert.deepEqual(await strip(a), await strip(alone[0]), 'each session counts its own model calls');
    assert.deepEqual(await strip(b), await strip(alone[1]));
  });
});

describe('session: propagation without slice updates', () => {
  it('yields no slice update with updates: false, hears each label, and merges the same labels', async () => {
    const ph = makePhantom({ size: [64, 64, 16], seed: 5 });
    const sg = new SliceGeometry(ph.image, 2);
    const open = async () => {
      const s = await openSession(ph.image, { engine: 'classic' });
      for (const w of [5, 10]) await s.setKeySlice(1, w, { mask: maskKey(sg, ph.truth.data, 1, w).mask as Uint8Array });
      return s;
    };
    const withUpdates = await open();
    const updates = await drainAll(withUpdates.propagate());
    assert.ok(updates.length > 0);
    const quiet = await open();
    const done: number[] = [];
    const none = await drainAll(quiet.propagate({ updates: false, onLabel: (p) => done.push(p.label) }));
    assert.equal(none.length, 0, 'no slice updates');
    assert.deepEqual(done, [1]);
    assert.deepEqual((await quiet.labels()).data, (await withUpdates.labels()).data);
    await withUpdates.close();
    await quiet.close();
  });
});

describe('session: reuse of fronts across edits', () => {
  const blob = makeBlob({ nx: 40, ny: 40, nz: 30, z0: 3, z1: 27 });
  const sg = new SliceGeometry(blob.image, 2);
  const mask = (w: number) => sg.maskOf(blob.truth, w, 1) ?? new Uint8Array(sg.area);
  const counting = (withDepends = false) => {
    const calls: string[] = [];
    const base = classicEngine();
    const engine: SliceEngine = {
      ...base,
      async open(img, run) {
        const inner = await base.open(img, run);
        return {
          segmentSlice: (k) => inner.segmentSlice(k),
          ...(inner.learn ? { learn: (k: { index: number; mask: Uint8Array }[]) => inner.learn?.(k) } : {}),
          propagate: (st) => (calls.push(`${st.front.key}${st.front.direction > 0 ? '+' : '-'}`), inner.propagate(st)),
          ...(withDepends && inner.dependsOn ? { dependsOn: (f: FrontInfo) => inner.dependsOn?.(f) ?? [] } : {}),
        };
      },
    };
    return { engine, calls };
  };
  const edit = async (reuse: 'exact' | 'fronts') => {
    const { engine, calls } = counting();
    const s = await openSession(blob.image, { engine, reuse });
    for (const w of [8, 15, 22]) await s.setKeySlice(1, w, { mask: mask(w) });
    await drainAll(s.propagate());
    calls.length = 0;
    await s.setKeySlice(1, 11, { mask: mask(11) });
    await drainAll(s.propagate());
    return { s, keys: new Set(calls) };
  };

  it('a key slice that shows lesions apart changes the fronts of every key slice of its label (none is answered from before)', async () => {
    // An image-guided engine whose fronts depend on nothing else: it carries the mask over to slice 16 and finds
    // nothing from 17 on. Once key slice 4 shows two lesions apart, the label is one of lesions, and the front
    // from 14 (one lesion, its inputs otherwise unchanged) leaves the lesion's tip on 17.
    const { nu, nv } = sg;
    const disc = (cu: number, cv: number, r: number, m: Uint8Array = new Uint8Array(nu * nv)): Uint8Array => {
      for (let v = 0; v < nv; v++) for (let u = 0; u < nu; u++) if ((u - cu) ** 2 + (v - cv) ** 2 <= r * r) m[u + nu * v] = 1;
      return m;
    };
    const carries: SliceEngine = {
      name: 'carries',
      description: 'test engine',
      frontsIndependent: true,
      async open() {
        return {
          segmentSlice: () => Promise.reject(new Error('mask prompts only')),
          propagate: async (st) => ({ mask: st.to <= 16 ? st.mask.slice() : new Uint8Array(st.mask.length), confidence: 0.9 }),
        };
      },
    };
    const edits: [number, Uint8Array][] = [
      [4, disc(8, 8, 3)],
      [14, disc(28, 28, 4)],
      [4, disc(27, 28, 3, disc(8, 8, 3))],
    ];
    const s = await openSession(blob.image, { engine: carries });
    const keys = new Map<number, KeySlice>();
    let tipOn17 = 0;
    for (const [w, m] of edits) {
      await s.setKeySlice(1, w, { mask: m });
      await drainAll(s.propagate());
      keys.set(w, { index: w, empty: false, mask: m, points: [], negativePoints: [] });
      const scratch = await segment(blob.image, { axis: 2, labels: [{ value: 1, keySlices: [...keys.values()] }] }, { engine: carries });
      const mine = await s.labels();
      assert.deepEqual(mine.data, scratch.labels.data, `after the key slice on ${w}: labels equal segment()`);
      tipOn17 = sg.maskOf(mine.data, 17, 1)?.reduce((a, b) => a + b, 0) ?? 0;
    }
    assert.ok(tipOn17 > 0, 'the lesion from 14 leaves its tip on 17');
  });

  it('exact: an engine that learns from every key slice runs all its fronts again; fronts: only those next to the edit', async () => {
    const exact = await edit('exact');
    assert.deepEqual([...exact.keys].sort(), ['11+', '11-', '15+', '15-', '22+', '22-', '8+', '8-']);
    const fronts = await edit('fronts');
    for (const f of ['8+', '11-', '11+', '15-']) assert.ok(fronts.keys.has(f), `front ${f} of the split gap runs`);
    assert.ok(!fronts.keys.has('8-') && !fronts.keys.has('22+'), `the outward fronts are reused (ran: ${[...fronts.keys].join(', ')})`);
    const scratch = await segment(blob.image, { axis: 2, labels: [{ value: 1, keySlices: [8, 15, 22, 11].map((w) => ({ index: w, empty: false, mask: mask(w), points: [], negativePoints: [] })) }] });
    assert.deepEqual((await exact.s.labels()).data, scratch.labels.data, 'exact reuse equals segment()');
    const a = Uint8Array.from((await fronts.s.labels()).data, (x) => (x ? 1 : 0));
    const b = Uint8Array.from(scratch.labels.data, (x) => (x ? 1 : 0));
    let both = 0;
    let n = 0;
    for (let i = 0; i < a.length; i++) {
      both += a[i] & b[i];
      n += a[i] + b[i];
    }
    assert.ok((2 * both) / n > 0.97, `fronts reuse stays close to segment(): Dice ${((2 * both) / n).toFixed(4)}`);
  });

  it('keeps what the engine learned from each key slice: an edit learns from the new or changed key slice only', async () => {
    const s = await openSession(blob.image, { engine: 'classic' });
    const keys = new Map<number, Uint8Array>();
    const set = (w: number, m: Uint8Array) => setAndCount(blob.image, s, keys, w, m, 'keyDerived');
    await set(8, mask(8));
    await set(22, mask(22));
    assert.deepEqual(await set(15, mask(15)), { hits: 2, misses: 1 }, 'a new key slice: learned from it alone');
    // The same slice corrected with another mask (the object one slice further): learned again, the others kept.
    assert.deepEqual(await set(15, mask(16)), { hits: 2, misses: 1 }, 'a changed key mask: learned from it again');
    assert.ok(await s.undo());
    assert.deepEqual(await s.pending(), [], 'undo finds the label in the cache');
  });

  it('exact: a key slice added inside a gap runs the fronts of that gap only; the neighbouring gaps keep theirs', async () => {
    const { engine, calls } = counting(true);
    const s = await openSession(blob.image, { engine });
    const keys = [4, 8, 15, 22, 26];
    for (const w of keys) await s.setKeySlice(1, w, { mask: mask(w) });
    await drainAll(s.propagate());
    calls.length = 0;
    await s.setKeySlice(1, 11, { mask: mask(11) });
    await drainAll(s.propagate());
    // The fronts of the gaps 4-8 and 15-22 are guided by the interpolation of their own key slices, which the new
    // key slice leaves as it was (the prior they are fused with still bends through it).
    assert.deepEqual([...new Set(calls)].sort(), ['11+', '11-', '15-', '8+']);
    const scratch = await segment(blob.image, { axis: 2, labels: [{ value: 1, keySlices: [...keys, 11].map((w) => ({ index: w, empty: false, mask: mask(w), points: [], negativePoints: [] })) }] });
    assert.deepEqual((await s.labels()).data, scratch.labels.data, 'the labels equal segment()');
  });
});

describe('session: slices of the image kept across edits', () => {
  const blob = makeBlob({ nx: 96, ny: 96, nz: 30, z0: 3, z1: 27 });
  const sg = new SliceGeometry(blob.image, 2);
  const mask = (w: number) => sg.maskOf(blob.truth, w, 1) ?? new Uint8Array(sg.area);
  /** Slice w's truth moved `du` pixels along u. */
  const shifted = (w: number, du: number) => {
    const m = mask(w);
    const out = new Uint8Array(m.length);
    for (let v = 0; v < sg.nv; v++) for (let u = 0; u + du < sg.nu; u++) out[u + du + sg.nu * v] = m[u + sg.nu * v];
    return out;
  };

  it('an edit inside the region of interest reuses the slices derived before; one that widens the region reuses none; the labels equal segment()', async () => {
    const s = await openSession(blob.image, { engine: 'classic' });
    const keys = new Map<number, Uint8Array>();
    const set = (w: number, m: Uint8Array) => setAndCount(blob.image, s, keys, w, m, 'sliceDerived');
    /** The same key slices in a new session, propagated once: what it derives, and what it finds again itself. */
    const fresh = async (): Promise<{ hits: number; misses: number }> => {
      const f = await openSession(blob.image, { engine: 'classic' });
      for (const [w, m] of keys) await f.setKeySlice(1, w, { mask: m });
      await drainAll(f.propagate());
      const { sliceDerivedHits: hits, sliceDerivedMisses: misses } = f.cacheStats();
      await f.close();
      return { hits, misses };
    };
    const first = await set(15, mask(15));
    assert.ok(first.misses > 0, `the first run derives the slices it visits (${JSON.stringify(first)})`);
    // Slice 8's object lies inside slice 15's box: the region of interest stays, the gap's fronts revisit slices.
    const inside = await set(8, mask(8));
    const insideFresh = await fresh();
    assert.ok(inside.hits > insideFresh.hits && inside.misses < insideFresh.misses, `slices derived before are reused (${JSON.stringify({ inside, insideFresh })})`);
    // A mask further along u widens the region: nothing is reused, the edit derives what a new session does.
    const wider = await set(22, shifted(22, 20));
    assert.deepEqual(wider, await fresh(), 'a new region of interest reuses nothing');
    assert.ok(await s.undo());
    await drainAll(s.propagate());
    await s.close();
    assert.throws(() => s.propagate(), /closed/);
  });
});

describe('interactive benchmark', () => {
  it('a simulated annotator corrects the suggested slices; each result equals a from-scratch segment()', async () => {
    const ph = makePhantom({ size: [64, 64, 16], seed: 5 });
    const root = path.join(tmp, 'bench');
    fs.mkdirSync(root, { recursive: true });
    await writeVolume(ph.image, path.join(root, 'img.nii.gz'));
    await writeVolume(ph.truth, path.join(root, 'lab.nii.gz'));
    const rows = await runInteractiveBench({
      datasets: [{ name: 'phantom', modality: 'CT', root, cases: [{ id: 'p', image: 'img.nii.gz', label: 'lab.nii.gz', labels: [1] }] }],
      engine: 'classic',
      edits: 2,
    });
    assert.deepEqual(rows.map((r) => r.edit), [0, 1, 2]);
    assert.ok(rows.every((r) => r.same), 'session labels equal segment() after every edit');
    assert.ok(rows.every((r) => r.editSeconds > 0 && r.fullSeconds > 0));
    assert.equal(new Set(rows.map((r) => r.slice)).size, 3, 'each edit on a new slice');
    assert.ok(rows[2].dice >= rows[0].dice - 0.02, `Dice ${rows.map((r) => r.dice.toFixed(3)).join(' -> ')}`);
    const [sum] = summariseInteractive(rows);
    assert.equal(sum.edit.n, 2);
    assert.equal(sum.diceAfter.length, 3);
    assert.ok(Number.isFinite(sum.ratio));
    assert.ok(Number.isFinite(sum.cpuRatio) && sum.cpuRatio > 0);
  });
});
