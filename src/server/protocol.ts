/** Messages between the server's main thread and its session workers. */
import type { WireError } from './errors.js';
import type { ImageKind } from './upload.js';

export interface SessionSpec {
  /** The stored image (a file the server wrote under its data folder) and its kind. */
  file: string;
  kind: ImageKind;
  engine: string;
  axis?: 0 | 1 | 2;
}

/** An edit as journalled and as replayed: the operation and its wire-level arguments. */
export type EditRecord =
  | { op: 'setKeySlice'; label: number; slice: number; key: unknown }
  | { op: 'removeKeySlice'; label: number; slice: number }
  | { op: 'correct'; label: number; slice: number; mask: unknown }
  | { op: 'removeLabel'; label: number }
  | { op: 'undo' }
  | { op: 'redo' }
  | { op: 'propagate'; labels?: number[] };

export type QueryOp =
  | { op: 'state' }
  | { op: 'keySlices'; label: number }
  /** `only`: that label's voxels as a binary (0/1) label image. */
  | { op: 'labels'; format: LabelFormat; only?: number }
  | { op: 'report' }
  | { op: 'suggest'; budget?: number }
  /** Key-slice edits read from a sparse label file the server stored and/or a prompts document. */
  | { op: 'annotations'; labelFile?: string; prompts?: unknown };

export type LabelFormat = 'raw' | 'nii.gz' | 'nii' | 'nrrd' | 'mha' | 'seg.nrrd' | 'dcm';
export const LABEL_FORMATS: readonly LabelFormat[] = ['nii.gz', 'nii', 'nrrd', 'mha', 'seg.nrrd', 'dcm', 'raw'];

export type WorkerRequest =
  | { id: number; sid: string; op: 'open'; spec: SessionSpec; replay?: EditRecord[] }
  /** `stop`: a propagation's stop flag (Int32 0 = run, 1 = stop), shared with the main thread. */
  | ({ id: number; sid: string; stop?: SharedArrayBuffer } & EditRecord)
  | ({ id: number; sid: string } & QueryOp)
  | { id: number; sid: string; op: 'close' }
  | { id: number; sid: string; op: 'cancel'; target: number };

export type WorkerReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: WireError }
  | { id: number; line: unknown };

export interface WorkerData {
  tmpDir: string;
  /** Scheduling priority of the worker threads relative to the event loop (Linux; default 10). */
  niceness?: number;
  /** Run one propagation on a generated phantom at start (see warm-up.ts). */
  warmUp?: boolean;
  /** Test hook: a propagation that includes this label ends the worker thread after its first slice. */
  crashOnLabel?: number;
}
