/**
 * Merging labels into one label volume: non-key voxels first (the first label in order keeps a contested
 * voxel), then every key slice exactly; then each label's report gets its voxels, extent and per-slice areas
 * from the merged volume.
 */
import type { LabelAnnotation } from '../annotations/types.js';
import type { LabelReport } from '../pipeline/segment.js';
import { pasteObject } from '../propagation/controller.js';
import { allocLabels, type LabelArray, type SliceGeometry, type Volume } from '../volume/volume.js';
import type { LabelRun } from './label-run.js';

/** The label's full stack (`sg.area` x `sg.count`, slice-major) from its run. */
export function fullStack(run: LabelRun, sg: SliceGeometry): Uint8Array {
  const mask = new Uint8Array(sg.area * sg.count);
  if (run.propagation) pasteObject(run.propagation, sg, mask);
  return mask;
}

/** The merged label volume and the labels' final reports (copies: the runs are not changed). */
export function mergeLabels(image: Volume, sg: SliceGeometry, runs: readonly LabelRun[], maxLabel: number): { out: LabelArray; reports: LabelReport[] } {
  const out = allocLabels(image.data.length, maxLabel);
  const stacks: { label: LabelAnnotation; mask: Uint8Array }[] = runs.map((r) => ({ label: r.label, mask: fullStack(r, sg) }));
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
  const reports = runs.map((run) => {
    const r: LabelReport = { ...run.report, voxels: 0 };
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
    r.slices = run.report.slices.map((s) => ({ ...s, area: areas[s.slice] })).filter((s) => s.area > 0 || s.source !== 'none');
    r.volumeMl = r.voxels * voxelMl;
    return r;
  });
  return { out, reports };
}
