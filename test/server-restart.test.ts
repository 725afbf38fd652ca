import assert from 'node:assert/strict';
import { mkdirSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { encodeRle } from '../src/session/rle.js';
import { tempDir } from './helpers/paths.js';
import { api, phantomUpload, spawnServer, testServer } from './helpers/server.js';

async function rawLabels(url: string, token: string): Promise<Uint8Array> {
  const r = await fetch(`${url}/labels?format=raw`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(r.status, 200);
  return new Uint8Array(await r.arrayBuffer());
}

describe('server: restart after a crash', () => {
  it('restores sessions killed with SIGKILL: same labels, same key slices, same undo history', async () => {
    const tmp = tempDir();
    const data = path.join(tmp.dir, 'data');
    const first = await spawnServer(['--data', data, '--workers', '1']);
    let second: Awaited<ReturnType<typeof spawnServer>> | undefined;
    try {
      const up = await phantomUpload(tmp.dir);
      const o = (await api(`${first.url}/sessions`, 'POST', undefined, up.bytes)).json;
      const base = `${first.url}/sessions/${o.id}`;
      const key = (w: number, l = 1) => ({ mask: { rle: encodeRle(up.keyMask(w, l), 64, 64) } });
      const revs = [];
      revs.push((await api(`${base}/labels/1/slices/3`, 'PUT', o.token, { ...key(3), name: 'organ' })).json);
      revs.push((await api(`${base}/labels/1/slices/9`, 'PUT', o.token, key(9))).json);
      revs.push((await api(`${base}/labels/2/slices/6`, 'PUT', o.token, key(6, 2))).json);
      const p1 = await api(`${base}/propagate`, 'POST', o.token, {});
      assert.match(p1.text, /"type":"end"/);
      revs.push((await api(`${base}/labels/1/slices/9`, 'DELETE', o.token)).json);
      const undone = (await api(`${base}/undo`, 'POST', o.token)).json.revision;
      assert.equal(undone.id, revs[2].id);
      revs.push((await api(`${base}/labels/1/slices/6`, 'PUT', o.token, key(6))).json);
      const p2 = await api(`${base}/propagate`, 'POST', o.token, { labels: [1] });
      assert.match(p2.text, /"type":"end"/);
      const before = (await api(base, 'GET', o.token)).json;
      const labelsBefore = await rawLabels(base, o.token);
      assert.ok(labelsBefore.some((x) => x > 0));

      // A closed session's image is removed on the next start; the open session's stays.
      mkdirSync(path.join(tmp.dir, 'other'));
      const other = await phantomUpload(path.join(tmp.dir, 'other'), [48, 48, 8]);
      const closed = (await api(`${first.url}/sessions`, 'POST', undefined, other.bytes)).json;
      assert.equal((await api(`${first.url}/sessions/${closed.id}`, 'DELETE', closed.token)).status, 200);
      assert.equal(readdirSync(path.join(data, 'images')).length, 2);

      first.child.kill('SIGKILL');
      await new Promise((r) => first.child.once('exit', r));

      second = await spawnServer(['--data', data, '--workers', '1']);
      assert.match(second.stderr(), /restored 1 session/);
      assert.equal(readdirSync(path.join(data, 'images')).length, 1);
      const base2 = `${second.url}/sessions/${o.id}`;
      const after = (await api(base2, 'GET', o.token)).json;
      assert.deepEqual(after, before);
      assert.deepEqual(await rawLabels(base2, o.token), labelsBefore);
      // The undo history goes back the same way and forward again.
      const u1 = (await api(`${base2}/undo`, 'POST', o.token)).json.revision;
      assert.deepEqual(u1, revs[2]);
      assert.deepEqual((await api(`${base2}/labels/1/slices`, 'GET', o.token)).json.map((k: { slice: number }) => k.slice), [3, 9]);
      const u2 = (await api(`${base2}/undo`, 'POST', o.token)).json.revision;
      assert.deepEqual(u2, revs[1]);
      const r1 = (await api(`${base2}/redo`, 'POST', o.token)).json.revision;
      assert.deepEqual(r1, revs[2]);
      const r2 = (await api(`${base2}/redo`, 'POST', o.token)).json.revision;
      assert.deepEqual(r2, revs[4]);
      assert.equal((await api(`${base2}/redo`, 'POST', o.token)).json.revision, null);
      // Its token is still the only one that opens it.
      assert.equal((await api(base2, 'GET', 'some-other-token')).status, 403);
    } finally {
      first.child.kill('SIGKILL');
      second?.child.kill('SIGTERM');
      if (second) await new Promise((r) => second!.child.once('exit', r));
      tmp.cleanup();
    }
  });

  it('restores a propagation stopped part-way as the labels it completed', async () => {
    const tmp = tempDir();
    const data = path.join(tmp.dir, 'data');
    let srv = await testServer(data, { workers: 1 });
    try {
      const up = await phantomUpload(tmp.dir, [128, 128, 32]);
      const o = (await api(`${srv.url}/sessions`, 'POST', undefined, up.bytes)).json;
      const path1 = () => `${srv.url}/sessions/${o.id}`;
      const area = (w: number, l: number) => up.keyMask(w, l).reduce((a, x) => a + x, 0);
      // label 2 (a few slices) propagates first, label 1 (most slices) second
      for (const l of [2, 1]) {
        const slices = Array.from({ length: 32 }, (_, w) => w).filter((w) => area(w, l) > 0);
        const w = slices[Math.floor(slices.length / 2)];
        assert.equal((await api(`${path1()}/labels/${l}/slices/${w}`, 'PUT', o.token, { mask: { rle: encodeRle(up.keyMask(w, l), 128, 128) } })).status, 200);
      }
      // Leave the stream as soon as label 2 is done: label 1 is stopped part-way.
      const ac = new AbortController();
      const res = await fetch(`${path1()}/propagate`, { method: 'POST', headers: { authorization: `Bearer ${o.token}`, 'content-type': 'application/json' }, body: '{}', signal: ac.signal });
      const reader = res.body!.getReader();
      let text = '';
      await assert.rejects(async () => {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          text += new TextDecoder().decode(value);
          const lines = text.split('\n').slice(0, -1).map((l) => JSON.parse(l) as { type: string; label?: number });
          if (lines.some((l) => l.type === 'label' && l.label === 2)) ac.abort();
        }
      }, (e: unknown) => (e as Error).name === 'AbortError');
      // (the state is read after the propagation's end: a session's requests run one at a time)
      const before = (await api(path1(), 'GET', o.token)).json;
      assert.deepEqual(before.pending, [1], 'label 2 completed, label 1 stopped');
      const labelsBefore = await rawLabels(path1(), o.token);
      assert.ok(labelsBefore.some((x) => x === 2) && !labelsBefore.some((x) => x === 1));
      await srv.close();

      srv = await testServer(data, { workers: 1 });
      assert.equal(srv.restored.restored, 1);
      assert.deepEqual((await api(path1(), 'GET', o.token)).json, before);
      assert.deepEqual(await rawLabels(path1(), o.token), labelsBefore);
      const rest = await api(`${path1()}/propagate`, 'POST', o.token, {});
      assert.match(rest.text, /"type":"end"/);
      assert.deepEqual((await api(path1(), 'GET', o.token)).json.pending, []);
    } finally {
      await srv.close();
      tmp.cleanup();
    }
  });
});
