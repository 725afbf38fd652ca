/**
 * Merging labels into one label volume: non-key voxels first (the first label in order keeps a contested
 * voxel), then every key slice exactly; then each label's report gets its voxels, extent and per-slice areas
 * from the merged volume.
 */
import type { LabelReport } from '../pipeline/segment.js';
import { allocLabels, type LabelArray, type SliceGeometry, type Volume } from '../volume/volume.js';
import type { LabelRun } from './label-run.js';

/**
 * The merged label volume and the labels' final reports (copies: the runs are not changed). Each label is
 * written from its ROI stack inside its ROI only (nothing of it lies elsewhere), so the cost follows the
 * objects' sizes rather than the volume's.
 */
export function mergeLabels(image: Volume, sg: SliceGeometry, runs: readonly LabelRun[], maxLabel: number): { out: LabelArray; reports: LabelReport[] } {
  const out = allocLabels(image.data.length, maxLabel);
  for (const { label, propagation: p } of runs) {
    if (!p) continue;
    const keys = new Set(label.keySlices.map((k) => k.index));
    const area = p.nu * p.nv;
    for (let w = 0; w < sg.count; w++) {
      if (keys.has(w)) continue;
      const s = p.mask.subarray(w * area, (w + 1) * area);
      for (let v = 0; v < p.nv; v++) {
        for (let u = 0; u < p.nu; u++) {
          if (!s[u + p.nu * v]) continue;
          const i = sg.index(p.roi.u0 + u, p.roi.v0 + v, w);
          if (out[i] === 0) out[i] = label.value;
        }
      }
    }
  }
  const { area } = sg;
  const mask = new Uint8Array(area);
  const slice = new Uint8Array(area);
  for (const { label, propagation } of runs) {
    for (const k of label.keySlices) {
      mask.fill(0);
      if (propagation) pasteKeySlice(propagation, k.index, mask, sg.nu);
      sg.extract(out, k.index, slice);
      for (let i = 0; i < area; i++) {
        if (mask[i]) slice[i] = label.value;
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
    const roi = run.propagation?.roi;
    for (let w = 0; w < sg.count; w++) {
      // A label's voxels lie inside its ROI (none without one).
      const n = roi ? countEqualIn(out, sg, w, roi, r.value) : 0;
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

/** Slice w of a run's ROI stack pasted into a full slice (`out`, zero outside the ROI). */
function pasteKeySlice(p: NonNullable<LabelRun['propagation']>, w: number, out: Uint8Array, fullNu: number): void {
  const area = p.nu * p.nv;
  for (let v = 0; v < p.nv; v++) {
    const from = w * area + v * p.nu;
    out.set(p.mask.subarray(from, from + p.nu), p.roi.u0 + fullNu * (p.roi.v0 + v));
  }
}

/** Voxels equal to `value` on slice w inside an in-plane box. */
function countEqualIn(data: ArrayLike<number>, sg: SliceGeometry, w: number, box: { u0: number; v0: number; u1: number; v1: number }, value: number): number {
  let n = 0;
  for (let v = box.v0; v <= box.v1; v++) for (let u = box.u0; u <= box.u1; u++) if (data[sg.index(u, v, w)] === value) n++;
  return n;
}
