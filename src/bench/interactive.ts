/**
 * The interactive benchmark (`keyslice bench --interactive`): a simulated annotator works through a session.
 * Per case and label it draws the truth mask on one key slice (the k = 1 slice of `selectKeySlices`), then up to
 * `edits` times corrects the slice the session suggests next (the truth mask there, or "absent" where the
 * object is not), propagating after each edit. After each edit it records the Dice of the session's labels,
 * the seconds of the edit (the session call, `propagate` with its slice updates, and `labels()`), and, as the
 * reference measured in the same run, the seconds of a from-scratch `segment()` with the same key slices (the
 * same work from nothing: its labels must be the same, voxel for voxel). Both are timed warm (the first key
 * slice is not a correction), and the Dice and the comparison are made outside both timings.
 */
import * as path from 'node:path';
import type { Annotations } from '../annotations/types.js';
import { maskOf, objectMetrics } from '../metrics/metrics.js';
import { resolveEngine } from '../pipeline/engines-node.js';
import { segment } from '../pipeline/segment.js';
import type { SliceEngine } from '../propagation/types.js';
import { openSession } from '../session/session.js';
import { selectKeySlices, simulateLabel, sliceAreas } from '../simulate/annotator.js';
import { KeysliceError } from '../util/errors.js';
import { readLabelVolume, readVolume } from '../volume/io-node.js';
import { defaultSliceAxis, gridDifference, labelValues, SliceGeometry } from '../volume/volume.js';
import type { Dataset } from './manifest.js';

export interface InteractiveRow {
  dataset: string;
  case: string;
  label: number;
  /** 0: the first key slice; 1..: corrections. */
  edit: number;
  /** The slice edited, and whether the truth says the object is there. */
  slice: number;
  absent: boolean;
  keySlices: number[];
  dice: number;
  /** Seconds of the edit (the session call, its propagation and merged labels), and of a from-scratch segment() with the same key slices. */
  editSeconds: number;
  fullSeconds: number;
  /** The same in CPU seconds of this process (less sensitive to other work on a shared machine). */
  editCpuSeconds: number;
  fullCpuSeconds: number;
  /** Whether the session's labels equal the from-scratch labels, voxel for voxel. */
  same: boolean;
}

export interface InteractiveOptions {
  datasets: Dataset[];
  engine: string;
  /** Corrections after the first key slice (default 5). */
  edits?: number;
  /** What the session reuses across edits (see `SessionOptions.reuse`; default exact). */
  reuse?: 'exact' | 'fronts';
  onCase?: (done: number, total: number, name: string) => void;
}

const sameData = (a: ArrayLike<number>, b: ArrayLike<number>): boolean => a.length === b.length && Array.prototype.every.call(a, (x: number, i: number) => x === b[i]);

export async function runInteractiveBench(opts: InteractiveOptions): Promise<InteractiveRow[]> {
  const edits = opts.edits ?? 5;
  // No embeddings kept across sessions: each simulated user starts cold.
  const engine: SliceEngine = await resolveEngine(opts.engine, { memoryCacheBytes: 0 });
  const rows: InteractiveRow[] = [];
  const allCases = opts.datasets.flatMap((d) => d.cases.map((c) => ({ d, c })));
  for (const [done, { d, c }] of allCases.entries()) {
    opts.onCase?.(done, allCases.length, `${d.name}/${c.id}`);
    const imageFile = path.join(d.root, c.image);
    const image = await readVolume(imageFile);
    const truthVol = await readLabelVolume(path.join(d.root, c.label));
    const diff = gridDifference(image, truthVol);
    if (diff !== null) throw new KeysliceError('GRID_MISMATCH', `label grid differs from ${imageFile}: ${diff}`, path.join(d.root, c.label));
    const axis = defaultSliceAxis(image.spacing);
    const sg = new SliceGeometry(image, axis);
    for (const value of c.labels ?? labelValues(truthVol.data)) {
      const truth = maskOf(truthVol.data, value);
      const areas = sliceAreas(truth, sg, 1);
      if (!areas.some((a) => a > 0)) continue;
      const session = await openSession(image, { axis, engine, reuse: opts.reuse ?? 'exact' });
      const keys: number[] = [];
      let slice = selectKeySlices(areas, 1)[0];
      for (let edit = 0; edit <= edits; edit++) {
        const k = simulateLabel(truthVol.data, sg, value, [slice], 'mask').keySlices[0];
        // The edit: the session call, the propagation with its slice updates, and the merged label volume.
        const t0 = performance.now();
        const c0 = process.cpuUsage();
        if (k.empty) await session.setKeySlice(1, slice, { absent: true });
        else if (edit === 0) await session.setKeySlice(1, slice, { mask: k.mask as Uint8Array });
        else await session.correct(1, slice, k.mask as Uint8Array);
        keys.push(slice);
        for await (const u of session.propagate()) void u;
        // The same work as segment() below: the propagation and the merged label volume.
        const labels = await session.labels();
        const editSeconds = (performance.now() - t0) / 1000;
        const editCpuSeconds = cpuSince(c0);
        const annotations: Annotations = { axis, labels: [simulateLabel(truthVol.data, sg, value, [...keys].sort((a, b) => a - b), 'mask')] };
        annotations.labels[0].value = 1;
        const t1 = performance.now();
        const c1 = process.cpuUsage();
        const full = await segment(image, annotations, { engine });
        const fullSeconds = (performance.now() - t1) / 1000;
        const fullCpuSeconds = cpuSince(c1);
        const pred = Uint8Array.from(labels.data, (x) => (x === 1 ? 1 : 0));
        rows.push({
          dataset: d.name,
          case: c.id,
          label: value,
          edit,
          slice,
          absent: k.empty,
          keySlices: [...keys].sort((a, b) => a - b),
          dice: objectMetrics(pred, truth, image.size, image.spacing, { nsdToleranceMm: 2 }).dice,
          editSeconds,
          fullSeconds,
          editCpuSeconds,
          fullCpuSeconds,
          same: sameData(labels.data, full.labels.data),
        });
        const next = (await session.suggest(1))[0]?.suggestions[0];
        if (!next || keys.includes(next.slice)) break;
        slice = next.slice;
      }
      await session.close();
    }
  }
  opts.onCase?.(allCases.length, allCases.length, 'done');
  return rows;
}

/** User + system CPU seconds of this process since `start`. */
function cpuSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1e6;
}

function quantile(xs: number[], q: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

export interface InteractiveSummary {
  dataset: string;
  labels: number;
  /** Mean Dice after each edit (index 0: the first key slice), over the labels that got that far. */
  diceAfter: number[];
  /** Seconds per correction (edits 1..), p50 and p95, and the same for a full recompute. */
  edit: { p50: number; p95: number; n: number };
  full: { p50: number; p95: number };
  /** p50 seconds per correction / p50 seconds of a full recompute. */
  ratio: number;
  /** The same ratio in CPU seconds. */
  cpuRatio: number;
  /** Whether every session result equalled its from-scratch segment(). */
  allSame: boolean;
}

export function summariseInteractive(rows: InteractiveRow[]): InteractiveSummary[] {
  const names = [...new Set(rows.map((r) => r.dataset))];
  return names.map((dataset) => {
    const rs = rows.filter((r) => r.dataset === dataset);
    const maxEdit = Math.max(...rs.map((r) => r.edit));
    const diceAfter = Array.from({ length: maxEdit + 1 }, (_, e) => {
      const at = rs.filter((r) => r.edit === e);
      return at.reduce((a, r) => a + r.dice, 0) / at.length;
    });
    const corrections = rs.filter((r) => r.edit > 0);
    const editS = corrections.map((r) => r.editSeconds);
    const fullS = corrections.map((r) => r.fullSeconds);
    const edit = { p50: quantile(editS, 0.5), p95: quantile(editS, 0.95), n: editS.length };
    const full = { p50: quantile(fullS, 0.5), p95: quantile(fullS, 0.95) };
    const cpuRatio = quantile(corrections.map((r) => r.editCpuSeconds), 0.5) / quantile(corrections.map((r) => r.fullCpuSeconds), 0.5);
    return { dataset, labels: rs.filter((r) => r.edit === 0).length, diceAfter, edit, full, ratio: edit.p50 / full.p50, cpuRatio, allSame: rs.every((r) => r.same) };
  });
}

export function interactiveMarkdown(engine: string, summaries: InteractiveSummary[], reuse: 'exact' | 'fronts' = 'exact'): string {
  const f = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  const maxEdits = Math.max(0, ...summaries.map((s) => s.diceAfter.length));
  const head = ['dataset', 'labels', ...Array.from({ length: maxEdits }, (_, e) => `Dice@${e}`), 'edit s p50', 'edit s p95', 'full s p50', 'full s p95', 'p50 ratio', 'p50 CPU ratio', 'same as full'];
  const lines = [`Engine ${engine}, reuse ${reuse}: seconds per correction against a from-scratch segment() with the same key slices, same run.`, '', `| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const s of summaries) {
    const dice = Array.from({ length: maxEdits }, (_, e) => f(s.diceAfter[e] ?? NaN));
    lines.push(`| ${[s.dataset, s.labels, ...dice, f(s.edit.p50), f(s.edit.p95), f(s.full.p50), f(s.full.p95), f(s.ratio, 2), f(s.cpuRatio, 2), s.allSame ? 'yes' : 'NO'].join(' | ')} |`);
  }
  return `${lines.join('\n')}\n`;
}
