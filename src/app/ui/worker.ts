/**
 * The app's session worker (local mode): the image is read and the session runs here, in the page's own
 * thread pool, from `keyslice/browser`. Requests and answers are {@link WorkerRequest} / {@link WorkerReply}.
 */
import { KeysliceError, openSession, type KeysliceSessionHandle, type SliceUpdate } from 'keyslice/browser';
import { gzipSync, zipSync } from 'fflate';
import type { LabelInfo } from '../../labels/label-table.js';
import { labelSurface } from '../../mesh/surface.js';
import { niftiFromBytes, niftiToBytes } from '../../volume/nifti-bytes.js';
import { segNrrdBytes } from '../../volume/seg-nrrd.js';
import type { LabelArray } from '../../volume/volume.js';
import { stlBinary } from '../stl.js';
import type { Volume } from '../../volume/volume.js';
import type { WorkerReply, WorkerRequest } from '../port.js';

interface Scope {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  onmessage: ((ev: MessageEvent<WorkerRequest>) => void) | null;
}
const scope = self as unknown as Scope;

let session: KeysliceSessionHandle | null = null;

function post(reply: WorkerReply, transfer: Transferable[] = []): void {
  scope.postMessage(reply, transfer);
}

function readImage(name: string, bytes: Uint8Array): Volume {
  if (/\.nii(\.gz)?$/i.test(name)) return niftiFromBytes(bytes, name);
  throw new KeysliceError('UNSUPPORTED_IMAGE', 'the in-page reader reads NIfTI (.nii, .nii.gz) from bytes; other formats come from the viewer', name);
}

function live(): KeysliceSessionHandle {
  if (!session) throw new KeysliceError('USAGE', 'no scan is open');
  return session;
}

type Handler = (...args: never[]) => unknown;

const ops: Record<string, Handler> = {
  async open(name: string, bytes: Uint8Array, engine?: string) {
    session?.close();
    session = null;
    const image = readImage(name, bytes);
    session = await openSession(image, { engine: engine ?? 'classic' });
    return { axis: session.axis, count: session.count, nu: session.nu, nv: session.nv, engine: engine ?? 'classic' };
  },
  async openVolume(name: string, image: Volume, engine?: string) {
    session?.close();
    session = null;
    if (!image || image.size.length !== 3 || image.data.length !== image.size[0] * image.size[1] * image.size[2]) {
      throw new KeysliceError('UNSUPPORTED_IMAGE', 'the viewer could not read this image as a 3D scalar volume', name);
    }
    session = await openSession(image, { engine: engine ?? 'classic' });
    return { axis: session.axis, count: session.count, nu: session.nu, nv: session.nv, engine: engine ?? 'classic' };
  },
  setKeySlice: (label, slice, key) => live().setKeySlice(label, slice, key),
  removeKeySlice: (label: number, slice: number) => live().removeKeySlice(label, slice),
  correct: (label: number, slice: number, mask: Uint8Array) => live().correct(label, slice, mask),
  removeLabel: (label: number) => live().removeLabel(label),
  undo: () => live().undo(),
  redo: () => live().redo(),
  revision: () => live().revision(),
  pending: () => live().pending(),
  keySlices: (label: number) => live().keySlices(label),
  labels: () => live().labels(),
  async labelsFile(format: string, infos: LabelInfo[]) {
    if (format === 'seg.nrrd') return segNrrdBytes(await live().labels(), infos, (raw) => gzipSync(raw));
    if (format !== 'nii.gz' && format !== 'nii') throw new KeysliceError('USAGE', `the in-page engine exports nii.gz, nii or seg.nrrd, not ${format}`);
    return niftiToBytes(await live().labels(), format === 'nii.gz');
  },
  suggest: (budget?: number) => live().suggest(budget),
  /** One binary STL per label (mm, LPS), zipped: `VALUE_NAME.stl`. */
  meshes(labels: Volume<LabelArray>, infos: { value: number; name: string }[]) {
    const files: Record<string, Uint8Array> = {};
    for (const l of infos) {
      const mesh = labelSurface(labels, l.value);
      if (!mesh) continue;
      files[`${l.value}_${l.name.replace(/[^A-Za-z0-9._-]+/g, '_')}.stl`] = stlBinary(mesh, `SPACE=LPS keyslice surface of label ${l.value} (${l.name}); SPACE=LPS; units mm`);
    }
    return zipSync(files, { level: 6 });
  },
  close() {
    session?.close();
    session = null;
  },
};

const running = new Map<number, AbortController>();

async function propagate(id: number, labels?: number[]): Promise<unknown> {
  const ctl = new AbortController();
  running.set(id, ctl);
  const t0 = performance.now();
  let slices = 0;
  try {
    for await (const u of live().propagate({ ...(labels ? { labels } : {}), signal: ctl.signal })) {
      slices++;
      post({ id, type: 'update', update: u as SliceUpdate }, [u.mask.buffer as ArrayBuffer]);
    }
  } finally {
    running.delete(id);
  }
  return { slices, seconds: (performance.now() - t0) / 1000 };
}

scope.onmessage = (ev) => {
  const { id, op, args } = ev.data;
  void (async () => {
    try {
      let value: unknown;
      if (op === 'propagate') value = await propagate(id, args[0] as number[] | undefined);
      else if (op === 'abort') value = running.get(args[0] as number)?.abort() ?? null;
      else {
        const h = ops[op];
        if (!h) throw new KeysliceError('USAGE', `unknown operation ${op}`);
        value = await (h as (...a: unknown[]) => unknown)(...args);
      }
      post({ id, type: 'value', value: value ?? null });
    } catch (err) {
      const e = err as Error & { code?: string };
      post({ id, type: 'error', error: { code: e.code ?? (e.name === 'AbortError' ? 'ABORTED' : 'INTERNAL'), message: e.message } });
    }
  })();
};
