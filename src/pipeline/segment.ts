/**
 * The segmentation pipeline behind `keyslice segment`: image + sparse annotations → label volume on the image
 * grid, with the annotations' label values, and a report of what was done per label and per slice.
 *
 * Each label is propagated on its own by the controller (`src/propagation`) with the named engine, cleaned by
 * the 3D post-processing, then the labels are merged: key slices always win; elsewhere the first label in
 * ascending value keeps a contested voxel.
 */
import type { Annotations, LabelAnnotation } from '../annotations/types.js';
import { intensityWindow, type IntensityWindow } from '../analysis/window.js';
import { pasteObject, propagateObject, type PropagationOptions } from '../propagation/controller.js';
import { policyOf } from '../propagation/policy.js';
import { ENGINE_TABLE } from './engines.js';
import { postprocessStack, type PostprocessOptions, type PostprocessReport } from '../propagation/postprocess.js';
import type { FrontReport, SliceEngine, SliceReport } from '../propagation/types.js';
import { KeysliceError } from '../util/errors.js';
import { allocLabels, SliceGeometry, withGeometry, type LabelArray, type Volume } from '../volume/volume.js';

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

/** First and last slice of a stack (`count` slices of `area` pixels) holding any pixel, or null. */
function stackExtent(mask: Uint8Array, area: number, count: number): [number, number] | null {
  let first = -1;
  let last = -1;
  for (let w = 0; w < count; w++) {
    const s = mask.subarray(w * area, (w + 1) * area);
    if (s.some((x) => x)) {
      if (first < 0) first = w;
      last = w;
    }
  }
  return first < 0 ? null : [first, last];
}

/** Segments every labelled object of `annotations` in `image`. */
export async function segment(image: Volume, annotations: Annotations, options: SegmentOptions = {}): Promise<SegmentResult> {
  const t0 = performance.now();
  const engine = typeof options.engine === 'object' ? options.engine : getEngine(options.engine ?? DEFAULT_ENGINE);
  // This run's counters (an engine and its model may serve several runs at once).
  const usage = engine.newUsage?.();
  const sg = new SliceGeometry(image, annotations.axis);
  if (options.range) {
    const [r0, r1] = options.range;
    if (!(Number.isInteger(r0) && Number.isInteger(r1) && r0 >= 0 && r1 >= r0 && r1 < sg.count)) {
      throw new KeysliceError('USAGE', `slice range ${r0}:${r1} is not within 0:${sg.count - 1} along axis ${annotations.axis}`);
    }
  }
  const window = options.window ?? intensityWindow(image);
  const maxLabel = Math.max(0, ...annotations.labels.map((l) => l.value));
  const out = allocLabels(image.data.length, maxLabel);
  const reports: LabelReport[] = [];
  const stacks: { label: LabelAnnotation; mask: Uint8Array }[] = [];
  const total = annotations.labels.length;
  options.onProgress?.({ done: 0, total, label: annotations.labels[0]?.value ?? 0, name: annotations.labels[0]?.name, sliceCount: sg.count });
  for (const [n, label] of annotations.labels.entries()) {
    const tl = performance.now();
    let extentRun: LabelReport['extentRun'];
    const extentEngine = policyOf(engine).extentEngine;
    if (extentEngine && options.useExtentEngine !== false) {
      const te = performance.now();
      const q = await propagateObject(image, sg, label, extentEngine, window, {
        range: options.range,
        stopRules: options.stopRules,
        interpolation: options.interpolation,
      });
      let extent: [number, number] | null = null;
      if (q) {
        postprocessStack(q.mask, q.nu, q.nv, sg.count, new Set(q.keyMasks.keys()), options.postprocess);
        extent = stackExtent(q.mask, q.nu * q.nv, sg.count);
      }
      extentRun = { engine: extentEngine.name, extent, seconds: (performance.now() - te) / 1000 };
    }
    let slicesDone = 0;
    const onStep = (slice: number): void =>
      options.onProgress?.({ done: n, total, label: label.value, name: label.name, slice, slicesDone: ++slicesDone, sliceCount: sg.count });
    const p = await propagateObject(image, sg, label, engine, window, {
      onStep,
      range: options.range,
      stopRules: options.stopRules,
      interpolation: options.interpolation,
      ...(extentRun?.extent ? { extent: extentRun.extent } : {}),
      ...(usage ? { usage } : {}),
    });
    const mask = new Uint8Array(sg.area * sg.count);
    let postprocess: PostprocessReport = {};
    if (p) {
      postprocess = postprocessStack(p.mask, p.nu, p.nv, sg.count, new Set(p.keyMasks.keys()), options.postprocess);
      pasteObject(p, sg, mask);
    }
    stacks.push({ label, mask });
    reports.push({
      value: label.value,
      ...(label.name !== undefined ? { name: label.name } : {}),
      engine: engine.name,
      keySlices: label.keySlices.map((k) => k.index),
      emptyKeySlices: label.keySlices.filter((k) => k.empty).map((k) => k.index),
      extent: null,
      voxels: 0,
      volumeMl: 0,
      seconds: (performance.now() - tl) / 1000,
      notes: engine.promptNotes?.(label) ?? [],
      roi: p ? [p.roi.u0, p.roi.v0, p.roi.u1, p.roi.v1] : null,
      fronts: p?.fronts ?? [],
      ...(extentRun ? { extentRun } : {}),
      reusedSlices: p?.reused ?? 0,
      skippedSlices: p?.skipped ?? 0,
      skipsRejected: p?.skipsRejected ?? 0,
      engineCalls: p?.engineCalls ?? 0,
      postprocess,
      slices: p?.slices ?? [],
    });
    options.onProgress?.({ done: n + 1, total, label: label.value, name: label.name, sliceCount: sg.count });
  }
  // Merge: non-key voxels first (lowest label value wins), then every key slice exactly.
  const { area } = sg;
  const slice = new Uint8Array(area);
  for (const { label, mask } of stacks) {
    const keys = new Set(label.keySlices.map((k) => k.index));
    for (let w = 0; w < sg.count; w++) {
      if (keys.has(w)) continue;
      const s = mask.subarray(w * area, (w + 1) * area);
      sg.extract(out, w, slice);
      let changed = false;
      for (let i = 0; i < area; i++) {
        if (s[i] && slice[i] === 0) {
          slice[i] = label.value;
          changed = true;
        }
      }
      if (changed) sg.insert(out, w, slice);
    }
  }
  for (const { label, mask } of stacks) {
    for (const k of label.keySlices) {
      const s = mask.subarray(k.index * area, (k.index + 1) * area);
      sg.extract(out, k.index, slice);
      for (let i = 0; i < area; i++) {
        if (s[i]) slice[i] = label.value;
        else if (slice[i] === label.value) slice[i] = 0;
      }
      sg.insert(out, k.index, slice);
    }
  }
  const voxelMl = (image.spacing[0] * image.spacing[1] * image.spacing[2]) / 1000;
  for (const r of reports) {
    let first = -1;
    let last = -1;
    const areas: number[] = [];
    for (let w = 0; w < sg.count; w++) {
      const n = sg.countEqual(out, w, r.value);
      areas.push(n);
      if (n > 0) {
        if (first < 0) first = w;
        last = w;
        r.voxels += n;
      }
    }
    r.extent = first < 0 ? null : [first, last];
    // Areas after merging; keep the slices that hold the object or that the schedule visited.
    r.slices = r.slices
      .map((s) => ({ ...s, area: areas[s.slice] }))
      .filter((s) => s.area > 0 || s.source !== 'none');
    r.volumeMl = r.voxels * voxelMl;
  }
  return {
    labels: withGeometry(image, out),
    report: {
      engine: engine.name,
      sliceAxis: annotations.axis,
      window,
      range: options.range ?? null,
      size: [...image.size],
      spacing: [...image.spacing],
      labels: reports,
      seconds: (performance.now() - t0) / 1000,
      ...(usage ? { engineStats: usage } : {}),
    },
  };
}
