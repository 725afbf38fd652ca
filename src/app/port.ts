/**
 * The one interface the annotation app talks to, whether the session runs in a Web Worker in the page (local:
 * the scan never leaves the machine) or on a `keyslice serve` server (remote). Every call is a promise; the
 * propagation reports each slice through a callback and resolves when it is complete.
 */
import type { LabelInfo } from '../labels/label-table.js';
import type { KeySlicePrompt, LabelRef, Revision, SliceUpdate, Suggestion } from '../session/types.js';
import type { LabelArray, SliceAxis, Volume } from '../volume/volume.js';

/** What the app learns when a scan is opened. */
export interface OpenedScan {
  axis: SliceAxis;
  count: number;
  nu: number;
  nv: number;
  engine: string;
}

/**
 * Label file formats an export may ask for (which a port offers: {@link SessionPort.formats}); `dcm` is a DICOM SEG,
 * offered where the scan was a DICOM series.
 */
export type ExportFormat = 'nii.gz' | 'nii' | 'seg.nrrd' | 'nrrd' | 'mha' | 'dcm';

/** A DICOM series read in the page: its volume, and its files in slice order. */
export interface SeriesScan {
  volume: Volume;
  files: { path: string; bytes: Uint8Array }[];
}

export interface PropagateResult {
  slices: number;
  seconds: number;
}

export interface SessionPort {
  readonly mode: 'local' | 'remote';
  /** Label file formats this port exports for the scan open now. */
  readonly formats: readonly ExportFormat[];
  /**
   * Opens a scan from a file's bytes (the name tells its format). `decoded` is the image as the viewer read it,
   * for a port that cannot read the file's format itself.
   */
  open(name: string, bytes: Uint8Array, decoded?: () => Volume): Promise<OpenedScan>;
  /** Opens a DICOM series read in the page (`name` is its folder's). */
  openSeries(name: string, series: SeriesScan): Promise<OpenedScan>;
  setKeySlice(label: LabelRef, slice: number, key: KeySlicePrompt): Promise<Revision>;
  removeKeySlice(label: number, slice: number): Promise<Revision>;
  correct(label: number, slice: number, mask: Uint8Array): Promise<Revision>;
  removeLabel(label: number): Promise<Revision>;
  undo(): Promise<Revision | null>;
  redo(): Promise<Revision | null>;
  revision(): Promise<Revision>;
  pending(): Promise<number[]>;
  keySlices(label: number): Promise<{ slice: number; kind: 'mask' | 'prompt' | 'absent' }[]>;
  /** Propagates what needs it; `onUpdate` hears each slice as it is decided. */
  propagate(onUpdate: (u: SliceUpdate) => void, options?: { labels?: number[]; signal?: AbortSignal }): Promise<PropagateResult>;
  labels(): Promise<Volume<LabelArray>>;
  /** The labels as a file's bytes; `infos` names and colours the labels where the format keeps them. */
  labelsFile(format: ExportFormat, infos: readonly LabelInfo[]): Promise<Uint8Array>;
  suggest(budget?: number): Promise<{ label: number; suggestions: Suggestion[] }[]>;
  close(): Promise<void>;
}

/** A request to the app's session worker. */
export interface WorkerRequest {
  id: number;
  op: string;
  args: unknown[];
}

/** A worker's answer: a value, an error, or (for a propagation) one slice update before the final value. */
export type WorkerReply =
  | { id: number; type: 'value'; value: unknown }
  | { id: number; type: 'error'; error: { code: string; message: string } }
  | { id: number; type: 'update'; update: SliceUpdate };
