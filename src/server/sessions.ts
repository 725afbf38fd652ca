/**
 * The server's sessions: created from an upload, tied to a token, pinned to a worker, their edits applied
 * one at a time and journalled before they are answered, restored from their journals on start and after a
 * worker dies, expired when idle.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { HttpError } from './errors.js';
import { Journal, type OpenRecord } from './journal.js';
import type { WorkerPool } from './pool.js';
import type { EditRecord, QueryOp } from './protocol.js';
import { imagePath, storeImage } from './upload.js';

export interface SessionInfo {
  axis: 0 | 1 | 2;
  count: number;
  nu: number;
  nv: number;
  engine: string;
  revision: { id: number; edit: string; labels: number[] };
}

export interface Live {
  id: string;
  open: OpenRecord;
  edits: EditRecord[];
  lastUsed: number;
  /** Requests queued or running. */
  busy: number;
  ready: Promise<SessionInfo>;
  queue: Promise<unknown>;
}

export interface ManagerOptions {
  dataDir: string;
  maxSessions: number;
  idleMs: number;
}

export function hashToken(token: string | undefined): string {
  return token ? createHash('sha256').update(token).digest('hex') : '';
}

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * What the journal records of an applied edit: the edit itself, except for a propagation stopped part-way,
 * which is recorded as the propagation of the labels it completed (nothing when it completed none), so that a
 * replay ends in the same state.
 */
export function journalledEdit(record: EditRecord, value: unknown): EditRecord | null {
  if (record.op !== 'propagate' || !(value as { stopped?: boolean } | null)?.stopped) return record;
  const completed = (value as { completed?: number[] }).completed ?? [];
  return completed.length ? { op: 'propagate', labels: completed } : null;
}

export class SessionManager {
  readonly live = new Map<string, Live>();
  readonly expired = new Set<string>();
  readonly journal: Journal;
  /** Sessions being created (counted against the limit while their image is stored). */
  private opening = 0;

  constructor(
    private readonly pool: WorkerPool,
    private readonly options: ManagerOptions,
  ) {
    this.journal = new Journal(options.dataDir);
  }

  private openOn(id: string, open: OpenRecord, edits: EditRecord[]): Promise<SessionInfo> {
    this.pool.assign(id);
    const spec = { file: imagePath(this.options.dataDir, open.image, open.kind), kind: open.kind, engine: open.engine, ...(open.axis !== undefined ? { axis: open.axis } : {}) };
    return this.pool.request(id, { op: 'open', spec, replay: edits }).reply as Promise<SessionInfo>;
  }

  private start(id: string, open: OpenRecord, edits: EditRecord[]): Live {
    const ready = this.openOn(id, open, edits);
    // Busy while it opens (its caller ends that with `opened`): a slow open never counts as idle time.
    const live: Live = { id, open, edits, lastUsed: Date.now(), busy: 1, ready, queue: ready.catch(() => undefined) };
    this.live.set(id, live);
    return live;
  }

  private opened(live: Live): void {
    live.busy--;
    live.lastUsed = Date.now();
  }

  /** Seconds until a session slot is likely free (the earliest idle expiry), for Retry-After. */
  retryAfter(): number {
    const now = Date.now();
    let soonest = Infinity;
    for (const l of this.live.values()) soonest = Math.min(soonest, l.lastUsed + this.options.idleMs - now);
    return Math.max(1, Math.min(3600, Math.ceil((Number.isFinite(soonest) ? soonest : 60_000) / 1000)));
  }

  /** Opens a session on uploaded image bytes; the token it is tied to is returned (native) or given (monai). */
  async create(args: { bytes: Uint8Array; engine: string; axis?: 0 | 1 | 2; api: 'native' | 'monai'; bearer?: string; name?: string }): Promise<{ live: Live; token: string; info: SessionInfo }> {
    if (this.live.size + this.opening >= this.options.maxSessions) {
      throw new HttpError(503, 'TOO_MANY_SESSIONS', `the server holds its maximum of ${this.options.maxSessions} sessions; retry later`, { 'Retry-After': String(this.retryAfter()) });
    }
    this.opening++;
    let stored;
    try {
      stored = await storeImage(this.options.dataDir, args.bytes);
    } finally {
      this.opening--;
    }
    const id = randomBytes(16).toString('hex');
    const token = args.api === 'native' ? randomBytes(32).toString('base64url') : (args.bearer ?? '');
    const open: OpenRecord = {
      t: 'open',
      image: stored.hash,
      kind: stored.kind,
      engine: args.engine,
      ...(args.axis !== undefined ? { axis: args.axis } : {}),
      token: hashToken(token),
      api: args.api,
      created: Date.now(),
      ...(args.name !== undefined ? { name: args.name } : {}),
    };
    const live = this.start(id, open, []);
    let info: SessionInfo;
    try {
      info = await live.ready;
    } catch (err) {
      this.live.delete(id);
      this.pool.release(id);
      throw err;
    }
    try {
      await this.journal.append(id, open);
    } finally {
      this.opened(live);
    }
    return { live, token, info };
  }

  /** The session `id` if `token` opens it: 404 unknown, 410 expired, 401 no token, 403 another token. */
  get(id: string, token: string | undefined): Live {
    const live = /^[0-9a-f]{32}$/.test(id) ? this.live.get(id) : undefined;
    if (!live) {
      if (this.expired.has(id)) throw new HttpError(410, 'SESSION_EXPIRED', 'this session expired after being idle; open a new one');
      throw new HttpError(404, 'SESSION_NOT_FOUND', 'no such session');
    }
    if (!sameHash(hashToken(token), live.open.token)) {
      if (!token) throw new HttpError(401, 'UNAUTHORIZED', 'this session needs its token (Authorization: Bearer ...)', { 'WWW-Authenticate': 'Bearer' });
      throw new HttpError(403, 'FORBIDDEN', 'this token does not open this session');
    }
    live.lastUsed = Date.now();
    return live;
  }

  /** Runs `fn` after the session's earlier requests (one at a time per session). */
  private serial<T>(live: Live, fn: () => Promise<T>): Promise<T> {
    live.busy++;
    const run = live.queue.then(async () => {
      await live.ready;
      return fn();
    });
    live.queue = run.catch(() => undefined);
    return run.finally(() => {
      live.busy--;
      live.lastUsed = Date.now();
    });
  }

  /** Applies an edit (a propagation included) and journals it before answering. */
  edit(live: Live, record: EditRecord, onLine?: (line: unknown) => void, signal?: AbortSignal): Promise<unknown> {
    return this.serial(live, async () => {
      if (!this.live.has(live.id)) throw new HttpError(404, 'SESSION_NOT_FOUND', 'no such session');
      const req = this.pool.request(live.id, { ...record }, onLine);
      const cancel = () => this.pool.cancel(live.id, req.id);
      signal?.addEventListener('abort', cancel, { once: true });
      try {
        const value = await req.reply;
        const done = journalledEdit(record, value);
        if (done) {
          live.edits.push(done);
          await this.journal.append(live.id, { t: 'edit', ...done });
        }
        return value;
      } finally {
        signal?.removeEventListener('abort', cancel);
      }
    });
  }

  query(live: Live, q: QueryOp): Promise<unknown> {
    return this.serial(live, () => this.pool.request(live.id, { ...q }).reply);
  }

  async close(live: Live): Promise<void> {
    await this.serial(live, async () => {
      this.live.delete(live.id);
      await this.pool.request(live.id, { op: 'close' }).reply.catch(() => undefined);
      this.pool.release(live.id);
      await this.journal.remove(live.id);
    });
  }

  /** Ends sessions idle for longer than the limit (never one with a request running or queued). */
  async expireIdle(now = Date.now()): Promise<string[]> {
    const out: string[] = [];
    for (const live of [...this.live.values()]) {
      if (live.busy > 0 || now - live.lastUsed <= this.options.idleMs) continue;
      this.live.delete(live.id);
      this.expired.add(live.id);
      out.push(live.id);
      await this.pool.request(live.id, { op: 'close' }).reply.catch(() => undefined);
      this.pool.release(live.id);
      await this.journal.append(live.id, { t: 'expired', at: now });
      await this.journal.release(live.id);
    }
    return out;
  }

  /** Reopens every session the journal holds open, replaying its edits; expired ones answer 410. */
  async restore(): Promise<{ restored: number; expired: number; failed: number }> {
    const all = await this.journal.readAll();
    let restored = 0;
    let failed = 0;
    const waits: Promise<unknown>[] = [];
    for (const { id, records } of all) {
      if (records.some((r) => r.t === 'expired')) {
        this.expired.add(id);
        continue;
      }
      const edits = records.filter((r) => r.t === 'edit').map(({ t: _t, ...r }) => r as EditRecord);
      const live = this.start(id, records[0] as OpenRecord, edits);
      waits.push(
        live.ready.then(
          () => {
            restored++;
            this.opened(live);
          },
          (err) => {
            failed++;
            this.live.delete(id);
            this.pool.release(id);
            console.error(`session ${id} could not be restored: ${(err as Error).message}`);
          },
        ),
      );
    }
    await Promise.all(waits);
    await this.removeUnusedImages(new Set(all.map((j) => (j.records[0] as OpenRecord).image)));
    return { restored, expired: this.expired.size, failed };
  }

  /** Removes stored images that no journal names (their sessions were closed). */
  private async removeUnusedImages(used: Set<string>): Promise<void> {
    const dir = path.join(this.options.dataDir, 'images');
    for (const f of await fsp.readdir(dir).catch(() => [] as string[])) {
      const hash = f.split('.')[0];
      if (/^[0-9a-f]{64}$/.test(hash) && !used.has(hash)) await fsp.rm(path.join(dir, f), { force: true });
    }
  }

  /** After a worker died: its sessions open again on the new worker from their journals. */
  reopen(ids: string[]): void {
    for (const id of ids) {
      const live = this.live.get(id);
      if (!live) continue;
      this.pool.release(id);
      live.ready = this.openOn(id, live.open, live.edits);
      live.queue = live.ready.catch((err) => console.error(`session ${id} could not be reopened: ${(err as Error).message}`));
    }
  }
}
