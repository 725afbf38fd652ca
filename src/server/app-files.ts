/**
 * The annotation app at `/`: the static build's files, the page marked as served by this server so that it opens
 * its sessions here (remote mode). Answers 404 with a clear message where the app is not built.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { APP_FILES, appDir } from '../app/files-node.js';
import { HttpError } from './errors.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.zst': 'application/zstd',
};

export function registerAppRoutes(app: FastifyInstance, dir = appDir()): void {
  const send = async (file: string) => {
    const bytes = await fsp.readFile(path.join(dir, file)).catch(() => null);
    if (!bytes) throw new HttpError(404, 'APP_NOT_BUILT', 'the annotation app is not built on this server (npm run build)');
    if (file !== 'index.html') return bytes;
    return bytes.toString('utf8').replace('<meta name="keyslice-mode" content="local">', '<meta name="keyslice-mode" content="remote">');
  };
  const files = new Set(APP_FILES);
  app.get('/', async (_req, reply) => reply.header('content-type', TYPES['.html']).header('cache-control', 'no-cache').send(await send('index.html')));
  app.get('/:asset', async (req, reply) => {
    const name = (req.params as { asset: string }).asset;
    if (!files.has(name)) throw new HttpError(404, 'NOT_FOUND', `no endpoint GET /${name}`);
    return reply.header('content-type', TYPES[path.extname(name)]).header('cache-control', 'no-cache').send(await send(name));
  });
}
