/**
 * The demo: a phantom CT with known truth, a few simulated key-slice annotations (masks for the organ, a box
 * for the lesion), the default engine, files written, Dice against the truth.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Annotations } from '../annotations/types.js';
import { maskOf, objectMetrics, type ObjectMetrics } from '../metrics/metrics.js';
import { resolveEngine } from '../pipeline/engines-node.js';
import { DEFAULT_ENGINE, segment } from '../pipeline/segment.js';
import { selectKeySlices, simulateLabel, sliceAreas, type PromptKind } from '../simulate/annotator.js';
import { writeTextAtomic, writeVolume } from '../volume/io-node.js';
import { defaultSliceAxis, SliceGeometry, withGeometry } from '../volume/volume.js';
import { makePhantom } from './phantom.js';

export interface DemoOptions {
  outDir: string;
  engine?: string;
  /** Key slices per label (default 3). */
  budget?: number;
}

export interface DemoLabelResult {
  value: number;
  name: string;
  prompt: PromptKind;
  keySlices: number[];
  metrics: ObjectMetrics;
}

export interface DemoResult {
  engine: string;
  files: Record<string, string>;
  labels: DemoLabelResult[];
  seconds: number;
}

export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const budget = opts.budget ?? 3;
  await fsp.mkdir(opts.outDir, { recursive: true });
  const { image, truth, labelNames } = makePhantom();
  const axis = defaultSliceAxis(image.spacing);
  const sg = new SliceGeometry(image, axis);
  const kinds: Record<number, PromptKind> = { 1: 'mask', 2: 'box' };
  const annotations: Annotations = { axis, labels: [] };
  for (const value of [1, 2]) {
    const keys = selectKeySlices(sliceAreas(truth.data, sg, value), value === 2 ? Math.min(2, budget) : budget);
    const label = simulateLabel(truth.data, sg, value, keys, kinds[value]);
    label.name = labelNames[value];
    annotations.labels.push(label);
  }
  // The key-slice annotations as a user would save them: a sparse label volume and a prompts file.
  const sparse = new Uint8Array(truth.data.length);
  const slice = new Uint8Array(sg.area);
  for (const l of annotations.labels) {
    for (const k of l.keySlices) {
      if (!k.mask) continue;
      sg.extract(sparse, k.index, slice);
      for (let i = 0; i < sg.area; i++) if (k.mask[i]) slice[i] = l.value;
      sg.insert(sparse, k.index, slice);
    }
  }
  const prompts = {
    version: 1,
    sliceAxis: axis,
    labels: annotations.labels
      .filter((l) => kinds[l.value] === 'box')
      .map((l) => ({
        value: l.value,
        name: l.name,
        keySlices: l.keySlices.map((k) => (k.empty ? { slice: k.index, empty: true } : { slice: k.index, ...(k.boxes ? { boxes: k.boxes } : { box: k.box }) })),
      })),
  };
  const t0 = performance.now();
  const engine = await resolveEngine(opts.engine ?? DEFAULT_ENGINE);
  const { labels, report } = await segment(image, annotations, { engine });
  const seconds = (performance.now() - t0) / 1000;
  const files = {
    image: path.join(opts.outDir, 'phantom_ct.nii.gz'),
    truth: path.join(opts.outDir, 'phantom_truth.nii.gz'),
    annotations: path.join(opts.outDir, 'key_slices.nii.gz'),
    prompts: path.join(opts.outDir, 'prompts.json'),
    segmentation: path.join(opts.outDir, 'segmentation.nii.gz'),
  };
  await writeVolume(image, files.image);
  await writeVolume(truth, files.truth);
  await writeVolume(withGeometry(image, sparse), files.annotations);
  await writeTextAtomic(files.prompts, `${JSON.stringify(prompts, null, 2)}\n`);
  await writeVolume(labels, files.segmentation);
  return {
    engine: report.engine,
    files,
    seconds,
    labels: annotations.labels.map((l) => ({
      value: l.value,
      name: l.name ?? String(l.value),
      prompt: kinds[l.value],
      keySlices: l.keySlices.map((k) => k.index),
      metrics: objectMetrics(maskOf(labels.data, l.value), maskOf(truth.data, l.value), image.size, image.spacing),
    })),
  };
}
