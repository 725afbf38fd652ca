/**
 * A MONAI Label-compatible subset, so that its clients (3D Slicer's MONAI Label module, OHIF, the Python
 * client) can use keyslice as a backend: `GET /info/` lists the engines as models; `PUT /session/` uploads an
 * image (multipart field `files`: one image file, or the files of one DICOM series); `GET` and `DELETE
 * /session/{id}`; `POST /infer/{engine}?session_id=` with the form field `params` (a keyslice prompts file's
 * JSON) and an optional `label` file (a sparse label volume: its labelled slices become key slices), answered
 * as MONAI Label answers (`output=image|json|all`, default a multipart reply with `params` and the label
 * image); `POST /activelearning/suggest` names the next slice to annotate. A session is tied to the bearer
 * token that created it.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { zipSync } from 'fflate';
import { VERSION } from '../cli/args.js';
import { bearer, requireServerToken } from './auth.js';
import { HttpError } from './errors.js';
import { isObject, optionalInt } from './params.js';
import type { EditRecord } from './protocol.js';
import { engineParam, labelFormat, sendLabels, type RouteContext } from './routes.js';
import type { Live, SessionInfo } from './sessions.js';
import { detectImageKind } from './upload.js';
import { clickKeySlices } from './monai-clicks.js';
import { inPlaneAxes } from '../volume/volume.js';

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, string>; Body: unknown }>;

interface Form {
  fields: Record<string, string>;
  files: { field: string; data: Buffer }[];
}

/** Reads a multipart form, holding at most `maxBytes` of files in all (413 beyond). */
async function readForm(req: FastifyRequest, maxBytes: number): Promise<Form> {
  if (!req.isMultipart()) throw new HttpError(400, 'BAD_REQUEST', 'send a multipart/form-data request');
  const form: Form = { fields: {}, files: [] };
  let total = 0;
  for await (const part of req.parts()) {
    if (part.type === 'file') {
      const data = await part.toBuffer();
      total += data.length;
      if (total > maxBytes) throw new HttpError(413, 'BODY_TOO_LARGE', 'uploaded files are larger than the server accepts (--max-upload-mb)');
      form.files.push({ field: part.fieldname, data });
    } else if (typeof part.value === 'string') {
      form.fields[part.fieldname] = part.value;
    }
  }
  return form;
}

/** One image from the uploaded files: a single file as is, several (a DICOM series) zipped together. */
function imageBytes(files: { data: Buffer }[]): Uint8Array {
  if (files.length === 0) throw new HttpError(400, 'MISSING_IMAGE', 'no image file in the request (multipart field "files")');
  if (files.length === 1) return files[0].data;
  const members: Record<string, Uint8Array> = {};
  files.forEach((f, i) => (members[`${String(i).padStart(6, '0')}.dcm`] = f.data));
  return zipSync(members, { level: 0 });
}

function sessionInfo(live: Live, info: SessionInfo | undefined, idleMs: number): Record<string, unknown> {
  return {
    name: live.id,
    path: '',
    image: live.open.image,
    meta: info ? { engine: info.engine, axis: info.axis, count: info.count, nu: info.nu, nv: info.nv } : { engine: live.open.engine },
    create_ts: Math.floor(live.open.created / 1000),
    last_access_ts: Math.floor(live.lastUsed / 1000),
    expiry: Math.round(idleMs / 1000),
  };
}

function parseParams(text: string | undefined): Record<string, unknown> {
  if (text === undefined || text.trim() === '') return {};
  let p: unknown;
  try {
    p = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'INVALID_JSON', 'params must be a JSON object');
  }
  if (!isObject(p)) throw new HttpError(400, 'INVALID_JSON', 'params must be a JSON object');
  return p;
}

/** A multipart reply as MONAI Label sends it: a `params` JSON field and the label image as a file. */
function multipartReply(reply: FastifyReply, params: unknown, file: Uint8Array, filename: string): FastifyReply {
  const boundary = `keyslice-${randomBytes(12).toString('hex')}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="params"\r\nContent-Type: application/json\r\n\r\n${JSON.stringify(params)}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return reply.header('content-type', `multipart/form-data; boundary=${boundary}`).send(Buffer.concat([head, file, tail]));
}

export function registerMonaiRoutes(app: FastifyInstance, ctx: RouteContext & { maxUploadBytes: number; dataDir: string }): void {
  const { manager } = ctx;

  app.get('/info/', async (req: Req) => {
    requireServerToken(req, ctx.token);
    const models: Record<string, unknown> = {};
    for (const e of ctx.engines) {
      // "deepgrow": MONAI Label clients (3D Slicer's module) offer their click tools for this type, and each
      // click request carries foreground/background points, which the server takes as point key slices;
      // a sparse label volume or a prompts file is taken by the same route.
      models[e] = {
        type: 'deepgrow',
        labels: {},
        dimension: 3,
        description: `keyslice ${e} engine: propagates key slices (masks, boxes, points) through the volume`,
        config: { prompts: 'params holds a keyslice prompts file; label holds sparse key slices' },
      };
    }
    return {
      name: 'keyslice',
      description: 'From a few annotated key slices to a full 3D segmentation',
      version: VERSION,
      labels: {},
      models,
      trainers: {},
      strategies: { suggest: { description: 'the slice whose annotation would remove the most uncertainty, per label' } },
      scoring: {},
      train_stats: {},
      datastore: { total: 0, completed: 0 },
    };
  });

  app.put('/session/', async (req: Req) => {
    requireServerToken(req, ctx.token);
    const form = await readForm(req, ctx.maxUploadBytes);
    const params = parseParams(form.fields.params);
    const engine = engineParam(ctx, req.query.engine ?? params.engine);
    const axis = optionalInt(req.query.axis, 'axis', 0, 2) as 0 | 1 | 2 | undefined;
    const { live, info } = await manager.create({ bytes: imageBytes(form.files), engine, ...(axis !== undefined ? { axis } : {}), api: 'monai', bearer: bearer(req) });
    return { session_id: live.id, session_info: sessionInfo(live, info, ctx.idleMs) };
  });

  app.get('/session/:id', async (req: Req, reply) => {
    const live = manager.get(req.params.id, bearer(req));
    if (req.query.image === 'true') {
      const file = path.join(ctx.dataDir, 'images', `${live.open.image}.${live.open.kind}`);
      return reply.header('content-type', 'application/octet-stream').send(await fsp.readFile(file));
    }
    return sessionInfo(live, (await live.ready.catch(() => undefined)) ?? undefined, ctx.idleMs);
  });

  app.delete('/session/:id', async (req: Req) => {
    const live = manager.get(req.params.id, bearer(req));
    const info = sessionInfo(live, await live.ready.catch(() => undefined), ctx.idleMs);
    await manager.close(live);
    return info;
  });

  app.post('/infer/:engine', async (req: Req, reply) => {
    const engine = engineParam(ctx, req.params.engine);
    const output = req.query.output ?? 'all';
    if (!['image', 'json', 'all'].includes(output)) throw new HttpError(400, 'UNSUPPORTED_OUTPUT', 'output must be image, json or all');
    const sid = req.query.session_id;
    let live: Live;
    let transient = false;
    if (sid) live = manager.get(sid, bearer(req));
    else requireServerToken(req, ctx.token);
    const form = await readForm(req, ctx.maxUploadBytes);
    const params = parseParams(form.fields.params);
    if (!sid) {
      const file = form.files.filter((f) => f.field === 'file');
      if (file.length === 0) throw new HttpError(400, 'MISSING_IMAGE', 'give session_id, or the image as the form file "file"');
      live = (await manager.create({ bytes: imageBytes(file), engine, api: 'monai', bearer: bearer(req) })).live;
      transient = true;
    }
    live = live!;
    try {
      const info = await live.ready;
      if (info.engine !== engine) throw new HttpError(400, 'ENGINE_MISMATCH', `this session runs engine ${info.engine}; infer with /infer/${info.engine} or open a session for ${engine}`);
      const label = form.files.find((f) => f.field === 'label');
      const edits = await sparseEdits(ctx.dataDir, manager, live, label?.data, promptsOf(params));
      const clicks = await clickEdits(manager, live, info, params);
      edits.push(...clicks.edits);
      for (const e of edits) await manager.edit(live, e);
      let slices = 0;
      await manager.edit(live, { op: 'propagate' }, (line) => (slices += (line as { type?: string }).type === 'slice' ? 1 : 0));
      const state = (await manager.query(live, { op: 'state' })) as { revision: unknown; labels: { value: number; name?: string }[] };
      const only = clicks.deepgrow;
      const result = {
        session_id: transient ? undefined : live.id,
        label_names: only ? { [only.name]: 1 } : Object.fromEntries(state.labels.map((l) => [l.name ?? `label ${l.value}`, l.value])),
        revision: state.revision,
        key_slices_set: edits.length,
        slices_updated: slices,
        ...(clicks.notes.length ? { notes: clicks.notes } : {}),
      };
      if (output === 'json') return result;
      const format = labelFormat('nii.gz');
      const bytes = (await manager.query(live, { op: 'labels', format, ...(only ? { only: only.value } : {}) })) as Uint8Array;
      if (output === 'image') return sendLabels(reply, bytes, format);
      return multipartReply(reply, result, bytes, 'labels.nii.gz');
    } finally {
      if (transient) await manager.close(live);
    }
  });

  app.post('/activelearning/:strategy', async (req: Req) => {
    if (req.params.strategy !== 'suggest') throw new HttpError(404, 'UNKNOWN_STRATEGY', 'the only strategy is "suggest"');
    const body = isObject(req.body) ? req.body : {};
    const sid = req.query.session_id ?? body.session_id;
    if (typeof sid !== 'string' || sid === '') throw new HttpError(400, 'MISSING_SESSION', 'give session_id (query or JSON body)');
    const live = manager.get(sid, bearer(req));
    const budget = optionalInt(body.budget === undefined ? req.query.budget : String(body.budget), 'budget', 1, 1000) ?? 1;
    const perLabel = (await manager.query(live, { op: 'suggest', budget })) as { label: number; suggestions: { slice: number; reason: string; detail: string; gain: number }[] }[];
    const all = perLabel.flatMap((l) => l.suggestions.map((s) => ({ label: l.label, ...s }))).sort((a, b) => b.gain - a.gain);
    const best = all[0];
    return {
      id: live.id,
      image: live.open.image,
      ...(best ? { label: best.label, slice: best.slice, reason: best.reason, detail: best.detail, weight: best.gain } : {}),
      suggestions: perLabel,
    };
  });
}

/** Key-slice edits from MONAI-style clicks in `params` (see monai-clicks.ts); none when it holds no clicks. */
async function clickEdits(
  manager: RouteContext['manager'],
  live: Live,
  info: SessionInfo,
  params: Record<string, unknown>,
): Promise<{ edits: EditRecord[]; notes: string[]; deepgrow?: { value: number; name: string } }> {
  const [u, v] = inPlaneAxes(info.axis);
  const size: [number, number, number] = [0, 0, 0];
  size[info.axis] = info.count;
  size[u] = info.nu;
  size[v] = info.nv;
  const state = (await manager.query(live, { op: 'state' })) as { labels: { value: number; name?: string }[] };
  const named = new Map(state.labels.filter((l) => l.name !== undefined).map((l) => [l.name as string, l.value]));
  let next = Math.max(0, ...state.labels.map((l) => l.value)) + 1;
  const valueOf = (name: string): number => {
    let value = named.get(name);
    if (value === undefined) named.set(name, (value = next++));
    return value;
  };
  const found = clickKeySlices(params, { axis: info.axis, size }, valueOf);
  if (!found) return { edits: [], notes: [] };
  const edits: EditRecord[] = found.keySlices.map((k) => ({
    op: 'setKeySlice',
    label: k.value,
    slice: k.slice,
    key: { points: k.points, ...(k.negativePoints.length ? { negativePoints: k.negativePoints } : {}), ...(k.name !== undefined ? { name: k.name } : {}) },
  }));
  // DeepGrow's form clicks one label, and its clients read the reply as that label's binary mask.
  const one = params.foreground !== undefined ? found.labels[0] : undefined;
  return { edits, notes: found.notes, ...(one ? { deepgrow: { value: one.value, name: one.name ?? `label ${one.value}` } } : {}) };
}

const PROMPT_KEYS = ['version', 'sliceAxis', 'labels', 'keySlices', '$schema', 'description'];

/** The prompts file within `params` (MONAI clients add their own keys, such as client_id), if it holds one. */
function promptsOf(params: Record<string, unknown>): Record<string, unknown> | undefined {
  if (params.labels === undefined && params.keySlices === undefined) return undefined;
  return Object.fromEntries(Object.entries(params).filter(([k]) => PROMPT_KEYS.includes(k)));
}

/** Key-slice edits from an uploaded sparse label file and/or a prompts document, read by the session's worker. */
async function sparseEdits(dataDir: string, manager: RouteContext['manager'], live: Live, label: Buffer | undefined, prompts: unknown): Promise<EditRecord[]> {
  let file: string | undefined;
  if (label) {
    const kind = detectImageKind(label);
    if (kind === 'zip') throw new HttpError(400, 'UNSUPPORTED_IMAGE', 'label: a label volume must be NIfTI, NRRD or MetaImage');
    file = path.join(dataDir, 'tmp', `label-${randomBytes(8).toString('hex')}.${kind}`);
    await fsp.writeFile(file, label);
  }
  try {
    return (await manager.query(live, { op: 'annotations', ...(file ? { labelFile: file } : {}), ...(prompts !== undefined ? { prompts } : {}) })) as EditRecord[];
  } finally {
    if (file) await fsp.rm(file, { force: true });
  }
}
