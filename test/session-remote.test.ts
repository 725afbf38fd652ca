import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RunningServer } from '../src/server/server.js';
import { openSession } from '../src/session/session.js';
import { RemoteSession } from '../src/session/remote.js';
import type { Session, SliceUpdate } from '../src/session/types.js';
import { KeysliceError } from '../src/util/errors.js';
import { readVolume } from '../src/volume/io-node.js';
import type { Volume } from '../src/volume/volume.js';
import { tempDir } from './helpers/paths.js';
import { phantomUpload, testServer, type PhantomUpload } from './helpers/server.js';

/** The error code an edit fails with (null when it succeeds). */
async function codeOf(f: () => unknown): Promise<string | null> {
  try {
    await f();
    return null;
  } catch (err) {
    assert.ok(err instanceof KeysliceError, `expected a KeysliceError, got ${String(err)}`);
    return err.code;
  }
}

async function drain(s: Session, labels?: number[]): Promise<{ label: number; slice: number; mask: Uint8Array }[]> {
  const out = [];
  for await (const u of s.propagate(labels ? { labels } : {})) out.push({ label: u.label, slice: u.slice, mask: u.mask });
  return out;
}

let tmp: { dir: string; cleanup: () => void };
let srv: RunningServer;
let up: PhantomUpload;
let image: Volume;

before(async () => {
  tmp = tempDir();
  up = await phantomUpload(tmp.dir);
  // The scan as the server reads the uploaded file (its spacing as stored, in single precision), so that both
  // sessions work on the same image.
  image = await readVolume(up.file);
  srv = await testServer(path.join(tmp.dir, 'data'));
});
after(async () => {
  await srv.close();
  tmp.cleanup();
});

const openers: [string, () => Promise<Session>][] = [
  ['local', () => openSession(image, { engine: 'classic' })],
  ['remote', () => RemoteSession.open(srv.url, up.bytes, { engine: 'classic' })],
];

for (const [name, open] of openers) {
  describe(`session suite (${name})`, () => {
    it('edits key slices, reports revisions and key slices, undoes and redoes', async () => {
      const s = await open();
      assert.deepEqual([s.axis, s.count, s.nu, s.nv], [2, 12, 64, 64]);
      const r1 = await s.setKeySlice({ value: 1, name: 'organ' }, 4, { mask: up.keyMask(4) });
      const r2 = await s.setKeySlice(1, 8, { mask: up.keyMask(8) });
      assert.ok(r2.id > r1.id);
      assert.deepEqual(r2.labels, [1]);
      await s.setKeySlice(1, 0, { absent: true });
      assert.deepEqual((await s.keySlices(1)).map((k) => [k.slice, k.kind]), [[0, 'absent'], [4, 'mask'], [8, 'mask']]);
      const u = await s.undo();
      assert.deepEqual(u, r2);
      assert.deepEqual((await s.keySlices(1)).map((k) => k.slice), [4, 8]);
      assert.deepEqual(await s.revision(), r2);
      const rd = await s.redo();
      assert.equal(rd!.id, r2.id + 1);
      assert.equal(await s.redo(), null);
      await s.removeKeySlice(1, 0);
      assert.deepEqual((await s.keySlices(1)).map((k) => k.slice), [4, 8]);
      await s.close();
    });

    it('propagates slice by slice, and its labels hold what was streamed', async () => {
      const s = await open();
      await s.setKeySlice(1, 3, { mask: up.keyMask(3) });
      await s.setKeySlice(1, 8, { mask: up.keyMask(8) });
      assert.deepEqual(await s.pending(), [1]);
      const updates = await drain(s);
      assert.ok(updates.length > 0);
      assert.deepEqual(await s.pending(), []);
      const labels = await s.labels();
      assert.deepEqual(labels.size, [64, 64, 12]);
      const last = new Map(updates.map((u) => [`${u.label}:${u.slice}`, u]));
      for (const u of last.values()) {
        for (let i = 0; i < 4096; i++) assert.equal(labels.data[u.slice * 4096 + i] === u.label ? 1 : 0, u.mask[i] ? 1 : 0);
      }
      const key3 = last.get('1:3')!;
      assert.deepEqual(Array.from(key3.mask, (x) => (x ? 1 : 0)), Array.from(up.keyMask(3)));
      assert.ok(Array.isArray(await s.suggest(2)));
      assert.ok(await s.report());
      await s.close();
    });

    it('sends no mask twice: a slice comes again only as a different final mask, and the last update is the result', async () => {
      const s = await open();
      await s.setKeySlice(1, 2, { mask: up.keyMask(2) });
      await s.setKeySlice(1, 9, { mask: up.keyMask(9) });
      await s.setKeySlice(2, 6, { mask: up.keyMask(6, 2) });
      const last = new Map<string, SliceUpdate>();
      let provisional = 0;
      for await (const u of s.propagate()) {
        const k = `${u.label}:${u.slice}`;
        const was = last.get(k);
        if (was) {
          assert.ok(!was.final && u.final, `${k}: provisional, then final`);
          assert.ok(!Buffer.from(was.mask).equals(Buffer.from(u.mask)), `${k}: the same mask sent twice`);
        }
        provisional += u.final ? 0 : 1;
        last.set(k, u);
      }
      assert.ok(provisional > 0, 'fronts send provisional updates');
      const labels = await s.labels();
      for (const l of [1, 2]) {
        for (let w = 0; w < 12; w++) {
          const u = last.get(`${l}:${w}`);
          const held = labels.data.subarray(w * 4096, (w + 1) * 4096);
          // where labels overlap, the volume holds one of them
          const got = Array.from(held, (x, i) => (x === l || (x !== 0 && u?.mask[i]) ? 1 : 0));
          if (!u) assert.ok(!held.includes(l), `label ${l} slice ${w} holds voxels but was never sent`);
          else assert.deepEqual(Array.from(u.mask, (x) => (x ? 1 : 0)), got, `label ${l} slice ${w}`);
        }
      }
      await s.close();
    });

    it('rejects bad input with the named error and keeps its state', async () => {
      const s = await open();
      await s.setKeySlice(1, 4, { mask: up.keyMask(4) });
      const rev = await s.revision();
      const bad: [string, () => Promise<unknown>, RegExp][] = [
        ['slice out of range', () => s.setKeySlice(1, 40, { absent: true }), /key slice 40 is out of range/],
        ['mask of the wrong size', () => s.setKeySlice(1, 2, { mask: new Uint8Array(10) }), /10 pixels/],
        ['point outside', () => s.setKeySlice(1, 2, { points: [[70, 3]] }), /point \[70, 3\] lies outside the slice/],
        ['unknown label', () => s.removeLabel(9), /label 9 is not in this session/],
        ['missing key slice', () => s.removeKeySlice(1, 7), /label 1 has no key slice 7/],
      ];
      for (const [what, f, msg] of bad) {
        await assert.rejects(f, (e: unknown) => e instanceof KeysliceError && e.code === 'INVALID_ANNOTATION' && msg.test(e.message), what);
        assert.deepEqual(await s.revision(), rev, `${what}: no new revision`);
      }
      assert.deepEqual(await s.pending(), [1]);
      assert.deepEqual(await s.keySlices(1), [{ slice: 4, kind: 'mask' }]);
      await s.close();
    });

    it('a propagation stopped part-way leaves the session usable', async () => {
      const s = await open();
      await s.setKeySlice(1, 2, { mask: up.keyMask(2) });
      await s.setKeySlice(1, 9, { mask: up.keyMask(9) });
      const ac = new AbortController();
      let seen = 0;
      await assert.rejects(async () => {
        for await (const _ of s.propagate({ signal: ac.signal })) {
          seen++;
          ac.abort();
        }
      }, (e: unknown) => (e as Error).name === 'AbortError');
      assert.equal(seen, 1);
      const all = await drain(s);
      assert.deepEqual(await s.pending(), []);
      const labels = await s.labels();
      const last = new Map(all.map((u) => [u.slice, u.mask]));
      for (const [w, mask] of last) for (let i = 0; i < 4096; i++) assert.equal(labels.data[w * 4096 + i] === 1 ? 1 : 0, mask[i] ? 1 : 0);
      await s.close();
    });
  });
}

describe('remote and local sessions', () => {
  it('give the same revisions, errors and labels, voxel for voxel, for the same edits', async () => {
    const [local, remote] = await Promise.all(openers.map(([, o]) => o()));
    const steps: ((s: Session) => unknown)[] = [
      (s) => s.setKeySlice({ value: 1, name: 'organ' }, 3, { mask: up.keyMask(3) }),
      (s) => s.setKeySlice(1, 9, { mask: up.keyMask(9) }),
      (s) => s.setKeySlice(2, 6, { mask: up.keyMask(6, 2) }),
      (s) => drain(s),
      (s) => s.correct(1, 6, up.keyMask(6)),
      (s) => s.setKeySlice(1, 11, { absent: true }),
      (s) => drain(s),
      (s) => s.undo(),
      (s) => drain(s),
      (s) => s.removeLabel(2),
      (s) => drain(s),
    ];
    for (const step of steps) {
      const [a, b] = await Promise.all([step(local), step(remote)]);
      if (Array.isArray(a)) assert.deepEqual((b as unknown[]).length, a.length);
      else assert.deepEqual(b, a);
      assert.deepEqual(await remote.revision(), await local.revision());
      const [la, lb] = await Promise.all([local.labels(), remote.labels()]);
      assert.ok(Buffer.from(la.data.buffer).equals(Buffer.from(lb.data.buffer)), 'labels differ');
    }
    const bad: ((s: Session) => unknown)[] = [
      (s) => s.setKeySlice(1, 40, { absent: true }),
      (s) => s.setKeySlice(1, -1, { absent: true }),
      (s) => s.setKeySlice(1, 2, { mask: new Uint8Array(10) }),
      (s) => s.correct(1, 2, new Uint8Array(5000)),
      (s) => s.removeKeySlice(1, 7),
      (s) => s.removeLabel(77),
    ];
    for (const b of bad) {
      const want = await codeOf(() => b(local));
      assert.notEqual(want, null);
      assert.equal(await codeOf(() => b(remote)), want);
    }
    assert.deepEqual(await remote.revision(), await local.revision());
    local.close();
    await remote.close();
  });
});
