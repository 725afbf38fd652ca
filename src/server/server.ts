/**
 * `keyslice serve`: interactive sessions over HTTP. Sessions run on a pool of worker threads, their edits are
 * journalled under the data folder and restored on start. Binds 127.0.0.1 unless told otherwise, and then
 * wants a token.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import multipart from '@fastify/multipart';
import Fastify, { type FastifyInstance } from 'fastify';
import { ENGINE_TABLE } from '../pipeline/engines.js';
import { KeysliceError } from '../util/errors.js';
import { errorBody, fromFrameworkError, HttpError, toWireError } from './errors.js';
import { registerAppRoutes } from './app-files.js';
import { registerMonaiRoutes } from './monai.js';
import { WorkerPool } from './pool.js';
import { registerSessionRoutes } from './routes.js';
import { SessionManager } from './sessions.js';

export interface ServeOptions {
  /** Address to bind (default 127.0.0.1). Any other address needs `token`. */
  host?: string;
  /** Port (default 8080; 0 for any free one). */
  port?: number;
  /** Bearer token required to open sessions and read server information. */
  token?: string;
  /** Sessions held at once (default 32); one more is answered 503 with Retry-After. */
  maxSessions?: number;
  /** Largest upload, MiB (default 1024); larger is answered 413. */
  maxUploadMb?: number;
  /** A session idle this long is closed; its URLs then answer 410 (default 60). */
  idleMinutes?: number;
  /** Folder for uploaded images and session journals (default ./keyslice-data). */
  data?: string;
  /** Session workers (default: one per core). */
  workers?: number;
  /** Engine of a session that names none (default classic). */
  defaultEngine?: string;
  /**
   * Scheduling priority of the session workers below the event loop (Linux `nice` steps; default
   * {@link DEFAULT_WORKER_NICENESS}): enough for /health and light requests to be answered at once while every
   * worker computes, without starving propagations on a machine busy with other programs.
   */
  workerNiceness?: number;
  /**
   * Warm each session worker up with a propagation on a small generated phantom when it starts (default true),
   * so that a user's first propagation runs at full speed.
   */
  warmUp?: boolean;
  /** Test hook: a propagation including this label ends its worker thread. */
  crashOnLabel?: number;
  /** Log requests to stderr (default false). */
  log?: boolean;
}

export interface RunningServer {
  url: string;
  app: FastifyInstance;
  manager: SessionManager;
  pool: WorkerPool;
  restored: { restored: number; expired: number; failed: number };
  close(): Promise<void>;
}

/** Default {@link ServeOptions.workerNiceness}. */
export const DEFAULT_WORKER_NICENESS = 10;

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** Engines a server offers: those that need no model beyond the built-in one. */
export function servedEngines(): string[] {
  return ENGINE_TABLE.filter((e) => e.model !== 'sam2').map((e) => e.name);
}

function positive(x: number, name: string): number {
  if (!Number.isFinite(x) || x <= 0) throw new KeysliceError('USAGE', `${name} must be a number > 0, got ${x}`);
  return x;
}

export async function startServer(options: ServeOptions = {}): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host) && !options.token) {
    throw new KeysliceError('USAGE', `--host ${host} makes the server reachable from other machines: give --token T as well`);
  }
  if (options.token !== undefined && options.token.length < 16) throw new KeysliceError('USAGE', '--token must be at least 16 characters');
  const maxSessions = Math.floor(positive(options.maxSessions ?? 32, '--max-sessions'));
  const maxUploadBytes = Math.floor(positive(options.maxUploadMb ?? 1024, '--max-upload-mb') * 2 ** 20);
  const idleMs = positive(options.idleMinutes ?? 60, '--idle-minutes') * 60_000;
  const dataDir = path.resolve(options.data ?? 'keyslice-data');
  const engines = servedEngines();
  const defaultEngine = options.defaultEngine ?? 'classic';
  for (const d of ['images', 'sessions', 'tmp']) await fsp.mkdir(path.join(dataDir, d), { recursive: true });
  const tmpDir = path.join(dataDir, 'tmp');
  for (const f of await fsp.readdir(tmpDir)) await fsp.rm(path.join(tmpDir, f), { recursive: true, force: true });

  const holder: { manager?: SessionManager } = {};
  const pool = new WorkerPool({
    size: Math.max(1, Math.floor(options.workers ?? os.availableParallelism())),
    data: { tmpDir, niceness: options.workerNiceness ?? DEFAULT_WORKER_NICENESS, warmUp: options.warmUp ?? true, ...(options.crashOnLabel !== undefined ? { crashOnLabel: options.crashOnLabel } : {}) },
    onCrash: (ids) => holder.manager?.reopen(ids),
  });
  const manager = new SessionManager(pool, { dataDir, maxSessions, idleMs });
  holder.manager = manager;
  const restored = await manager.restore();

  const app = Fastify({ logger: options.log ? { level: 'info' } : false, bodyLimit: maxUploadBytes, return503OnClosing: true });
  app.addContentTypeParser(['application/octet-stream', 'application/gzip', 'application/zip', 'application/x-gzip'], { parseAs: 'buffer', bodyLimit: maxUploadBytes }, (_req, body, done) => done(null, body));
  await app.register(multipart, { limits: { fileSize: maxUploadBytes, fieldSize: 16 * 2 ** 20, files: 100_000, fields: 32 } });
  app.setErrorHandler((err, req, reply) => {
    const e = err instanceof HttpError ? err : (fromFrameworkError(err as { statusCode?: number }) ?? toWireError(err));
    if (e.status >= 500 && e.code === 'INTERNAL') req.log.error(err);
    if (e.status >= 500 && e.code === 'INTERNAL' && !options.log) console.error(`${req.method} ${req.url}:`, err);
    if (err instanceof HttpError) for (const [k, v] of Object.entries(err.headers)) void reply.header(k, v);
    return reply.code(e.status).send(errorBody(e));
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send(errorBody(new HttpError(404, 'NOT_FOUND', `no endpoint ${req.method} ${req.url.split('?')[0]}`))));

  const started = Date.now();
  app.get('/health', async () => ({ status: 'ok', sessions: manager.live.size, workers: pool.size, workerRestarts: pool.crashes, uptimeSeconds: Math.round((Date.now() - started) / 1000) }));
  const ctx = { manager, engines, defaultEngine, idleMs, maxUploadBytes, dataDir, ...(options.token !== undefined ? { token: options.token } : {}) };
  registerSessionRoutes(app, ctx);
  registerMonaiRoutes(app, ctx);
  registerAppRoutes(app);

  const timer = setInterval(() => void manager.expireIdle().catch((err) => console.error('idle expiry:', err)), Math.min(30_000, Math.max(200, idleMs / 4)));
  timer.unref();
  await app.listen({ host, port: options.port ?? 8080 });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : (options.port ?? 8080);
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url,
    app,
    manager,
    pool,
    restored,
    async close() {
      clearInterval(timer);
      await app.close();
      await pool.close();
      await manager.journal.close();
    },
  };
}
