/**
 * A session on a `keyslice serve` server, through `fetch` only (runs in browsers and Node). It implements
 * {@link Session}, the interface of a local session, so code written against one runs against the other.
 *
 * ```ts
 * const s = await RemoteSession.open('http://127.0.0.1:8080', await file.arrayBuffer());
 * await s.setKeySlice(1, 12, { box: [40, 50, 90, 110] });
 * for await (const u of s.propagate()) draw(u.label, u.slice, u.mask);
 * const labels = await s.labels();
 * ```
 */
import type { SegmentReport } from '../pipeline/segment.js';
import { KeysliceError, type KeysliceErrorCode } from '../util/errors.js';
import type { LabelArray, SliceAxis, Vec3, Volume } from '../volume/volume.js';
import type { KeySlicePrompt, LabelRef, PropagateOptions, Revision, Session, SliceUpdate, Suggestion } from './types.js';
import { decodeUpdate, encodeKeySlice, encodeMask, type WireStreamLine } from './wire.js';
import { maskBox } from './rle.js';

export interface RemoteOpenOptions {
  /** Server token, when the server has one. */
  token?: string;
  engine?: string;
  axis?: SliceAxis;
  /** A fetch implementation (default the global one). */
  fetch?: typeof fetch;
}

/** An error the server answered with: its HTTP status and named code. */
export class RemoteSessionError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'RemoteSessionError';
    this.status = status;
    this.code = code;
  }
}

const KEYSLICE_CODES = new Set<string>(['USAGE', 'FILE_NOT_FOUND', 'FILE_UNREADABLE', 'UNSUPPORTED_IMAGE', 'NON_FINITE_VOXELS', 'TOO_LARGE', 'GRID_MISMATCH', 'INVALID_PROMPTS', 'INVALID_ANNOTATION', 'INVALID_MODEL', 'OUTPUT_CONFLICT', 'WRITE_FAILED']);

/** The error of a failed response: a KeysliceError for the library's own codes, else a RemoteSessionError. */
async function failure(res: Response): Promise<Error> {
  let code = `HTTP_${res.status}`;
  let message = res.statusText;
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string } };
    if (body.error?.code) code = body.error.code;
    if (body.error?.message) message = body.error.message;
  } catch {
    // not a JSON body: keep the status
  }
  return KEYSLICE_CODES.has(code) ? new KeysliceError(code as KeysliceErrorCode, message) : new RemoteSessionError(res.status, code, message);
}

interface OpenReply {
  id: string;
  token: string;
  axis: SliceAxis;
  count: number;
  nu: number;
  nv: number;
  engine: string;
}

export class RemoteSession implements Session {
  readonly axis: SliceAxis;
  readonly count: number;
  readonly nu: number;
  readonly nv: number;
  readonly id: string;
  readonly engine: string;
  private readonly base: string;
  private readonly token: string;
  private readonly fetchFn: typeof fetch;

  private constructor(base: string, reply: OpenReply, fetchFn: typeof fetch) {
    this.base = `${base.replace(/\/+$/, '')}/sessions/${reply.id}`;
    this.id = reply.id;
    this.token = reply.token;
    this.axis = reply.axis;
    this.count = reply.count;
    this.nu = reply.nu;
    this.nv = reply.nv;
    this.engine = reply.engine;
    this.fetchFn = fetchFn;
  }

  /** Uploads an image file's bytes (NIfTI, NRRD, MetaImage or a zip of one DICOM series) and opens a session. */
  static async open(server: string, image: ArrayBuffer | Uint8Array | Blob, options: RemoteOpenOptions = {}): Promise<RemoteSession> {
    const f = options.fetch ?? globalThis.fetch.bind(globalThis); // a browser's fetch wants its own `this`
    const q = new URLSearchParams();
    if (options.engine) q.set('engine', options.engine);
    if (options.axis !== undefined) q.set('axis', String(options.axis));
    const res = await f(`${server.replace(/\/+$/, '')}/sessions${q.size ? `?${q}` : ''}`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', ...(options.token ? { authorization: `Bearer ${options.token}` } : {}) },
      body: image as RequestInit['body'],
    });
    if (!res.ok) throw await failure(res);
    return new RemoteSession(server, (await res.json()) as OpenReply, f);
  }

  /** Reattaches to an open session by its id and token (e.g. after a page reload). */
  static async attach(server: string, id: string, token: string, options: { fetch?: typeof fetch } = {}): Promise<RemoteSession> {
    const f = options.fetch ?? globalThis.fetch.bind(globalThis); // a browser's fetch wants its own `this`
    const res = await f(`${server.replace(/\/+$/, '')}/sessions/${encodeURIComponent(id)}`, { headers: { authorization: `Bearer ${token}` } });
    if (!res.ok) throw await failure(res);
    return new RemoteSession(server, { ...((await res.json()) as OpenReply), id, token }, f);
  }

  /** The session's token (keep it to {@link attach} again). */
  get sessionToken(): string {
    return this.token;
  }

  private async call(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
    const res = await this.fetchFn(`${this.base}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      ...(signal ? { signal } : {}),
    });
    if (!res.ok) throw await failure(res);
    return res;
  }

  private async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await (await this.call(method, path, body)).json()) as T;
  }

  setKeySlice(label: LabelRef, slice: number, key: KeySlicePrompt): Promise<Revision> {
    const value = typeof label === 'number' ? label : label.value;
    const name = typeof label === 'number' ? undefined : label.name;
    const box = 'mask' in key && key.mask.length === this.nu * this.nv ? maskBox(key.mask, this.nu, this.nv) : null;
    const wire = 'mask' in key && key.mask.length !== this.nu * this.nv ? { mask: { rle: [key.mask.length] } } : encodeKeySlice(key, this.nu, this.nv, box);
    return this.json('PUT', `/labels/${value}/slices/${slice}`, name !== undefined ? { ...wire, name } : wire);
  }

  removeKeySlice(label: number, slice: number): Promise<Revision> {
    return this.json('DELETE', `/labels/${label}/slices/${slice}`);
  }

  correct(label: number, slice: number, mask: Uint8Array): Promise<Revision> {
    const ok = mask.length === this.nu * this.nv;
    return this.json('POST', `/labels/${label}/slices/${slice}/correct`, { mask: ok ? encodeMask(mask, this.nu, this.nv, maskBox(mask, this.nu, this.nv)) : { rle: [mask.length] } });
  }

  removeLabel(label: number): Promise<Revision> {
    return this.json('DELETE', `/labels/${label}`);
  }

  /** The propagation's slices as the server decides them; `signal` stops it (the server keeps what completed). */
  async *propagate(options: PropagateOptions = {}): AsyncIterable<SliceUpdate> {
    const res = await this.call('POST', '/propagate', options.labels ? { labels: options.labels } : {}, options.signal);
    if (!res.body) return;
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (value) buf += decoder.decode(value, { stream: true });
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          options.signal?.throwIfAborted();
          const text = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (text.trim() === '') continue;
          const line = JSON.parse(text) as WireStreamLine;
          if (line.type === 'slice') {
            if (options.updates !== false) yield decodeUpdate(line, this.nu, this.nv);
          }
          else if (line.type === 'label') options.onLabel?.({ done: line.done, total: line.total, label: line.label });
          else if (line.type === 'error') {
            throw KEYSLICE_CODES.has(line.error.code)
              ? new KeysliceError(line.error.code as KeysliceErrorCode, line.error.message)
              : new RemoteSessionError(500, line.error.code, line.error.message);
          } else return;
        }
        if (done) break;
      }
    } finally {
      await reader.cancel().catch(() => undefined);
    }
    if (!options.signal?.aborted) throw new RemoteSessionError(502, 'STREAM_CUT', 'the propagation stream ended without its end line');
  }

  async undo(): Promise<Revision | null> {
    return (await this.json<{ revision: Revision | null }>('POST', '/undo')).revision;
  }

  async redo(): Promise<Revision | null> {
    return (await this.json<{ revision: Revision | null }>('POST', '/redo')).revision;
  }

  async revision(): Promise<Revision> {
    return (await this.json<{ revision: Revision }>('GET', '')).revision;
  }

  async pending(): Promise<number[]> {
    return (await this.json<{ pending: number[] }>('GET', '')).pending;
  }

  /** The label volume (raw voxels; geometry from the response header). */
  async labels(): Promise<Volume<LabelArray>> {
    const res = await this.call('GET', '/labels?format=raw');
    const h = JSON.parse(res.headers.get('x-keyslice-volume') ?? '{}') as { size: Vec3; spacing: Vec3; origin: Vec3; direction: number[]; dtype: string };
    const buf = await res.arrayBuffer();
    const data = h.dtype === 'uint16' ? new Uint16Array(buf) : new Uint8Array(buf);
    return { size: h.size, spacing: h.spacing, origin: h.origin, direction: h.direction, data };
  }

  /**
   * The labels as a file: `nii.gz` (default), `nii`, `nrrd`, `mha`, `seg.nrrd` (3D Slicer), or `dcm` (a DICOM
   * SEG referencing the uploaded series; only for a session opened on a DICOM series).
   */
  async labelsFile(format: 'nii.gz' | 'nii' | 'nrrd' | 'mha' | 'seg.nrrd' | 'dcm' = 'nii.gz'): Promise<Uint8Array> {
    return new Uint8Array(await (await this.call('GET', `/labels?format=${format}`)).arrayBuffer());
  }

  report(): Promise<SegmentReport> {
    return this.json('GET', '/report');
  }

  suggest(budget?: number): Promise<{ label: number; suggestions: Suggestion[] }[]> {
    return this.json('GET', `/suggest${budget !== undefined ? `?budget=${budget}` : ''}`);
  }

  keySlices(label: number): Promise<{ slice: number; kind: 'mask' | 'prompt' | 'absent' }[]> {
    return this.json('GET', `/labels/${label}/slices`);
  }

  /** Keeps the session from expiring while its user is idle. */
  async heartbeat(): Promise<void> {
    await this.call('POST', '/heartbeat');
  }

  async close(): Promise<void> {
    await this.call('DELETE', '');
  }
}
