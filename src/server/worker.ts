/**
 * A session worker: holds the sessions pinned to it and runs their operations off the server's event loop.
 * Every request gets one reply (`ok` with a value or a named error); a propagation also sends one message per
 * slice before its reply. A failing request leaves the worker and its other sessions as they were.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp, readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import * as path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { resolveEngine } from '../pipeline/engines-node.js';
import type { Session } from '../session/types.js';
import { decodeKeySlice, decodeMask, encodeUpdate } from '../session/wire.js';
import { KeysliceError } from '../util/errors.js';
import { labelInfos } from '../labels/label-table.js';
import { writeVolume } from '../volume/io-node.js';
import { formatSegNrrd } from '../volume/seg-nrrd-node.js';
import { copyGeometry, gridDifference, type Geometry, type LabelArray, type Volume } from '../volume/volume.js';
import { buildAnnotations } from '../annotations/build.js';
import { parsePrompts } from '../annotations/prompts.js';
import { encodeKeySlice } from '../session/wire.js';
import { readLabelVolume } from '../volume/io-node.js';
import { toWireError } from './errors.js';
import { readStoredImage, withStoredSeries } from './image-read.js';
import { HttpError } from './errors.js';
import { writeDicomSeg } from '../volume/dicom/seg-node.js';
import { thirdPartyMessage } from '../util/quiet.js';
import { openSession } from '../session/session.js';
import { warmUpEngine } from './warm-up.js';
import type { EditRecord, QueryOp, SessionSpec, WorkerData, WorkerReply, WorkerRequest } from './protocol.js';

type KeySliceList = Awaited<ReturnType<Session['keySlices']>>;

interface Entry {
  session: Session;
  spec: SessionSpec;
  image: Geometry;
  engine: string;
  /** Every label value an edit named, with its name. */
  labels: Map<number, string | undefined>;
}

const data = workerData as WorkerData;
const sessions = new Map<string, Entry>();
const running = new Map<number, AbortController>();

function post(m: WorkerReply, transfer: ArrayBuffer[] = []): void {
  parentPort!.postMessage(m, transfer);
}

function entry(sid: string): Entry {
  const e = sessions.get(sid);
  if (!e) throw new KeysliceError('USAGE', 'session is not open on this worker');
  return e;
}

async function open(sid: string, spec: SessionSpec): Promise<Entry> {
  const image = await readStoredImage(spec.file, spec.kind, data.tmpDir);
  const engine = await resolveEngine(spec.engine);
  const session = await openSession(image, { engine, ...(spec.axis !== undefined ? { axis: spec.axis } : {}) });
  const e: Entry = { session, spec, image: copyGeometry(image), engine: spec.engine, labels: new Map() };
  sessions.set(sid, e);
  return e;
}

async function info(e: Entry): Promise<Record<string, unknown>> {
  const s = e.session;
  return { axis: s.axis, count: s.count, nu: s.nu, nv: s.nv, engine: e.engine, revision: await s.revision() };
}

function labelValue(x: unknown): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 1 || x > 65535) {
    throw new KeysliceError('INVALID_PROMPTS', `label must be a whole number 1..65535, got ${JSON.stringify(x)}`);
  }
  return x;
}

/** Applies one edit; `onLine` receives a propagation's slices. */
async function applyEdit(e: Entry, r: EditRecord, onLine?: (line: unknown) => void, signal?: AbortSignal, poll?: () => void): Promise<unknown> {
  const s = e.session;
  switch (r.op) {
    case 'setKeySlice': {
      const label = labelValue(r.label);
      const { key, name } = decodeKeySlice(r.key, s.nu, s.nv);
      const rev = await s.setKeySlice(name === undefined ? label : { value: label, name }, r.slice, key);
      if (!e.labels.has(label) || name !== undefined) e.labels.set(label, name ?? e.labels.get(label));
      return rev;
    }
    case 'removeKeySlice':
      return await s.removeKeySlice(labelValue(r.label), r.slice);
    case 'correct': {
      const label = labelValue(r.label);
      const rev = await s.correct(label, r.slice, decodeMask(r.mask, s.nu, s.nv));
      if (!e.labels.has(label)) e.labels.set(label, undefined);
      return rev;
    }
    case 'removeLabel':
      return await s.removeLabel(labelValue(r.label));
    case 'undo':
      return await s.undo();
    case 'redo':
      return await s.redo();
    case 'propagate': {
      const labels = r.labels?.map(labelValue);
      const t0 = performance.now();
      let n = 0;
      const crash = data.crashOnLabel;
      const crashing = crash !== undefined && (labels ?? (await s.pending())).includes(crash);
      const completed: number[] = [];
      const onLabel = (p: { done: number; total: number; label: number }) => {
        completed.push(p.label);
        onLine?.({ type: 'label', ...p });
      };
      try {
        for await (const u of s.propagate({ ...(labels ? { labels } : {}), ...(signal ? { signal } : {}), onLabel, ...(poll ? { onStep: poll } : {}) })) {
          poll?.();
          n++;
          onLine?.(encodeUpdate(u, s.nu, s.nv));
          if (crashing) process.exit(70);
        }
      } catch (err) {
        // Stopped part-way: the session keeps the labels it completed, and says which.
        if (signal?.aborted) return { slices: n, seconds: (performance.now() - t0) / 1000, revision: await s.revision(), stopped: true, completed };
        throw err;
      }
      return { slices: n, seconds: (performance.now() - t0) / 1000, revision: await s.revision(), completed };
    }
  }
}

/** One label of a label image as a 0/1 image on the same grid (geometry kept). */
function binaryLabel(vol: Volume<LabelArray>, value: number): Volume<LabelArray> {
  const data = new Uint8Array(vol.data.length);
  for (let i = 0; i < data.length; i++) data[i] = vol.data[i] === value ? 1 : 0;
  return { ...vol, data };
}

async function labelsOut(e: Entry, format: string, only?: number): Promise<{ value: unknown; transfer: ArrayBuffer[] }> {
  const all: Volume<LabelArray> = await e.session.labels();
  const vol = only === undefined ? all : binaryLabel(all, only);
  if (format === 'raw') {
    const copy = vol.data.slice();
    return {
      value: { size: vol.size, spacing: vol.spacing, origin: vol.origin, direction: vol.direction, dtype: copy instanceof Uint16Array ? 'uint16' : 'uint8', data: copy },
      transfer: [copy.buffer as ArrayBuffer],
    };
  }
  if (format === 'dcm') {
    const out = await dicomSegOut(e, vol);
    return { value: out, transfer: [out.buffer as ArrayBuffer] };
  }
  if (format === 'seg.nrrd') {
    const held = await heldLabels(e);
    const infos = labelInfos(held.map((l) => l.value), held);
    const out = new Uint8Array(formatSegNrrd(vol, infos));
    return { value: out, transfer: [out.buffer] };
  }
  const file = path.join(data.tmpDir, `labels-${randomBytes(8).toString('hex')}.${format}`);
  try {
    await writeVolume(vol, file);
    const bytes = await fsp.readFile(file);
    const out = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength).slice();
    return { value: out, transfer: [out.buffer] };
  } finally {
    await fsp.rm(file, { force: true });
  }
}

/**
 * The labels as a DICOM SEG referencing the session's DICOM series (unpacked again from the stored upload):
 * one segment per held label with a voxel, numbered 1..n in label order, with the label's name and colour.
 */
async function dicomSegOut(e: Entry, vol: Volume<LabelArray>): Promise<Uint8Array> {
  const dicomOnly = 'ask for format nii.gz, seg.nrrd, nrrd or mha instead';
  if (e.spec.kind !== 'zip') {
    throw new HttpError(409, 'NOT_DICOM', `this session's image was not a DICOM series, so a DICOM SEG would reference no series; ${dicomOnly}`);
  }
  const held = await heldLabels(e);
  const present = new Set<number>();
  for (let i = 0; i < vol.data.length; i++) if (vol.data[i]) present.add(vol.data[i]);
  const infos = labelInfos(held.map((l) => l.value), held).filter((l) => present.has(l.value));
  if (infos.length === 0) throw new HttpError(409, 'EMPTY_SEGMENTATION', 'no label holds a voxel yet (set key slices and propagate): a DICOM SEG needs a segment');
  return withStoredSeries(e.spec.file, data.tmpDir, async (image, files) => {
    if (files.length === 0 || gridDifference(image, vol) !== null) {
      throw new HttpError(409, 'SERIES_RESAMPLED', `the uploaded series was read with its slices resampled (a gap or uneven spacing), so a DICOM SEG cannot reference its files; ${dicomOnly}`);
    }
    const file = path.join(data.tmpDir, `seg-${randomBytes(8).toString('hex')}.dcm`);
    try {
      await writeDicomSeg(vol, infos, file, files).catch((err: unknown) => {
        throw new KeysliceError('WRITE_FAILED', `the DICOM SEG writer failed: ${thirdPartyMessage(err)}`);
      });
      const bytes = await fsp.readFile(file);
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength).slice();
    } finally {
      await fsp.rm(file, { force: true });
    }
  });
}

/** Labels an edit named that the session still holds (undo and removeLabel take labels away), by value. */
async function heldLabels(e: Entry): Promise<{ value: number; name?: string; keySlices: KeySliceList }[]> {
  const out: { value: number; name?: string; keySlices: KeySliceList }[] = [];
  for (const [value, name] of [...e.labels.entries()].sort((a, b) => a[0] - b[0])) {
    const keySlices = await e.session.keySlices(value).catch(() => [] as KeySliceList);
    if (keySlices.length > 0) out.push({ value, ...(name !== undefined ? { name } : {}), keySlices });
  }
  return out;
}

async function query(e: Entry, q: QueryOp): Promise<unknown> {
  const s = e.session;
  switch (q.op) {
    case 'state': {
      const labels = await heldLabels(e);
      return { ...(await info(e)), pending: await s.pending(), labels };
    }
    case 'keySlices':
      return await s.keySlices(labelValue(q.label));
    case 'report':
      return await s.report();
    case 'suggest':
      return await s.suggest(q.budget);
    default:
      throw new KeysliceError('USAGE', 'unknown query');
  }
}

/**
 * Key-slice edits from a sparse label volume (every slice holding a label voxel is a key slice of each label
 * on it) and/or a prompts file, checked against the session's image as the CLI checks them.
 */
async function annotationEdits(e: Entry, labelFile: string | undefined, prompts: unknown): Promise<EditRecord[]> {
  const s = e.session;
  let sparse;
  if (labelFile) {
    try {
      sparse = { volume: await readLabelVolume(labelFile), file: 'label', keySlices: 'auto' as const };
    } catch (err) {
      if (err instanceof KeysliceError && err.file === labelFile) throw new KeysliceError(err.code, err.message.slice(labelFile.length + 2), 'label');
      throw err;
    }
  }
  const doc = prompts === undefined ? undefined : { doc: parsePrompts(prompts, 'params'), file: 'params' };
  if (!sparse && !doc) return [];
  const { annotations } = buildAnnotations(e.image, { ...(sparse ? { sparse } : {}), ...(doc ? { prompts: doc } : {}), axis: s.axis });
  const edits: EditRecord[] = [];
  for (const l of annotations.labels) {
    for (const k of l.keySlices) {
      const key = k.mask ? { mask: k.mask } : k.empty ? { absent: true as const } : { ...(k.box ? { box: k.box } : {}), ...(k.boxes ? { boxes: k.boxes } : {}), points: k.points, negativePoints: k.negativePoints };
      const wire = encodeKeySlice(key, s.nu, s.nv);
      edits.push({ op: 'setKeySlice', label: l.value, slice: k.index, key: l.name !== undefined ? { ...wire, name: l.name } : wire });
    }
  }
  return edits;
}

async function handle(m: WorkerRequest): Promise<void> {
  if (m.op === 'cancel') {
    running.get(m.target)?.abort();
    return;
  }
  try {
    let value: unknown;
    let transfer: ArrayBuffer[] = [];
    switch (m.op) {
      case 'open': {
        const e = await open(m.sid, m.spec);
        for (const r of m.replay ?? []) await applyEdit(e, r);
        value = await info(e);
        break;
      }
      case 'close':
        await sessions.get(m.sid)?.session.close();
        sessions.delete(m.sid);
        value = null;
        break;
      case 'annotations':
        value = await annotationEdits(entry(m.sid), m.labelFile, m.prompts);
        break;
      case 'labels':
        ({ value, transfer } = await labelsOut(entry(m.sid), m.format, m.only));
        break;
      case 'state':
      case 'keySlices':
      case 'report':
      case 'suggest':
        value = await query(entry(m.sid), m);
        break;
      default: {
        const ac = new AbortController();
        running.set(m.id, ac);
        const stop = 'stop' in m && m.stop ? new Int32Array(m.stop) : null;
        const poll = stop
          ? () => {
              if (Atomics.load(stop, 0) === 1 && !ac.signal.aborted) ac.abort();
            }
          : undefined;
        try {
          value = await applyEdit(entry(m.sid), m, (line) => post({ id: m.id, line }), ac.signal, poll);
        } finally {
          running.delete(m.id);
        }
      }
    }
    post({ id: m.id, ok: true, value }, transfer);
  } catch (err) {
    if (!(err instanceof KeysliceError || err instanceof HttpError)) console.error(`session ${m.sid}: ${m.op}:`, err);
    post({ id: m.id, ok: false, error: toWireError(err) });
  }
}

/**
 * Runs this thread `nice` steps below the server's event loop (Linux: a thread's id names it to
 * setpriority), so that /health and light requests are answered at once while every worker computes.
 */
function lowerThreadPriority(nice: number): void {
  try {
    const tid = Number(/task\/(\d+)/.exec(readlinkSync('/proc/thread-self'))?.[1]);
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, Math.min(19, getPriority(tid) + nice));
  } catch {
    // not Linux, or not permitted: the thread keeps the process's priority
  }
}

lowerThreadPriority(data.niceness ?? 10);
// Requests that arrive meanwhile interleave with the warm-up at its awaits.
if (data.warmUp) void warmUpEngine().catch((err: unknown) => console.error('session worker warm-up failed:', err));

parentPort!.on('message', (m: WorkerRequest) => {
  void handle(m);
});
