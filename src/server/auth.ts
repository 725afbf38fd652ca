/** Bearer tokens: reading them from a request, and the server token that guards opening sessions. */
import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { HttpError } from './errors.js';

export function bearer(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m ? m[1] : undefined;
}

function same(a: string, b: string): boolean {
  const x = createHash('sha256').update(a).digest();
  const y = createHash('sha256').update(b).digest();
  return timingSafeEqual(x, y);
}

/** Refuses a request without the server token when the server has one. */
export function requireServerToken(req: FastifyRequest, token: string | undefined): void {
  if (token === undefined) return;
  const t = bearer(req);
  if (t === undefined) throw new HttpError(401, 'UNAUTHORIZED', 'this server needs a token (Authorization: Bearer ...)', { 'WWW-Authenticate': 'Bearer' });
  if (!same(t, token)) throw new HttpError(403, 'FORBIDDEN', 'wrong token');
}
