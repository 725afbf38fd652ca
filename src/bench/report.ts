/**
 * Benchmark outputs: every row as CSV, a Markdown summary (means per dataset x kind x method x budget) and an
 * SVG plot of mean 3D Dice against budget, one panel per dataset.
 */
import type { BenchRow } from './run-bench.js';
import { COLORS, esc, svgOpen } from '../util/svg.js';

const CSV_COLUMNS: (keyof BenchRow)[] = [
  'dataset', 'case', 'label', 'kind', 'placement', 'budget', 'method', 'keySlices', 'truthExtent', 'predExtent',
  'dice', 'diceNonKey', 'diceKey', 'nsd2mm', 'hd95', 'seconds', 'cpuSeconds', 'rssMiB', 'engineCalls', 'callsSaved',
  'objects', 'referenceRuns', 'cpuReferenceRuns',
];

/** The prompt kind, with the placement when it is not the fixed one (`mask`, `mask, suggested`). */
export function protocolOf(r: Pick<BenchRow, 'kind' | 'placement'>): string {
  return r.placement === 'fixed' ? r.kind : `${r.kind}, ${r.placement}`;
}

export function toCsv(rows: BenchRow[]): string {
  const cell = (v: unknown) => {
    const s = Array.isArray(v) ? v.join(' ') : v === null || v === undefined ? '' : typeof v === 'number' ? String(+v.toFixed(6)) : String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return `${CSV_COLUMNS.join(',')}\n${rows.map((r) => CSV_COLUMNS.map((c) => cell(r[c])).join(',')).join('\n')}\n`;
}

export interface SummaryCell {
  n: number;
  dice: number;
  diceNonKey: number;
  /** Mean Dice over the key slices alone (rows from before it was recorded left out; NaN if none has it). */
  diceKey: number;
  nsd2mm: number;
  /** Mean over rows with a finite HD95; null if none. */
  hd95: number | null;
  /** Mean seconds per object: a row's time over the objects of its case segmented together (`BenchRow.objects`). */
  seconds: number;
  /** Mean |predicted - true| first and last slice, in slices (rows with an empty prediction excluded). */
  endError: number | null;
  /**
   * The same over the connected parts of the truth that key slices hold and the prediction follows (see
   * `BenchRow.keyObjects`), with how many such parts there were and how many the prediction found, summed over
   * the rows; null when the rows do not record them.
   */
  keyObjectEndError: number | null;
  keyObjectsTouched: number | null;
  keyObjectsFound: number | null;
  /** Mean share of the truth's voxels in the objects the key slices hold (see `KeyObjectEnds.heldShare`), or null. */
  keyObjectsHeldShare: number | null;
  /** Mean engine calls and calls saved per object (keyslice's engines), else null. */
  engineCalls: number | null;
  callsSaved: number | null;
  /**
   * The model engines (rows with a reference encoder run, else null): means per object of wall and CPU seconds,
   * of the same in reference runs (`BenchRow.referenceRuns`, `cpuReferenceRuns`), and of encoder runs; and the
   * mean reference run's wall seconds.
   */
  timing: { seconds: number; cpuSeconds: number; referenceSeconds: number; referenceRuns: number; cpuReferenceRuns: number; encoderRuns: number | null } | null;
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

/** `SummaryCell.timing` of a group of rows: null unless every row has a reference run. */
function timingOf(g: BenchRow[]): SummaryCell['timing'] {
  const timed = g.flatMap((r) => (r.reference && r.referenceRuns !== undefined && r.cpuReferenceRuns !== undefined ? [{ r, ref: r.reference, n: r.objects ?? 1 }] : []));
  if (!timed.length || timed.length !== g.length) return null;
  const encoders = timed.map(({ r, n }) => (r.engineStats?.encoderCalls !== undefined ? r.engineStats.encoderCalls / n : NaN));
  return {
    seconds: mean(timed.map(({ r, n }) => r.seconds / n)),
    cpuSeconds: mean(timed.map(({ r, n }) => r.cpuSeconds / n)),
    referenceSeconds: mean(timed.map(({ ref }) => ref.seconds)),
    referenceRuns: mean(timed.map(({ r }) => r.referenceRuns as number)),
    cpuReferenceRuns: mean(timed.map(({ r }) => r.cpuReferenceRuns as number)),
    encoderRuns: encoders.some(Number.isNaN) ? null : mean(encoders),
  };
}

/** A row's end errors on its label's extent, in slices: first and last slice (none when the prediction is empty). */
function labelEnds(r: BenchRow): number[] {
  return r.predExtent ? [Math.abs(r.predExtent[0] - r.truthExtent[0]), Math.abs(r.predExtent[1] - r.truthExtent[1])] : [];
}

/** A row's end errors on the connected parts of the truth its key slices hold and the prediction follows. */
function heldEnds(r: BenchRow): number[] {
  return r.keyObjects ? r.keyObjects.ends.flat() : [];
}

/** End errors of one dataset and method over the rows at a budget of at least `minBudget` (all kinds and placements). */
export interface DatasetEnds {
  dataset: string;
  method: string;
  rows: number;
  /** Mean end error on the label's extent (the budget table's measure), in slices; null when no row has a prediction. */
  endError: number | null;
  /** Mean end error on the objects the key slices hold (see `BenchRow.keyObjects`); null when no row records them. */
  keyObjectEndError: number | null;
  /** Such objects over the rows, and how many of them the prediction found. */
  keyObjectsHeld: number;
  keyObjectsFound: number;
}

/**
 * Mean end error per dataset and method over every row at a budget of at least `minBudget` (default 2), on the
 * label's extent and on the objects the key slices hold. On a label of many separate lesions the first counts the
 * lesions no key slice shows; the second says where the fronts end on the lesions they follow.
 */
export function endErrorByDataset(rows: BenchRow[], minBudget = 2): DatasetEnds[] {
  const groups = new Map<string, BenchRow[]>();
  for (const r of rows) {
    if (r.budget < minBudget) continue;
    const k = `${r.dataset}|${r.method}`;
    const g = groups.get(k);
    if (g) g.push(r);
    else groups.set(k, [r]);
  }
  return [...groups.values()].map((g) => {
    const ends = g.flatMap(labelEnds);
    const held = g.flatMap(heldEnds);
    return {
      dataset: g[0].dataset,
      method: g[0].method,
      rows: g.length,
      endError: ends.length ? mean(ends) : null,
      keyObjectEndError: held.length ? mean(held) : null,
      keyObjectsHeld: g.reduce((a, r) => a + (r.keyObjects?.touched ?? 0), 0),
      keyObjectsFound: g.reduce((a, r) => a + (r.keyObjects?.ends.length ?? 0), 0),
    };
  });
}

/** The table of {@link endErrorByDataset}: one line per dataset and method. */
function datasetEndTable(rows: BenchRow[]): string[] {
  const minBudget = 2;
  const cells = endErrorByDataset(rows, minBudget);
  if (!cells.length) return [];
  const f = (x: number | null) => (x === null ? '–' : x.toFixed(2));
  const lines = ['', `### End error per dataset at k >= ${minBudget} (slices, every kind and placement): on the label, and on the objects the key slices hold`, ''];
  lines.push('| dataset | method | rows | end error, label | end error, objects held | found / held |');
  lines.push('|---|---|---:|---:|---:|---:|');
  for (const c of cells) {
    lines.push(`| ${c.dataset} | ${c.method} | ${c.rows} | ${f(c.endError)} | ${f(c.keyObjectEndError)} | ${c.keyObjectsFound}/${c.keyObjectsHeld} |`);
  }
  return lines;
}

/** A step from one budget to the next at which a protocol's mean Dice fell (more key slices, a worse result). */
export interface BudgetDip {
  dataset: string;
  /** The protocol: kind, and placement where not fixed (see `protocolOf`). */
  kind: string;
  method: string;
  from: number;
  to: number;
  /** Mean Dice at `to` minus at `from` (negative). */
  change: number;
  /** Rows at `to`. */
  n: number;
  /** Rows at both budgets (the same case and label), and how many of them fell and rose. */
  paired: number;
  fell: number;
  rose: number;
  /**
   * Standard error of the mean of the paired rows' changes; null under two paired rows. A fall within about twice
   * it is within the spread of the rows' own changes.
   */
  se: number | null;
  /**
   * Mean share of the truth's voxels in the connected parts the key slices hold (`SummaryCell.keyObjectsHeldShare`)
   * at `from` and at `to`, or null. Where it falls, the key slices of the larger budget hold less of the object:
   * a placement that moves the key slices rather than only adding to them.
   */
  heldShare: [number, number] | null;
}

/**
 * Every step between consecutive budgets of a dataset, protocol and method where mean Dice fell by more than
 * `tolerance` (default 0): adding annotations should never make the result worse.
 */
export function budgetDips(rows: BenchRow[], tolerance = 0): BudgetDip[] {
  return dipsOf(rows, summarise(rows), axesOf(rows), tolerance);
}

/** The datasets, protocols, methods and budgets of some rows, in order of first appearance (budgets sorted). */
function axesOf(rows: BenchRow[]): { datasets: string[]; kinds: string[]; methods: string[]; budgets: number[] } {
  return {
    datasets: uniq(rows.map((r) => r.dataset)),
    kinds: uniq(rows.map(protocolOf)),
    methods: uniq(rows.map((r) => r.method)),
    budgets: uniq(rows.map((r) => r.budget)).sort((a, b) => a - b),
  };
}

/** {@link budgetDips} from the rows' summary already made (see `summarise`). */
function dipsOf(rows: BenchRow[], s: Map<string, SummaryCell>, axes: ReturnType<typeof axesOf>, tolerance = 0): BudgetDip[] {
  // Each summary cell's rows' Dice by case and label, to pair the rows of two budgets.
  const byRow = new Map<string, Map<string, number>>();
  for (const r of rows) {
    const cell = [r.dataset, protocolOf(r), r.method, r.budget].join('|');
    const m = byRow.get(cell) ?? new Map<string, number>();
    m.set(`${r.case}|${r.label}`, r.dice);
    byRow.set(cell, m);
  }
  const dips: BudgetDip[] = [];
  for (const d of axes.datasets) for (const k of axes.kinds) for (const m of axes.methods) {
    const cells = axes.budgets.flatMap((b) => {
      const c = s.get([d, k, m, b].join('|'));
      return c ? [{ b, c }] : [];
    });
    for (let i = 1; i < cells.length; i++) {
      const [a, b] = [cells[i - 1], cells[i]];
      const change = b.c.dice - a.c.dice;
      if (change >= -tolerance) continue;
      const after = byRow.get([d, k, m, b.b].join('|')) ?? new Map<string, number>();
      const changes = [...(byRow.get([d, k, m, a.b].join('|')) ?? [])].flatMap(([row, before]) => {
        const x = after.get(row);
        return x === undefined ? [] : [x - before];
      });
      const shares = a.c.keyObjectsHeldShare !== null && b.c.keyObjectsHeldShare !== null;
      dips.push({
        dataset: d,
        kind: k,
        method: m,
        from: a.b,
        to: b.b,
        change,
        n: b.c.n,
        paired: changes.length,
        fell: changes.filter((x) => x < 0).length,
        rose: changes.filter((x) => x > 0).length,
        se: standardError(changes),
        heldShare: shares ? [a.c.keyObjectsHeldShare as number, b.c.keyObjectsHeldShare as number] : null,
      });
    }
  }
  return dips;
}

/** Standard error of the mean of some values (sample standard deviation over the square root of their count); null under two. */
function standardError(xs: readonly number[]): number | null {
  if (xs.length < 2) return null;
  const mean = xs.reduce((a, x) => a + x, 0) / xs.length;
  const variance = xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1);
  return Math.sqrt(variance / xs.length);
}

/** The table of {@link budgetDips}, or a line saying there are none. */
function budgetDipTable(dips: BudgetDip[]): string[] {
  const lines = ['', '### More key slices, lower mean Dice: steps between budgets where the mean fell', ''];
  if (!dips.length) return [...lines, 'None: every protocol\'s mean Dice rose or stayed with each budget.'];
  lines.push(
    '| dataset | kind | method | budgets | change | SE | rows fell / rose | held share | n |',
    '|---|---|---|---|---:|---:|---:|---:|---:|',
  );
  for (const x of dips) {
    const se = x.se === null ? '–' : x.se.toFixed(3);
    const held = x.heldShare ? `${x.heldShare[0].toFixed(3)} → ${x.heldShare[1].toFixed(3)}` : '–';
    lines.push(`| ${x.dataset} | ${x.kind} | ${x.method} | k=${x.from} → k=${x.to} | ${x.change.toFixed(3)} | ${se} | ${x.fell} / ${x.rose} | ${held} | ${x.n} |`);
  }
  lines.push(
    '',
    'SE: standard error of the mean of the rows\' own changes (the same case and label at both budgets; – under two such rows): a',
    'fall within about twice it is within the spread of the rows. Held share: the share of the truth\'s voxels in the connected',
    'parts the key slices touch, at both budgets; where it falls, the key slices of the larger budget hold less of the object',
    '(a placement that moves them rather than only adding to them).',
  );
  return lines;
}

export function summarise(rows: BenchRow[]): Map<string, SummaryCell> {
  const groups = new Map<string, BenchRow[]>();
  for (const r of rows) {
    const k = [r.dataset, protocolOf(r), r.method, r.budget].join('|');
    const g = groups.get(k) ?? [];
    g.push(r);
    groups.set(k, g);
  }
  const out = new Map<string, SummaryCell>();
  for (const [k, g] of groups) {
    const hd = g.map((r) => r.hd95).filter((x): x is number => x !== null);
    const ends = g.flatMap(labelEnds);
    const held = g.flatMap((r) => (r.keyObjects ? [r.keyObjects] : []));
    const objectEnds = g.flatMap(heldEnds);
    out.set(k, {
      n: g.length,
      dice: mean(g.map((r) => r.dice)),
      diceNonKey: mean(g.map((r) => r.diceNonKey)),
      diceKey: mean(g.flatMap((r) => (typeof r.diceKey === 'number' ? [r.diceKey] : []))),
      nsd2mm: mean(g.map((r) => r.nsd2mm)),
      hd95: hd.length ? mean(hd) : null,
      seconds: mean(g.map((r) => r.seconds / (r.objects ?? 1))),
      endError: ends.length ? mean(ends) : null,
      keyObjectEndError: objectEnds.length ? mean(objectEnds) : null,
      keyObjectsTouched: held.length ? held.reduce((a, o) => a + o.touched, 0) : null,
      keyObjectsFound: held.length ? held.reduce((a, o) => a + o.ends.length, 0) : null,
      keyObjectsHeldShare: shareOf(held),
      engineCalls: g.every((r) => r.engineCalls !== null) ? mean(g.map((r) => r.engineCalls as number)) : null,
      callsSaved: g.every((r) => r.callsSaved !== null) ? mean(g.map((r) => r.callsSaved as number)) : null,
      timing: timingOf(g),
    });
  }
  return out;
}

/**
 * For each keyslice engine run with and without skipping (`keyslice:E` and `keyslice:E/noskip`): engine calls
 * per object both ways, the share saved, and the change in Dice.
 */
function skippingTable(s: Map<string, SummaryCell>, datasets: string[], kinds: string[], methods: string[], budgets: number[]): string[] {
  const pairs = methods.filter((m) => methods.includes(`${m}/noskip`));
  if (pairs.length === 0) return [];
  const lines = ['', '### Skipping redundant slices: engine calls per object and what it costs in Dice (all budgets)', ''];
  lines.push('| dataset | kind | method | calls, no skipping | calls | saved | Dice, no skipping | Dice | change |');
  lines.push('|---|---|---|---:|---:|---:|---:|---:|---:|');
  for (const d of datasets) for (const k of kinds) for (const m of pairs) {
    const on = budgets.map((b) => s.get([d, k, m, b].join('|'))).filter((c): c is SummaryCell => !!c);
    const off = budgets.map((b) => s.get([d, k, `${m}/noskip`, b].join('|'))).filter((c): c is SummaryCell => !!c);
    if (on.length === 0 || on.length !== off.length) continue;
    const avg = (cs: SummaryCell[], f: (c: SummaryCell) => number) => mean(cs.map(f));
    const callsOn = avg(on, (c) => c.engineCalls ?? NaN);
    const callsOff = avg(off, (c) => c.engineCalls ?? NaN);
    const diceOn = avg(on, (c) => c.dice);
    const diceOff = avg(off, (c) => c.dice);
    const saved = callsOff > 0 ? (100 * (callsOff - callsOn)) / callsOff : 0;
    lines.push(
      `| ${d} | ${k} | ${m} | ${callsOff.toFixed(1)} | ${callsOn.toFixed(1)} | ${saved.toFixed(0)} % | ${diceOff.toFixed(3)} | ${diceOn.toFixed(3)} | ${(diceOn - diceOff >= 0 ? '+' : '') + (diceOn - diceOff).toFixed(3)} |`,
    );
  }
  return lines;
}

/** The mean held share of the rows that record it, or null. */
function shareOf(held: readonly { heldShare?: number }[]): number | null {
  const shares = held.flatMap((o) => (o.heldShare === undefined ? [] : [o.heldShare]));
  return shares.length ? mean(shares) : null;
}

/**
 * End error on the objects the key slices hold: per connected part of the truth with a voxel on a key slice, the
 * end error of the prediction that follows it, with found / held counts, and the share of the truth's voxels in
 * the held parts where it is below 100 %. Where a label is many separate lesions this says whether the fronts end
 * on time on the lesions they follow (the label's end error above also counts the lesions no key slice touches),
 * and how much of the label a propagation from these key slices can reach at all: with another placement the key
 * slices may hold less of it, whatever their number.
 */
function keyObjectTable(s: Map<string, SummaryCell>, datasets: string[], kinds: string[], methods: string[], budgets: number[]): string[] {
  const cellOf = (c: SummaryCell | undefined): string => {
    if (!c || c.keyObjectsTouched === null) return '–';
    const e = c.keyObjectEndError === null ? '–' : c.keyObjectEndError.toFixed(2);
    const share = c.keyObjectsHeldShare !== null && c.keyObjectsHeldShare < 0.9995 ? `; ${(100 * c.keyObjectsHeldShare).toFixed(0)} % of the truth` : '';
    return `${e} (${c.keyObjectsFound}/${c.keyObjectsTouched}${share})`;
  };
  const lines = ['', '### End error on the objects the key slices hold (slices; found / held connected parts of the truth, all rows; the share of the truth they hold where below 100 %)', ''];
  lines.push(`| dataset | kind | method | ${budgets.map((b) => `k=${b}`).join(' | ')} |`);
  lines.push(`|---|---|---|${budgets.map(() => '---:').join('|')}|`);
  let any = false;
  for (const d of datasets) for (const k of kinds) for (const m of methods) {
    const cells = budgets.map((b) => s.get([d, k, m, b].join('|')));
    if (cells.every((c) => !c || c.keyObjectsTouched === null)) continue;
    any = true;
    lines.push(`| ${d} | ${k} | ${m} | ${cells.map(cellOf).join(' | ')} |`);
  }
  return any ? lines : [];
}

/**
 * The model engines' time per object, in seconds and in reference encoder runs timed in the same process (wall
 * and CPU), with encoder runs per object: a target in seconds on an idle machine reads as a number of reference
 * runs on a loaded one.
 */
function timingTable(s: Map<string, SummaryCell>, datasets: string[], kinds: string[], methods: string[], budgets: number[]): string[] {
  const lines = ['', '### Model engines: time per object against one reference encoder run of the model (fixed input, timed in the same run)', ''];
  lines.push('| dataset | kind | method | k | s/object | CPU s/object | reference run, s | reference runs (wall) | reference runs (CPU) | encoder runs/object |');
  lines.push('|---|---|---|---:|---:|---:|---:|---:|---:|---:|');
  let any = false;
  for (const d of datasets) for (const k of kinds) for (const m of methods) for (const b of budgets) {
    const t = s.get([d, k, m, b].join('|'))?.timing;
    if (!t) continue;
    any = true;
    const enc = t.encoderRuns === null ? '–' : t.encoderRuns.toFixed(1);
    lines.push(`| ${d} | ${k} | ${m} | ${b} | ${t.seconds.toFixed(2)} | ${t.cpuSeconds.toFixed(2)} | ${t.referenceSeconds.toFixed(3)} | ${t.referenceRuns.toFixed(1)} | ${t.cpuReferenceRuns.toFixed(1)} | ${enc} |`);
  }
  return any ? lines : [];
}

function uniq<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}

/** Markdown: a Dice table and an end-error table (rows dataset x kind x method, columns budgets) and a detail table. */
export function summaryMarkdown(rows: BenchRow[], meta: { peakRssMiB: number; seconds: number }): string {
  const s = summarise(rows);
  const axes = axesOf(rows);
  const { datasets, kinds, methods, budgets } = axes;
  const f = (x: number | null, d = 3) => (x === null || Number.isNaN(x) ? '–' : x.toFixed(d));
  const lines: string[] = [];
  lines.push(`### Mean 3D Dice by budget (key slices per object)`, '');
  lines.push(`| dataset | kind | method | ${budgets.map((b) => `k=${b}`).join(' | ')} |`);
  lines.push(`|---|---|---|${budgets.map(() => '---:').join('|')}|`);
  for (const d of datasets) for (const k of kinds) for (const m of methods) {
    const cells = budgets.map((b) => s.get([d, k, m, b].join('|')));
    if (cells.every((c) => !c)) continue;
    lines.push(`| ${d} | ${k} | ${m} | ${cells.map((c) => f(c?.dice ?? null)).join(' | ')} |`);
  }
  lines.push(...budgetDipTable(dipsOf(rows, s, axes)));
  lines.push('', `### Mean end error by budget (slices: |predicted - true| first and last slice, averaged)`, '');
  lines.push(`| dataset | kind | method | ${budgets.map((b) => `k=${b}`).join(' | ')} |`);
  lines.push(`|---|---|---|${budgets.map(() => '---:').join('|')}|`);
  for (const d of datasets) for (const k of kinds) for (const m of methods) {
    const cells = budgets.map((b) => s.get([d, k, m, b].join('|')));
    if (cells.every((c) => !c)) continue;
    lines.push(`| ${d} | ${k} | ${m} | ${cells.map((c) => f(c?.endError ?? null, 2)).join(' | ')} |`);
  }
  lines.push(...keyObjectTable(s, datasets, kinds, methods, budgets));
  lines.push(...datasetEndTable(rows));
  lines.push('', `### Details (means): Dice off and on the key slices, NSD at 2 mm, HD95 (mm), end error (slices), time (s)`, '');
  lines.push('| dataset | kind | method | k | n | Dice | Dice non-key | Dice key | NSD 2mm | HD95 | end err | s/object |');
  lines.push('|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const d of datasets) for (const k of kinds) for (const m of methods) for (const b of budgets) {
    const c = s.get([d, k, m, b].join('|'));
    if (!c) continue;
    lines.push(`| ${d} | ${k} | ${m} | ${b} | ${c.n} | ${f(c.dice)} | ${f(c.diceNonKey)} | ${f(c.diceKey)} | ${f(c.nsd2mm)} | ${f(c.hd95, 1)} | ${f(c.endError, 2)} | ${f(c.seconds, 2)} |`);
  }
  lines.push(...skippingTable(s, datasets, kinds, methods, budgets));
  lines.push(...timingTable(s, datasets, kinds, methods, budgets));
  lines.push('', `${rows.length} rows in ${meta.seconds.toFixed(1)} s; peak resident memory ${meta.peakRssMiB.toFixed(0)} MiB.`, '');
  return lines.join('\n');
}


/**
 * Line style of a protocol: mask solid, box dashed, points long-dashed; suggested placement dotted (mask),
 * dash-dotted (box) or long-dash-dotted (points); nested placement sparsely dotted (mask), dash-dot-dotted (box)
 * or long-dash-dot-dotted (points).
 */
function dashOf(protocol: string): string {
  const box = protocol.startsWith('box');
  const points = protocol.startsWith('points');
  if (protocol.includes('suggested')) return box ? ' stroke-dasharray="6,2,1,2"' : points ? ' stroke-dasharray="10,3,1,3"' : ' stroke-dasharray="1,2"';
  if (protocol.includes('nested')) return box ? ' stroke-dasharray="6,2,1,2,1,2"' : points ? ' stroke-dasharray="10,3,1,3,1,3"' : ' stroke-dasharray="1,4"';
  return box ? ' stroke-dasharray="5,3"' : points ? ' stroke-dasharray="10,4"' : '';
}

/** SVG: one panel per dataset, mean 3D Dice (y) against budget (x), a line per method; box prompts dashed. */
export function dicePlotSvg(rows: BenchRow[]): string {
  const s = summarise(rows);
  const datasets = uniq(rows.map((r) => r.dataset));
  const kinds = uniq(rows.map(protocolOf));
  const methods = uniq(rows.map((r) => r.method));
  const budgets = uniq(rows.map((r) => r.budget)).sort((a, b) => a - b);
  const pw = 300;
  const ph = 220;
  const m = { l: 44, r: 12, t: 28, b: 36 };
  const cols = Math.min(2, datasets.length);
  const nrows = Math.ceil(datasets.length / cols);
  const legendH = 22 * Math.ceil((methods.length * kinds.length) / 3) + 10;
  const W = cols * pw;
  const H = nrows * ph + legendH;
  const bx = (b: number) => (budgets.length === 1 ? 0.5 : (b - budgets[0]) / (budgets[budgets.length - 1] - budgets[0]));
  const out: string[] = svgOpen(W, H);
  datasets.forEach((d, n) => {
    const ox = (n % cols) * pw + m.l;
    const oy = Math.floor(n / cols) * ph + m.t;
    const w = pw - m.l - m.r;
    const h = ph - m.t - m.b;
    const X = (b: number) => ox + bx(b) * w;
    const Y = (v: number) => oy + (1 - v) * h;
    out.push(`<text x="${ox + w / 2}" y="${oy - 10}" text-anchor="middle" font-weight="bold">${esc(d)}</text>`);
    out.push(`<rect x="${ox}" y="${oy}" width="${w}" height="${h}" fill="none" stroke="#999"/>`);
    for (const v of [0, 0.25, 0.5, 0.75, 1]) {
      out.push(`<line x1="${ox}" x2="${ox + w}" y1="${Y(v)}" y2="${Y(v)}" stroke="#eee"/>`);
      out.push(`<text x="${ox - 4}" y="${Y(v) + 4}" text-anchor="end">${v.toFixed(2)}</text>`);
    }
    for (const b of budgets) out.push(`<text x="${X(b)}" y="${oy + h + 14}" text-anchor="middle">${b}</text>`);
    out.push(`<text x="${ox + w / 2}" y="${oy + h + 28}" text-anchor="middle">key slices (k)</text>`);
    methods.forEach((meth, mi) => {
      kinds.forEach((k) => {
        const pts = budgets
          .map((b) => [b, s.get([d, k, meth, b].join('|'))?.dice] as const)
          .filter((p): p is readonly [number, number] => p[1] !== undefined);
        if (pts.length === 0) return;
        const color = COLORS[mi % COLORS.length];
        const dash = dashOf(k);
        out.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${dash} points="${pts.map(([b, v]) => `${X(b).toFixed(1)},${Y(v).toFixed(1)}`).join(' ')}"/>`);
        for (const [b, v] of pts) out.push(`<circle cx="${X(b).toFixed(1)}" cy="${Y(v).toFixed(1)}" r="2.5" fill="${color}"/>`);
      });
    });
  });
  let li = 0;
  methods.forEach((meth, mi) => {
    kinds.forEach((k) => {
      const x = 10 + (li % 3) * (W / 3);
      const y = nrows * ph + 16 + Math.floor(li / 3) * 22;
      const dash = dashOf(k);
      out.push(`<line x1="${x}" x2="${x + 24}" y1="${y - 4}" y2="${y - 4}" stroke="${COLORS[mi % COLORS.length]}" stroke-width="2"${dash}/>`);
      out.push(`<text x="${x + 30}" y="${y}">${esc(`${meth} (${k})`)}</text>`);
      li++;
    });
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
