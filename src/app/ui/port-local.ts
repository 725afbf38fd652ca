/**
 * The local session port: a Web Worker in the page runs the session (see worker.ts). A DICOM SEG is written in
 * the page itself, from the labels and the series' files.
 */
import type { LabelInfo } from '../../labels/label-table.js';
import type { KeySlicePrompt, LabelRef, Revision, SliceUpdate, Suggestion } from '../../session/types.js';
import type { LabelArray, Volume } from '../../volume/volume.js';
import type { ExportFormat, OpenedScan, PropagateResult, SeriesScan, SessionPort, WorkerReply } from '../port.js';
import { writeDicomSegBytes } from './dicom.js';

export class PortError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'PortError';
  }
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  onUpdate?(u: SliceUpdate): void;
}

export class LocalPort implements SessionPort {
  readonly mode = 'local' as const;
  private readonly worker: Worker;
  /** The files of the DICOM series open now (null for other scans). */
  private series: SeriesScan['files'] | null = null;
  private name = '';
  private next = 1;
  private readonly calls = new Map<number, Pending>();

  constructor(workerUrl: URL) {
    this.worker = new Worker(workerUrl, { type: 'module' });
    this.worker.onmessage = (ev: MessageEvent<WorkerReply>) => this.receive(ev.data);
    this.worker.onerror = (ev) => {
      for (const p of this.calls.values()) p.reject(new PortError('WORKER', ev.message || 'the session worker failed'));
      this.calls.clear();
    };
  }

  private receive(r: WorkerReply): void {
    const p = this.calls.get(r.id);
    if (!p) return;
    if (r.type === 'update') {
      p.onUpdate?.(r.update);
      return;
    }
    this.calls.delete(r.id);
    if (r.type === 'value') p.resolve(r.value);
    else p.reject(new PortError(r.error.code, r.error.message));
  }

  private call<T>(op: string, args: unknown[], transfer: Transferable[] = [], onUpdate?: (u: SliceUpdate) => void): { id: number; done: Promise<T> } {
    const id = this.next++;
    const done = new Promise<T>((resolve, reject) => this.calls.set(id, { resolve: resolve as (v: unknown) => void, reject, ...(onUpdate ? { onUpdate } : {}) }));
    this.worker.postMessage({ id, op, args }, transfer);
    return { id, done };
  }

  private ask<T>(op: string, ...args: unknown[]): Promise<T> {
    return this.call<T>(op, args).done;
  }

  get formats(): readonly ExportFormat[] {
    return ['nii.gz', 'nii', 'seg.nrrd', ...(this.series ? (['dcm'] as const) : [])];
  }

  /** NIfTI is read in the worker by keyslice's own reader; other formats as the viewer read them. */
  open(name: string, bytes: Uint8Array, decoded?: () => Volume): Promise<OpenedScan> {
    this.series = null;
    this.name = name;
    if (!/\.nii(\.gz)?$/i.test(name) && decoded) {
      const volume = decoded();
      return this.call<OpenedScan>('openVolume', [name, volume], [volume.data.buffer as ArrayBuffer]).done;
    }
    const copy = bytes.slice();
    return this.call<OpenedScan>('open', [name, copy], [copy.buffer]).done;
  }
  async openSeries(name: string, series: SeriesScan): Promise<OpenedScan> {
    this.series = null;
    const volume = { ...series.volume, data: series.volume.data.slice() };
    const opened = await this.call<OpenedScan>('openVolume', [name, volume], [volume.data.buffer as ArrayBuffer]).done;
    this.series = series.files;
    this.name = name;
    return opened;
  }
  setKeySlice(label: LabelRef, slice: number, key: KeySlicePrompt): Promise<Revision> {
    return this.ask('setKeySlice', label, slice, key);
  }
  removeKeySlice(label: number, slice: number): Promise<Revision> {
    return this.ask('removeKeySlice', label, slice);
  }
  correct(label: number, slice: number, mask: Uint8Array): Promise<Revision> {
    return this.ask('correct', label, slice, mask);
  }
  removeLabel(label: number): Promise<Revision> {
    return this.ask('removeLabel', label);
  }
  undo(): Promise<Revision | null> {
    return this.ask('undo');
  }
  redo(): Promise<Revision | null> {
    return this.ask('redo');
  }
  revision(): Promise<Revision> {
    return this.ask('revision');
  }
  pending(): Promise<number[]> {
    return this.ask('pending');
  }
  keySlices(label: number): Promise<{ slice: number; kind: 'mask' | 'prompt' | 'absent' }[]> {
    return this.ask('keySlices', label);
  }
  async propagate(onUpdate: (u: SliceUpdate) => void, options: { labels?: number[]; signal?: AbortSignal } = {}): Promise<PropagateResult> {
    const { id, done } = this.call<PropagateResult>('propagate', [options.labels], [], onUpdate);
    const abort = () => this.worker.postMessage({ id: this.next++, op: 'abort', args: [id] });
    options.signal?.addEventListener('abort', abort, { once: true });
    try {
      return await done;
    } finally {
      options.signal?.removeEventListener('abort', abort);
    }
  }
  labels(): Promise<Volume<LabelArray>> {
    return this.ask('labels');
  }
  async labelsFile(format: ExportFormat, infos: readonly LabelInfo[]): Promise<Uint8Array> {
    if (format !== 'dcm') return this.ask('labelsFile', format, infos);
    if (!this.series) throw new PortError('NOT_DICOM', 'this scan was not a DICOM series, so a DICOM SEG would reference no series');
    return (await writeDicomSegBytes(await this.labels(), infos, this.series, `${this.name}-labels.dcm`)).bytes;
  }
  suggest(budget?: number): Promise<{ label: number; suggestions: Suggestion[] }[]> {
    return this.ask('suggest', budget);
  }
  /** A zip of one STL surface per label, made in the worker from a label volume. */
  meshes(labels: Volume<LabelArray>, infos: { value: number; name: string }[]): Promise<Uint8Array> {
    return this.ask('meshes', labels, infos);
  }
  async close(): Promise<void> {
    await this.ask('close');
  }
}
