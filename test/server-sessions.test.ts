import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { WorkerPool } from '../src/server/pool.js';
import { SessionManager } from '../src/server/sessions.js';
import { tempDir } from './helpers/paths.js';
import { phantomUpload } from './helpers/server.js';

/** A pool whose workers take `openMs` to open a session and answer everything else at once. */
function slowPool(openMs: number): WorkerPool {
  const pool = {
    assign: () => undefined,
    release: () => undefined,
    request: (_sid: string, msg: { op: string }) => ({
      id: 1,
      reply: msg.op === 'open' ? new Promise((r) => setTimeout(() => r({ axis: 2, count: 12, nu: 64, nv: 64, engine: 'classic' }), openMs)) : Promise.resolve(null),
    }),
  };
  return pool as unknown as WorkerPool;
}

describe('server: session manager', () => {
  it('a session whose opening takes longer than the idle limit is not expired while it opens', async () => {
    const tmp = tempDir();
    try {
      const dataDir = path.join(tmp.dir, 'd');
      for (const d of ['images', 'sessions', 'tmp']) mkdirSync(path.join(dataDir, d), { recursive: true });
      const up = await phantomUpload(tmp.dir);
      const manager = new SessionManager(slowPool(300), { dataDir, maxSessions: 4, idleMs: 40 });
      const creating = manager.create({ bytes: up.bytes, engine: 'classic', api: 'native' });
      const swept: string[] = [];
      const sweep = setInterval(() => void manager.expireIdle().then((ids) => swept.push(...ids)), 10);
      let created;
      try {
        created = await creating;
      } finally {
        clearInterval(sweep);
      }
      assert.deepEqual(swept, [], 'nothing expired while opening');
      assert.ok(manager.live.has(created.live.id));
      assert.equal(created.live.busy, 0);
      const journal = readFileSync(path.join(dataDir, 'sessions', `${created.live.id}.ndjson`), 'utf8').trim().split('\n');
      assert.deepEqual(journal.map((l) => (JSON.parse(l) as { t: string }).t), ['open']);
      // once open, it expires after the idle limit as any other
      await new Promise((r) => setTimeout(r, 60));
      assert.deepEqual(await manager.expireIdle(), [created.live.id]);
      assert.ok(manager.expired.has(created.live.id));
    } finally {
      tmp.cleanup();
    }
  });
});
