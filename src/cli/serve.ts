/** `keyslice serve`: runs the session server until interrupted. */
import { writeApp } from '../app/files-node.js';
import { startServer } from '../server/server.js';
import { KeysliceError } from '../util/errors.js';
import { parse } from './args.js';

function num(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n) || n <= 0) throw new KeysliceError('USAGE', `--${name} must be a number > 0, got "${String(v)}"`);
  return n;
}

export async function cmdServe(args: string[]): Promise<void> {
  const v = parse(args, {
    host: { type: 'string' },
    port: { type: 'string' },
    token: { type: 'string' },
    'max-sessions': { type: 'string' },
    'max-upload-mb': { type: 'string' },
    'idle-minutes': { type: 'string' },
    data: { type: 'string' },
    workers: { type: 'string' },
    engine: { type: 'string' },
    log: { type: 'boolean' },
  });
  const port = v.port === undefined ? 8080 : Number(v.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new KeysliceError('USAGE', `--port must be 0..65535, got "${String(v.port)}"`);
  const token = (v.token as string | undefined) ?? process.env.KEYSLICE_TOKEN;
  const server = await startServer({
    host: v.host as string | undefined,
    port,
    token,
    maxSessions: num(v['max-sessions'], 'max-sessions'),
    maxUploadMb: num(v['max-upload-mb'], 'max-upload-mb'),
    idleMinutes: num(v['idle-minutes'], 'idle-minutes'),
    data: v.data as string | undefined,
    workers: num(v.workers, 'workers'),
    defaultEngine: v.engine as string | undefined,
    log: !!v.log,
  });
  const r = server.restored;
  process.stderr.write(`keyslice: serving on ${server.url} (${server.pool.size} workers; restored ${r.restored} session(s)${r.failed ? `, ${r.failed} could not be` : ''})\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  process.stderr.write('keyslice: stopping (sessions stay in the journal and are restored on the next start)\n');
  await server.close();
}

/** `keyslice app --out DIR`: writes the annotation app's static build. */
export async function cmdApp(args: string[]): Promise<void> {
  const v = parse(args, { out: { type: 'string' } });
  if (typeof v.out !== 'string' || v.out === '') throw new KeysliceError('USAGE', 'keyslice app needs --out DIR');
  const { files, bytes } = await writeApp(v.out);
  console.log(`wrote the app to ${v.out} (${files.length} files, ${(bytes / 2 ** 20).toFixed(1)} MiB): serve the folder with any static web server`);
}
