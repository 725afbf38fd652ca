/**
 * The segmentation pipeline behind `keyslice segment`: image + sparse annotations → label volume on the image
 * grid, with the annotations' label values, and a report of what was done per label and per slice.
 *
 * Each label is propagated on its own by the controller (`src/propagation`) with the named engine, cleaned by
 * the 3D post-processing, then the labels are merged (`src/session/merge.ts`): key slices always win; beyond its
 * outermost key slices a label gives way to labels better founded there, and ends where it runs onto them;
 * elsewhere the first label in order keeps a contested voxel.
 */
import type { Annotations } from '../annotations/types.js';
import type { IntensityWindow } from '../analysis/window.js';
import type { PropagationOptions } from '../propagation/controller.js';
import type { PostprocessOptions, PostprocessReport } from '../propagation/postprocess.js';
import type { FrontReport, SliceEngine, SliceReport } from '../propagation/types.js';
import { openSession } from '../session/session.js';
import type { Session } from '../session/types.js';
import { KeysliceError } from '../util/errors.js';
import type { LabelArray, Volume } from '../volume/volume.js';
import { ENGINE_TABLE } from './engines.js';

/** The engine used when none is named. */
export const DEFAULT_ENGINE = 'classic';

/** The engines that need no model (see `ENGINE_TABLE` for all). */
export function engineNames(): string[] {
  return ENGINE_TABLE.filter((e) => e.model === 'none').map((e) => e.name);
}

/** A weight-free engine by name (a model engine is made with `createEngine(name, model)`). */
export function getEngine(name: string): SliceEngine {
  const e = ENGINE_TABLE.find((x) => x.name === name && x.model === 'none');
  if (!e) {
    const spec = ENGINE_TABLE.find((x) => x.name === name);
    throw new KeysliceError(
      'USAGE',
      spec ? `engine ${name} needs a model: load one and pass createEngine('${name}', model) as the engine` : `unknown engine "${name}" (available: ${engineNames().join(', ')})`,
    );
  }
  return e.create();
}

export interface LabelReport {
  value: number;
  name?: string;
  engine: string;
  /** Key slices, 0-based along the slice axis, and which of them say "absent". */
  keySlices: number[];
  emptyKeySlices: number[];
  /** First and last slice holding the object in the output, or null when the output is empty. */
  extent: [number, number] | null;
  voxels: number;
  volumeMl: number;
  seconds: number;
  notes: string[];
  /** In-plane region of interest the object was segmented in, [u0, v0, u1, v1] inclusive, or null. */
  roi: [number, number, number, number] | null;
  /** How each front from a key slice ended. */
  fronts: FrontReport[];
  /**
   * The run of the engine's extent engine that bounded the outward fronts: its name, the slices its object
   * spans (null: none) and its seconds.
   */
  extentRun?: { engine: string; extent: [number, number] | null; seconds: number };
  /** Slices that reused a near-duplicate neighbour's mask instead of running the engine. */
  reusedSlices: number;
  /**
   * Redundant slices filled by interpolation inside two-slice steps, and two-slice steps tried but not kept (each
   * cost an engine call): the engine calls saved are `skippedSlices - skipsRejected`.
   */
  skippedSlices: number;
  skipsRejected: number;
  engineCalls: number;
  postprocess: PostprocessReport;
  /** Every slice that holds the object or was visited (area in the merged output). */
  slices: SliceReport[];
}

export interface SegmentReport {
  engine: string;
  sliceAxis: number;
  window: IntensityWindow;
  range: [number, number] | null;
  size: number[];
  spacing: number[];
  labels: LabelReport[];
  seconds: number;
  /** The engine's counters for this run (model engines: encoder and decoder calls, seconds, cache hits). */
  engineStats?: Record<string, number>;
}

export interface Progress {
  /** Labels finished so far, and in all. */
  done: number;
  total: number;
  label: number;
  /** The label's name, when it has one. */
  name?: string;
  /** Within the current label: the slice just propagated to, slices propagated so far, and slices along the axis. */
  slice?: number;
  slicesDone?: number;
  sliceCount?: number;
}

export interface SegmentOptions {
  /** Engine name (default {@link DEFAULT_ENGINE}) or an engine object. */
  engine?: string | SliceEngine;
  /** Inclusive slice range [first, last] to propagate within (key slices are kept anyway). */
  range?: [number, number];
  stopRules?: PropagationOptions['stopRules'];
  /** Interpolation of the key masks for the prior between key slices (default: the engine's, else `shape`). */
  interpolation?: PropagationOptions['interpolation'];
  postprocess?: PostprocessOptions;
  /**
   * Bound the fronts beyond the outermost key slices by a run of the engine's `extentEngine` (model engines:
   * the classic engine), when it has one (default true).
   */
  useExtentEngine?: boolean;
  /** Intensity window for slice similarity (default: chosen from the image, see `intensityWindow`). */
  window?: IntensityWindow;
  onProgress?: (p: Progress) => void;
}

export interface SegmentResult {
  labels: Volume<LabelArray>;
  report: SegmentReport;
}

/**
 * A session for one propagation of `annotations` with `options` (the engine by name or object): nothing in it is
 * asked for again, so nothing is kept for reuse. The caller closes it.
 */
export async function oneRunSession(image: Volume, annotations: Annotations, options: SegmentOptions): Promise<Session> {
  const engine = typeof options.engine === 'object' ? options.engine : getEngine(options.engine ?? DEFAULT_ENGINE);
  const session = await openSession(image, {
    axis: annotations.axis,
    engine,
    cacheBytes: 0,
    ...(options.range ? { range: options.range } : {}),
    ...(options.stopRules ? { stopRules: options.stopRules } : {}),
    ...(options.interpolation ? { interpolation: options.interpolation } : {}),
    ...(options.postprocess ? { postprocess: options.postprocess } : {}),
    ...(options.useExtentEngine !== undefined ? { useExtentEngine: options.useExtentEngine } : {}),
    ...(options.window ? { window: options.window } : {}),
  });
  try {
    await session.setAnnotations(annotations);
  } catch (e) {
    await session.close();
    throw e;
  }
  return session;
}

/**
 * Segments every labelled object of `annotations` in `image`: a session with these key slices and one
 * propagation (see `src/session`).
 */
export async function segment(image: Volume, annotations: Annotations, options: SegmentOptions = {}): Promise<SegmentResult> {
  const t0 = performance.now();
  const session = await oneRunSession(image, annotations, options);
  try {
    const total = annotations.labels.length;
    const sliceCount = session.count;
    const first = annotations.labels[0];
    options.onProgress?.({ done: 0, total, label: first?.value ?? 0, name: first?.name, sliceCount });
    let done = 0;
    let slicesDone = 0;
    const updates = session.propagate({
      labels: annotations.labels.map((l) => l.value),
      // Only the merged labels are read below: no slice updates to make.
      updates: false,
      onStep: ({ label, slice }) => {
        const name = annotations.labels[done]?.name;
        options.onProgress?.({ done, total, label, name, slice, slicesDone: ++slicesDone, sliceCount });
      },
      onLabel: (p) => {
        done = p.done;
        slicesDone = 0;
        options.onProgress?.({ done: p.done, total, label: p.label, name: p.name, sliceCount });
      },
    });
    for await (const u of updates) void u;
    const labels = await session.labels();
    const report = await session.report();
    return { labels, report: { ...report, seconds: (performance.now() - t0) / 1000 } };
  } finally {
    await session.close();
  }
}
