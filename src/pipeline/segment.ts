/**
 * The segmentation pipeline behind `keyslice segment`: image + sparse annotations → label volume on the image
 * grid, with the annotations' label values, and a report of what was done per label.
 *
 * Engines are looked up by name. Each fills one binary object at a time on a stack of slices along the slice
 * axis; the pipeline then merges the labels (key slices always win; elsewhere the first label in ascending
 * value keeps a contested voxel).
 */
import { promptMask } from '../annotations/rasterize.js';
import type { Annotations, LabelAnnotation } from '../annotations/types.js';
import { interpolateKeyMasks, stackKeyMasks } from '../interpolation/mci.js';
import { KeysliceError } from '../util/errors.js';
import { allocLabels, SliceGeometry, withGeometry, type LabelArray, type Volume } from '../volume/volume.js';

/** What an engine is given for one label. */
export interface ObjectTask {
  image: Volume;
  slices: SliceGeometry;
  label: LabelAnnotation;
}

/** What an engine returns for one label: a stack of slices, `mask[u + nu * (v + nv * w)]`, 1 = object. */
export interface ObjectResult {
  mask: Uint8Array;
  notes: string[];
}

export interface Engine {
  name: string;
  description: string;
  segmentObject(task: ObjectTask): Promise<ObjectResult>;
}

/** Image-free 2D masks of all key slices of a label (see `promptMask`). */
function keyMasks(task: ObjectTask) {
  const { nu, nv } = task.slices;
  return task.label.keySlices.map((k) => ({ index: k.index, mask: promptMask(k, nu, nv) }));
}

function promptNotes(label: LabelAnnotation): string[] {
  const notes: string[] = [];
  const boxes = label.keySlices.filter((k) => !k.mask && k.box).length;
  const pts = label.keySlices.filter((k) => !k.mask && !k.box && k.points.length > 0).length;
  if (boxes) notes.push(`${boxes} box prompt(s) taken as the inscribed ellipse (no image model in this engine)`);
  if (pts) notes.push(`${pts} point-only prompt(s) taken as small discs (no image model in this engine)`);
  return notes;
}

/** Fills the key slices only. */
export const keySlicesEngine: Engine = {
  name: 'keyslices',
  description: 'writes the key-slice annotations only (no propagation)',
  async segmentObject(task) {
    const { nu, nv, count } = task.slices;
    return { mask: stackKeyMasks({ nu, nv, count }, keyMasks(task)), notes: promptNotes(task.label) };
  },
};

/** Morphological contour interpolation between key slices (image-free). */
export const interpolationEngine: Engine = {
  name: 'interp',
  description: 'morphological contour interpolation between key slices (ITK, as 3D Slicer "Fill between slices")',
  async segmentObject(task) {
    const { nu, nv, count } = task.slices;
    const mask = await interpolateKeyMasks({ nu, nv, count }, keyMasks(task));
    return { mask, notes: promptNotes(task.label) };
  },
};

const ENGINES = new Map<string, Engine>([
  [interpolationEngine.name, interpolationEngine],
  [keySlicesEngine.name, keySlicesEngine],
]);

/** The engine used when none is named. */
export const DEFAULT_ENGINE = interpolationEngine.name;

export function engineNames(): string[] {
  return [...ENGINES.keys()];
}

export function getEngine(name: string): Engine {
  const e = ENGINES.get(name);
  if (!e) throw new KeysliceError('USAGE', `unknown engine "${name}" (available: ${engineNames().join(', ')})`);
  return e;
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
}

export interface SegmentReport {
  engine: string;
  sliceAxis: number;
  size: number[];
  spacing: number[];
  labels: LabelReport[];
  seconds: number;
}

export interface Progress {
  /** Labels finished so far, and in all. */
  done: number;
  total: number;
  label: number;
}

export interface SegmentOptions {
  /** Engine name (default {@link DEFAULT_ENGINE}). */
  engine?: string;
  onProgress?: (p: Progress) => void;
}

export interface SegmentResult {
  labels: Volume<LabelArray>;
  report: SegmentReport;
}

/** Segments every labelled object of `annotations` in `image`. */
export async function segment(image: Volume, annotations: Annotations, options: SegmentOptions = {}): Promise<SegmentResult> {
  const t0 = performance.now();
  const engine = getEngine(options.engine ?? DEFAULT_ENGINE);
  const sg = new SliceGeometry(image, annotations.axis);
  const maxLabel = Math.max(0, ...annotations.labels.map((l) => l.value));
  const out = allocLabels(image.data.length, maxLabel);
  const reports: LabelReport[] = [];
  const stacks: { label: LabelAnnotation; mask: Uint8Array }[] = [];
  const total = annotations.labels.length;
  options.onProgress?.({ done: 0, total, label: annotations.labels[0]?.value ?? 0 });
  for (const [n, label] of annotations.labels.entries()) {
    const tl = performance.now();
    const { mask, notes } = await engine.segmentObject({ image, slices: sg, label });
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
      notes,
    });
    options.onProgress?.({ done: n + 1, total, label: label.value });
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
    for (let w = 0; w < sg.count; w++) {
      const n = sg.countEqual(out, w, r.value);
      if (n > 0) {
        if (first < 0) first = w;
        last = w;
        r.voxels += n;
      }
    }
    r.extent = first < 0 ? null : [first, last];
    r.volumeMl = r.voxels * voxelMl;
  }
  return {
    labels: withGeometry(image, out),
    report: {
      engine: engine.name,
      sliceAxis: annotations.axis,
      size: [...image.size],
      spacing: [...image.spacing],
      labels: reports,
      seconds: (performance.now() - t0) / 1000,
    },
  };
}
