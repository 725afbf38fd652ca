/**
 * A propagation as an NDJSON response: nothing is sent until the first slice arrives, so a request that fails
 * before any slice gets its proper status; once streaming, a failure ends the stream with an error line.
 */
import { PassThrough } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { toWireError } from './errors.js';
import type { Live, SessionManager } from './sessions.js';

export async function streamPropagation(req: FastifyRequest, reply: FastifyReply, manager: SessionManager, live: Live, labels: number[] | undefined): Promise<FastifyReply> {
  const ac = new AbortController();
  const out = new PassThrough();
  let started = false;
  let finished = false;
  let slices = 0;
  let resolveStart!: () => void;
  const firstLine = new Promise<void>((r) => (resolveStart = r));
  reply.raw.on('close', () => {
    if (!finished) ac.abort();
  });
  const t0 = performance.now();
  const run = manager
    .edit(live, { op: 'propagate', ...(labels ? { labels } : {}) }, (line) => {
      if ((line as { type?: string }).type === 'slice') slices++;
      started = true;
      out.write(`${JSON.stringify(line)}\n`);
      resolveStart();
    }, ac.signal)
    .then(
      () => {
        finished = true;
        out.end(`${JSON.stringify({ type: 'end', slices, seconds: (performance.now() - t0) / 1000 })}\n`);
        resolveStart();
      },
      (err: unknown) => {
        finished = true;
        if (started) {
          const e = toWireError(err);
          out.end(`${JSON.stringify({ type: 'error', error: { code: e.code, message: e.message } })}\n`);
        }
        resolveStart();
        if (!started) throw err;
      },
    );
  await firstLine;
  if (!started && finished) {
    await run; // rethrows a failure before any slice; otherwise the stream holds only its end line
  }
  run.catch(() => undefined);
  void req;
  return reply.header('content-type', 'application/x-ndjson; charset=utf-8').header('cache-control', 'no-store').send(out);
}

