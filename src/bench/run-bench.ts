/**
 * The benchmark protocol: simulated annotators on labelled scans.
 *
 * For each case and label value L (one binary object, truth = label == L), on the default slice axis:
 * for each prompt kind (mask, box, points), placement and budget k, the key slices get the truth mask, its
 * tight box or simulated clicks (3 positive, 1 negative: see `simulateClicks`; an empty key slice says "absent"); every method segments the object; the row records 3D Dice, Dice over the
 * non-key slices only and over the key slices only (how close the prompted key cuts come to the truth), NSD at 2 mm, HD95, the predicted extent against the true one (for the whole label, and
 * for each connected part of the truth a key slice holds), wall time, memory and, for
 * keyslice's engines, the engine calls made and saved.
 * Placements: `fixed` takes the key slices of `selectKeySlices` (spread over the object's true extent);
 * `nested` those of `nestedKeySlices` (each budget's slices hold the smaller budgets': a larger budget only adds
 * annotations); `suggested` starts from the k = 1 slice and adds the slice that `keyslice suggest` names (default engine,
 * budget 1) one at a time, annotated from the truth like the others (absent where the object is not).
 */
import * as path from 'node:path';
import { maskOf, objectMetrics } from '../metrics/metrics.js';
import { keyObjectEnds, type KeyObjectEnds } from '../metrics/object-ends.js';
import { nestedKeySlices, selectKeySlices, simulateLabel, sliceAreas, type PromptKind } from '../simulate/annotator.js';
import { readLabelVolume, readVolume } from '../volume/io-node.js';
import { intensityWindow } from '../analysis/window.js';
import { suggestSlices } from '../suggest/suggest.js';
import { defaultSliceAxis, gridDifference, labelValues, SliceGeometry, type SliceAxis, type Volume } from '../volume/volume.js';
import { KeysliceError } from '../util/errors.js';
import type { Dataset } from './manifest.js';
import type { BenchMethod } from './methods.js';
import type { ReferenceRun } from './reference.js';

export interface BenchRow {
  dataset: string;
  case: string;
  label: number;
  kind: PromptKind;
  placement: Placement;
  budget: number;
  method: string;
  keySlices: number[];
  /** First and last slice of the truth, and of the prediction (null when empty). */
  truthExtent: [number, number];
  predExtent: [number, number] | null;
  /**
   * The objects of the truth (connected components) a key slice holds, and the end error of each the prediction
   * follows (see `keyObjectEnds`): on a label of many separate lesions, whether the fronts end on time on the
   * lesions they follow, apart from the lesions no key slice touches.
   */
  keyObjects?: KeyObjectEnds;
  dice: number;
  diceNonKey: number;
  /** Dice over the key slices only: for a box or points, how well the prompted key cuts draw the object. */
  diceKey: number;
  nsd2mm: number;
  hd95: number | null;
  seconds: number;
  /** CPU seconds of the process over the run (all threads: above `seconds` when the model runs on several cores). */
  cpuSeconds: number;
  /** Resident memory after the run, MiB (the process's peak is in the summary). */
  rssMiB: number;
  /** keyslice's engines: engine calls made and saved (near-duplicates reused, redundant slices skipped); else null. */
  engineCalls: number | null;
  callsSaved: number | null;
  /**
   * keyslice's engines: the engine's counters over the run (the model engines' encoder and decoder runs and
   * seconds), for every object of the case segmented together; absent for the others.
   */
  engineStats?: Record<string, number>;
  /** keyslice's model engines: seconds of the extent engine's runs within `seconds`. */
  extentSeconds?: number;
  /** Objects segmented in the run (keyslice's engines segment every object of the case together); absent: 1. */
  objects?: number;
  /**
   * The model engines: one encoder run of the model on a fixed input, timed in the same process just before the
   * row (see `reference.ts`), and the time per object in such runs: wall (`seconds` / objects / its seconds) and
   * CPU (`cpuSeconds` / objects / its CPU seconds). Absent for the weight-free methods.
   */
  reference?: ReferenceRun;
  referenceRuns?: number;
  cpuReferenceRuns?: number;
}

export type Placement = 'fixed' | 'nested' | 'suggested';

export interface BenchOptions {
  datasets: Dataset[];
  methods: BenchMethod[];
  budgets: number[];
  kinds: PromptKind[];
  /** Key-slice placements (default fixed only). */
  placements?: Placement[];
  onCase?: (done: number, total: number, name: string) => void;
}

function extent(areas: number[]): [number, number] | null {
  const first = areas.findIndex((a) => a > 0);
  if (first < 0) return null;
  let last = areas.length - 1;
  while (areas[last] === 0) last--;
  return [first, last];
}

/** Dice restricted to the key slices (`onKeys`) or to the slices that are not key slices; 1 when both are empty there. */
export function diceOnSlices(pred: Uint8Array, truth: Uint8Array, sg: SliceGeometry, keys: Set<number>, onKeys: boolean): number {
  let p = 0;
  let t = 0;
  let both = 0;
  for (let w = 0; w < sg.count; w++) {
    if (keys.has(w) !== onKeys) continue;
    for (let v = 0; v < sg.nv; v++) {
      for (let u = 0; u < sg.nu; u++) {
        const i = sg.index(u, v, w);
        p += pred[i];
        t += truth[i];
        both += pred[i] & truth[i];
      }
    }
  }
  return p + t === 0 ? 1 : (2 * both) / (p + t);
}

/**
 * Key slices for each budget under the `suggested` placement: the k = 1 slice, then one slice at a time as
 * `suggestSlices` names it (default engine), each annotated from the truth before the next suggestion. A
 * budget the suggestions cannot reach (nothing left to suggest) gets null.
 */
async function suggestedKeySets(
  image: Volume,
  axis: SliceAxis,
  sg: SliceGeometry,
  truth: ArrayLike<number>,
  value: number,
  kind: PromptKind,
  budgets: number[],
): Promise<(number[] | null)[]> {
  const keys = selectKeySlices(sliceAreas(truth, sg, value), 1);
  const max = Math.max(...budgets);
  // The image's default window, once for all the suggestions (each would compute the same).
  const window = intensityWindow(image);
  const sets = new Map<number, number[]>([[1, [...keys]]]);
  while (keys.length < max) {
    const label = simulateLabel(truth, sg, value, keys, kind, image.data);
    const { labels } = await suggestSlices(image, axis, { axis, labels: [label] }, { budget: 1, window });
    const next = labels[0]?.suggestions[0];
    if (!next || keys.includes(next.slice)) break;
    keys.push(next.slice);
    keys.sort((a, b) => a - b);
    sets.set(keys.length, [...keys]);
  }
  return budgets.map((b) => sets.get(b) ?? null);
}

export async function runBench(opts: BenchOptions): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const allCases = opts.datasets.flatMap((d) => d.cases.map((c) => ({ d, c })));
  let done = 0;
  for (const { d, c } of allCases) {
    opts.onCase?.(done, allCases.length, `${d.name}/${c.id}`);
    const imageFile = path.join(d.root, c.image);
    const labelFile = path.join(d.root, c.label);
    const image = await readVolume(imageFile);
    const truthVol = await readLabelVolume(labelFile);
    const diff = gridDifference(image, truthVol);
    if (diff !== null) throw new KeysliceError('GRID_MISMATCH', `label grid differs from ${imageFile}: ${diff}`, labelFile);
    const axis = defaultSliceAxis(image.spacing);
    const sg = new SliceGeometry(image, axis);
    // Every object of a case is annotated at the same budget and segmented together, as a user labels a scan.
    const objects = (c.labels ?? labelValues(truthVol.data)).flatMap((value) => {
      const truth = maskOf(truthVol.data, value);
      const areas = sliceAreas(truth, sg, 1);
      const truthExtent = extent(areas);
      return truthExtent ? [{ value, truth, areas, truthExtent }] : [];
    });
    for (const kind of opts.kinds) {
      for (const placement of opts.placements ?? ['fixed']) {
        const keySets: (number[] | null)[][] = [];
        for (const o of objects) {
          keySets.push(
            placement === 'fixed'
              ? opts.budgets.map((b) => selectKeySlices(o.areas, b))
              : placement === 'nested'
                ? opts.budgets.map((b) => nestedKeySlices(o.areas, b))
                : await suggestedKeySets(image, axis, sg, truthVol.data, o.value, kind, opts.budgets),
          );
        }
        for (const [n, budget] of opts.budgets.entries()) {
          const labels = objects.flatMap((o, j) => {
            const keySlices = keySets[j][n];
            return keySlices ? [{ o, keySlices, label: simulateLabel(truthVol.data, sg, o.value, keySlices, kind, image.data) }] : [];
          });
          for (const { o, keySlices, label } of labels) {
            const { value, truth, truthExtent } = o;
            const keySet = new Set(keySlices);
            for (const method of opts.methods) {
              // The model engines: a reference encoder run just before the row, under the same load.
              const reference = method.reference ? await method.reference() : undefined;
              const t0 = performance.now();
              const c0 = process.cpuUsage();
              const out = await method.run({ image, axis, sg, label, labels: labels.map((x) => x.label) });
              const seconds = (performance.now() - t0) / 1000;
              const cpu = process.cpuUsage(c0);
              const cpuSeconds = (cpu.user + cpu.system) / 1e6;
              const objects = out.objects ?? 1;
              const pred = out.mask;
              const m = objectMetrics(pred, truth, image.size, image.spacing, { nsdToleranceMm: 2 });
              rows.push({
                dataset: d.name,
                case: c.id,
                label: value,
                kind,
                placement,
                budget,
                method: method.name,
                keySlices,
                truthExtent,
                predExtent: extent(sliceAreas(pred, sg, 1)),
                keyObjects: keyObjectEnds(pred, truth, image.size, sg, keySlices),
                dice: m.dice,
                diceNonKey: diceOnSlices(pred, truth, sg, keySet, false),
                diceKey: diceOnSlices(pred, truth, sg, keySet, true),
                nsd2mm: m.nsd,
                hd95: m.hd95,
                seconds,
                cpuSeconds,
                rssMiB: process.memoryUsage().rss / 2 ** 20,
                engineCalls: out.engineCalls ?? null,
                callsSaved: out.callsSaved ?? null,
                ...(out.engineStats ? { engineStats: out.engineStats } : {}),
                ...(out.extentSeconds !== undefined ? { extentSeconds: out.extentSeconds } : {}),
                ...(out.objects !== undefined ? { objects } : {}),
                ...(reference
                  ? { reference, referenceRuns: seconds / objects / reference.seconds, cpuReferenceRuns: cpuSeconds / objects / reference.cpuSeconds }
                  : {}),
              });
            }
          }
        }
      }
    }
    done++;
  }
  opts.onCase?.(done, allCases.length, 'done');
  return rows;
}
