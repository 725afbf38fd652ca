/**
 * Merging labels into one label volume: a label beyond its outermost key slices ends where it runs onto another
 * label's territory (see `territory.ts`); then non-key voxels (the first label in order keeps a contested voxel),
 * then every key slice exactly; then each label's report gets its voxels, extent and per-slice areas from the
 * merged volume, and the fronts that ended on another label say so.
 */
import type { LabelReport } from '../pipeline/segment.js';
import { anyNonZero, eachSetRun } from '../morphology/binary.js';
import type { FrontReport } from '../propagation/types.js';
import { allocLabels, type LabelArray, type SliceGeometry, type Volume } from '../volume/volume.js';
import type { LabelRun } from './label-run.js';
import { betterFounded, covers, runKeys, territoryEnds, type TerritoryEnd } from './territory.js';

/**
 * The merged label volume and the labels' final reports (copies: the runs are not changed). Each label is
 * written from its ROI stack inside its ROI only (nothing of it lies elsewhere), so the cost follows the
 * objects' sizes rather than the volume's.
 */
export function mergeLabels(image: Volume, sg: SliceGeometry, runs: readonly LabelRun[], maxLabel: number): { out: LabelArray; reports: LabelReport[] } {
  const out = allocLabels(image.data.length, maxLabel);
  const ends = territoryEnds(sg, runs);
  const keysOf = runKeys(runs);
  runs.forEach(({ label, propagation: p }, n) => {
    if (!p) return;
    const keys = new Set(label.keySlices.map((k) => k.index));
    const area = p.nu * p.nv;
    const [lo, hi] = keptSpan(ends[n], sg.count);
    for (let w = lo; w <= hi; w++) {
      if (keys.has(w)) continue;
      const s = p.mask.subarray(w * area, (w + 1) * area);
      if (!anyNonZero(s)) continue;
      // Beyond the label's key slices, a voxel that a better-founded label holds is that label's.
      const others = betterFounded(runs, keysOf, n, w);
      const held = (u: number, v: number): boolean => others.some((j) => covers(runs[j].propagation!, u, v, w));
      eachRowRun(p, w, (v, u0, u1) => {
        const row = sg.index(p.roi.u0, p.roi.v0 + v, w);
        for (let u = u0; u < u1; u++) {
          if (others.length > 0 && held(p.roi.u0 + u, p.roi.v0 + v)) continue;
          const i = row + u * sg.su;
          if (out[i] === 0) out[i] = label.value;
        }
      });
    }
  });
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
  const reports = runs.map((run, n) => {
    const r: LabelReport = { ...run.report, voxels: 0, fronts: run.report.fronts.map((f) => endedFront(f, ends[n])) };
    let first = -1;
    let last = -1;
    const areas: number[] = [];
    const p = run.propagation;
    for (let w = 0; w < sg.count; w++) {
      // A label's voxels lie where its own stack is set (no other label writes its value).
      const n = p ? countEqualAt(out, sg, p, w, r.value) : 0;
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

/** The slices a label keeps after its ends on other labels' territory (inclusive). */
function keptSpan(ends: readonly TerritoryEnd[], count: number): [number, number] {
  let lo = 0;
  let hi = count - 1;
  for (const e of ends) {
    if (e.side < 0) lo = e.slice + 1;
    else hi = e.slice - 1;
  }
  return [lo, hi];
}

/** A front's report after the label ended on another label's territory on its side (unchanged otherwise). */
function endedFront(f: FrontReport, ends: readonly TerritoryEnd[]): FrontReport {
  const e = ends.find((x) => x.side === f.direction && x.from === f.from);
  if (!e || f.last === null || (f.last - e.slice) * e.side < 0) return f;
  const last = e.slice - e.side === f.from ? null : e.slice - e.side;
  const detail = `slice ${e.slice}: ${Math.round(e.share * 100)}% of the mask on label ${e.by}`;
  return { ...f, last, slices: last === null ? 0 : Math.abs(last - f.from), stop: 'other-label', detail };
}

/** Slice w of a run's ROI stack pasted into a full slice (`out`, zero outside the ROI). */
function pasteKeySlice(p: NonNullable<LabelRun['propagation']>, w: number, out: Uint8Array, fullNu: number): void {
  const area = p.nu * p.nv;
  for (let v = 0; v < p.nv; v++) {
    const from = w * area + v * p.nu;
    out.set(p.mask.subarray(from, from + p.nu), p.roi.u0 + fullNu * (p.roi.v0 + v));
  }
}

/** Voxels equal to `value` on slice w where a run's ROI stack is set. */
function countEqualAt(data: ArrayLike<number>, sg: SliceGeometry, p: NonNullable<LabelRun['propagation']>, w: number, value: number): number {
  let n = 0;
  eachRowRun(p, w, (v, u0, u1) => {
    const row = sg.index(p.roi.u0, p.roi.v0 + v, w);
    for (let u = u0; u < u1; u++) if (data[row + u * sg.su] === value) n++;
  });
  return n;
}

/** Calls `fn(v, u0, u1)` for each run of set pixels u0 <= u < u1 along a row v of slice w of a run's ROI stack. */
function eachRowRun(p: NonNullable<LabelRun['propagation']>, w: number, fn: (v: number, u0: number, u1: number) => void): void {
  const area = p.nu * p.nv;
  eachSetRun(p.mask.subarray(w * area, (w + 1) * area), (start, end) => {
    for (let j = start; j < end; ) {
      const v = Math.floor(j / p.nu);
      const rowEnd = Math.min(end, (v + 1) * p.nu);
      fn(v, j - v * p.nu, rowEnd - v * p.nu);
      j = rowEnd;
    }
  });
}
