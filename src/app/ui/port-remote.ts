/**
 * The remote session port: a session on the `keyslice serve` server the app was loaded from. A DICOM series goes
 * to the server as a zip of its files (what `POST /sessions` takes), so that the server's DICOM SEG references them.
 */
import { zipSync } from 'fflate';
import { RemoteSession } from '../../session/remote.js';
import type { KeySlicePrompt, LabelRef, Revision, SliceUpdate, Suggestion } from '../../session/types.js';
import type { LabelArray, Volume } from '../../volume/volume.js';
import type { ExportFormat, OpenedScan, PropagateResult, SeriesScan, SessionPort } from '../port.js';
import { PortError } from './port-local.js';

export class RemotePort implements SessionPort {
  readonly mode = 'remote' as const;
  private session: RemoteSession | null = null;
  private dicom = false;

  constructor(
    private readonly server: string,
    private readonly token?: string,
  ) {}

  private get s(): RemoteSession {
    if (!this.session) throw new PortError('USAGE', 'no scan is open');
    return this.session;
  }

  get formats(): readonly ExportFormat[] {
    return ['nii.gz', 'nii', 'seg.nrrd', 'nrrd', 'mha', ...(this.dicom ? (['dcm'] as const) : [])];
  }

  async open(name: string, bytes: Uint8Array): Promise<OpenedScan> {
    if (this.session) await this.session.close().catch(() => undefined);
    this.session = null;
    this.dicom = false;
    const s = await RemoteSession.open(this.server, bytes, this.token ? { token: this.token } : {});
    this.session = s;
    void name;
    return { axis: s.axis, count: s.count, nu: s.nu, nv: s.nv, engine: s.engine };
  }
  /** The series' files, zipped without compression (DICOM pixel data rarely shrinks, and the server is near). */
  async openSeries(name: string, series: SeriesScan): Promise<OpenedScan> {
    const members: Record<string, Uint8Array> = {};
    series.files.forEach((f, i) => (members[`${String(i).padStart(6, '0')}.dcm`] = f.bytes));
    const opened = await this.open(name, zipSync(members, { level: 0 }));
    this.dicom = true;
    return opened;
  }
  setKeySlice(label: LabelRef, slice: number, key: KeySlicePrompt): Promise<Revision> {
    return this.s.setKeySlice(label, slice, key);
  }
  removeKeySlice(label: number, slice: number): Promise<Revision> {
    return this.s.removeKeySlice(label, slice);
  }
  correct(label: number, slice: number, mask: Uint8Array): Promise<Revision> {
    return this.s.correct(label, slice, mask);
  }
  removeLabel(label: number): Promise<Revision> {
    return this.s.removeLabel(label);
  }
  undo(): Promise<Revision | null> {
    return this.s.undo();
  }
  redo(): Promise<Revision | null> {
    return this.s.redo();
  }
  revision(): Promise<Revision> {
    return this.s.revision();
  }
  pending(): Promise<number[]> {
    return this.s.pending();
  }
  keySlices(label: number): Promise<{ slice: number; kind: 'mask' | 'prompt' | 'absent' }[]> {
    return this.s.keySlices(label);
  }
  async propagate(onUpdate: (u: SliceUpdate) => void, options: { labels?: number[]; signal?: AbortSignal } = {}): Promise<PropagateResult> {
    const t0 = performance.now();
    let slices = 0;
    for await (const u of this.s.propagate(options)) {
      slices++;
      onUpdate(u);
    }
    return { slices, seconds: (performance.now() - t0) / 1000 };
  }
  labels(): Promise<Volume<LabelArray>> {
    return this.s.labels();
  }
  /** The server names and colours the labels itself (`infos` is not sent). */
  labelsFile(format: ExportFormat): Promise<Uint8Array> {
    return this.s.labelsFile(format);
  }
  suggest(budget?: number): Promise<{ label: number; suggestions: Suggestion[] }[]> {
    return this.s.suggest(budget);
  }
  async close(): Promise<void> {
    await this.session?.close();
    this.session = null;
  }
}
