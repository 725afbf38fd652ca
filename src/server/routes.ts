/**
 * The session API: open a session on an uploaded image, edit its key slices, propagate (an NDJSON stream of
 * slice updates), undo and redo, read its labels, report and suggestions, close it. Every session URL needs
 * the session's own token (`Authorization: Bearer <token>`, as returned when it was opened).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { bearer, requireServerToken } from './auth.js';
import { HttpError } from './errors.js';
import { axisParam, intParam, isObject, labelList, optionalInt } from './params.js';
import { LABEL_FORMATS, type LabelFormat } from './protocol.js';
import type { SessionManager } from './sessions.js';
import { streamPropagation } from './stream.js';

export interface RouteContext {
  manager: SessionManager;
  token?: string;
  engines: string[];
  defaultEngine: string;
  idleMs: number;
}

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, string>; Body: unknown }>;

export function engineParam(ctx: RouteContext, x: unknown): string {
  const name = x === undefined || x === '' ? ctx.defaultEngine : x;
  if (typeof name !== 'string' || !ctx.engines.includes(name)) {
    throw new HttpError(400, 'UNKNOWN_ENGINE', `engine must be one of ${ctx.engines.join(', ')}`);
  }
  return name;
}

const MEDIA: Record<LabelFormat, string> = {
  'nii.gz': 'application/gzip',
  nii: 'application/octet-stream',
  nrrd: 'application/octet-stream',
  mha: 'application/octet-stream',
  'seg.nrrd': 'application/octet-stream',
  dcm: 'application/dicom',
  raw: 'application/octet-stream',
};

/** Sends labels read from the worker in `format` (a file's bytes, or raw voxels with the geometry in a header). */
export function sendLabels(reply: FastifyReply, value: unknown, format: LabelFormat): FastifyReply {
  if (format === 'raw') {
    const v = value as { size: number[]; spacing: number[]; origin: number[]; direction: number[]; dtype: string; data: Uint8Array | Uint16Array };
    const header = { size: v.size, spacing: v.spacing, origin: v.origin, direction: Array.from(v.direction), dtype: v.dtype };
    return reply.header('content-type', MEDIA.raw).header('x-keyslice-volume', JSON.stringify(header)).send(Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength));
  }
  const bytes = value as Uint8Array;
  return reply
    .header('content-type', MEDIA[format])
    .header('content-disposition', `attachment; filename="labels.${format}"`)
    .send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

export function labelFormat(x: unknown): LabelFormat {
  const f = x === undefined || x === '' ? 'nii.gz' : x;
  if (typeof f !== 'string' || !(LABEL_FORMATS as readonly string[]).includes(f)) {
    throw new HttpError(400, 'UNSUPPORTED_FORMAT', `format must be one of ${LABEL_FORMATS.join(', ')}`);
  }
  return f as LabelFormat;
}

function bodyObject(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null || body === '') return {};
  if (!isObject(body)) throw new HttpError(400, 'INVALID_JSON', 'request body must be a JSON object');
  return body;
}

export function registerSessionRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { manager } = ctx;
  const session = (req: Req) => manager.get(req.params.id, bearer(req));

  app.post('/sessions', async (req: Req, reply) => {
    requireServerToken(req, ctx.token);
    const body = req.body;
    if (!(body instanceof Uint8Array) || body.length === 0) {
      throw new HttpError(400, 'MISSING_IMAGE', 'send the image file as the request body (Content-Type: application/octet-stream)');
    }
    const engine = engineParam(ctx, req.query.engine);
    const axis = axisParam(req.query.axis);
    const { live, token, info } = await manager.create({ bytes: body, engine, ...(axis !== undefined ? { axis } : {}), api: 'native' });
    return reply.code(201).send({ id: live.id, token, ...info, idleSeconds: ctx.idleMs / 1000 });
  });

  app.get('/sessions/:id', async (req: Req) => manager.query(session(req), { op: 'state' }));

  app.delete('/sessions/:id', async (req: Req) => {
    await manager.close(session(req));
    return { closed: true };
  });

  app.post('/sessions/:id/heartbeat', async (req: Req) => {
    session(req);
    return { ok: true, idleSeconds: ctx.idleMs / 1000 };
  });

  app.put('/sessions/:id/labels/:label/slices/:slice', async (req: Req) => {
    const live = session(req);
    const label = intParam(req.params.label, 'label', 1, 65535);
    const slice = intParam(req.params.slice, 'slice', -(2 ** 31));
    return manager.edit(live, { op: 'setKeySlice', label, slice, key: bodyObject(req.body) });
  });

  app.delete('/sessions/:id/labels/:label/slices/:slice', async (req: Req) => {
    const live = session(req);
    return manager.edit(live, { op: 'removeKeySlice', label: intParam(req.params.label, 'label', 1, 65535), slice: intParam(req.params.slice, 'slice', -(2 ** 31)) });
  });

  app.post('/sessions/:id/labels/:label/slices/:slice/correct', async (req: Req) => {
    const live = session(req);
    const b = bodyObject(req.body);
    return manager.edit(live, { op: 'correct', label: intParam(req.params.label, 'label', 1, 65535), slice: intParam(req.params.slice, 'slice', -(2 ** 31)), mask: b.mask });
  });

  app.get('/sessions/:id/labels/:label/slices', async (req: Req) => {
    const live = session(req);
    return manager.query(live, { op: 'keySlices', label: intParam(req.params.label, 'label', 1, 65535) });
  });

  app.delete('/sessions/:id/labels/:label', async (req: Req) => {
    const live = session(req);
    return manager.edit(live, { op: 'removeLabel', label: intParam(req.params.label, 'label', 1, 65535) });
  });

  app.post('/sessions/:id/propagate', async (req: Req, reply) => {
    const live = session(req);
    const labels = labelList(bodyObject(req.body).labels);
    return streamPropagation(req, reply, manager, live, labels);
  });

  app.post('/sessions/:id/undo', async (req: Req) => ({ revision: await manager.edit(session(req), { op: 'undo' }) }));
  app.post('/sessions/:id/redo', async (req: Req) => ({ revision: await manager.edit(session(req), { op: 'redo' }) }));

  app.get('/sessions/:id/labels', async (req: Req, reply) => {
    const live = session(req);
    const format = labelFormat(req.query.format);
    return sendLabels(reply, await manager.query(live, { op: 'labels', format }), format);
  });

  app.get('/sessions/:id/report', async (req: Req) => manager.query(session(req), { op: 'report' }));

  app.get('/sessions/:id/suggest', async (req: Req) => {
    const live = session(req);
    const budget = optionalInt(req.query.budget, 'budget', 1, 1000);
    return manager.query(live, { op: 'suggest', ...(budget !== undefined ? { budget } : {}) });
  });
}
