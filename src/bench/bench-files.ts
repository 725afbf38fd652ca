/**
 * `keyslice bench`: runs the protocol and writes results.json, results.csv, summary.md and
 * dice-vs-budget.svg into the output folder.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PromptKind } from '../simulate/annotator.js';
import { ensureOutputDir, writeTextAtomic } from '../volume/io-node.js';
import { KeysliceError } from '../util/errors.js';
import { findDatasets } from './manifest.js';
import { defaultMethodNames, getMethod } from './methods.js';
import { dicePlotSvg, summaryMarkdown, toCsv } from './report.js';
import { runBench, type BenchRow, type Placement } from './run-bench.js';
import { adapterMethod } from '../training/bench-adapter.js';
import { interactiveMarkdown, runInteractiveBench, summariseInteractive, type InteractiveRow } from './interactive.js';

export interface BenchFilesOptions {
  /** Data folder (default: ../shared/data from the working folder, else beside the package). */
  data?: string;
  methods?: string[];
  /** Dataset names to run (default: every dataset found). */
  datasets?: string[];
  budgets?: number[];
  kinds?: PromptKind[];
  /** Key-slice placements (default both: fixed and suggested). */
  placements?: Placement[];
  /** A trained adapter folder: adds the method `keyslice:<its engine>+adapter`. */
  adapter?: string;
  /** Slices per side of one encoder input for the SAM-format engines named (rows `keyslice:<engine>/mosaicN`). */
  samMosaic?: number;
  /** The model engines' model folder (default: the built-in SAM-format model; `keyslice:medsam2` needs one). */
  model?: string;
  /** Output folder (default bench-results). */
  out?: string;
  onCase?: (done: number, total: number, name: string) => void;
}

export interface BenchFilesResult {
  rows: BenchRow[];
  summary: string;
  files: string[];
  dataDir: string;
}

/** The default data folder: `../shared/data` from the working folder, else from the package's folder. */
export function defaultDataDir(): string {
  const pkgRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
  const candidates = [path.resolve('../shared/data'), path.resolve(pkgRoot, '../shared/data')];
  const found = candidates.find((c) => existsSync(c));
  if (!found) {
    throw new KeysliceError('FILE_NOT_FOUND', `no data folder given and none found at ${candidates.join(' or ')}; pass --data DIR`);
  }
  return found;
}

/** The datasets found in `dataDir`, or the ones `names` asks for (an unknown name is a usage error). */
async function selectDatasets(dataDir: string, names: string[] | undefined): Promise<Awaited<ReturnType<typeof findDatasets>>> {
  const found = await findDatasets(dataDir);
  const unknown = (names ?? []).filter((n) => !found.some((d) => d.name === n));
  if (unknown.length) {
    throw new KeysliceError('USAGE', `unknown dataset ${unknown.map((n) => `"${n}"`).join(', ')} (found: ${found.map((d) => d.name).join(', ')})`, dataDir);
  }
  return names ? found.filter((d) => names.includes(d.name)) : found;
}

export async function benchFiles(opts: BenchFilesOptions): Promise<BenchFilesResult> {
  const dataDir = opts.data ?? defaultDataDir();
  const datasets = await selectDatasets(dataDir, opts.datasets);
  const methods = (opts.methods ?? defaultMethodNames()).map((m) => getMethod(m, { samMosaic: opts.samMosaic, model: opts.model }));
  if (opts.adapter !== undefined) methods.push(await adapterMethod(opts.adapter));
  const out = opts.out ?? 'bench-results';
  await ensureOutputDir(out);
  const t0 = performance.now();
  const rows = await runBench({
    datasets,
    methods,
    budgets: opts.budgets ?? [1, 2, 3, 5],
    kinds: opts.kinds ?? ['mask', 'box'],
    placements: opts.placements ?? ['fixed', 'suggested'],
    onCase: opts.onCase,
  });
  const seconds = (performance.now() - t0) / 1000;
  const peakRssMiB = process.resourceUsage().maxRSS / 1024;
  const summary = summaryMarkdown(rows, { peakRssMiB, seconds });
  const files = {
    json: path.join(out, 'results.json'),
    csv: path.join(out, 'results.csv'),
    md: path.join(out, 'summary.md'),
    svg: path.join(out, 'dice-vs-budget.svg'),
  };
  const meta = { date: new Date().toISOString(), dataDir, datasets: datasets.map((d) => d.name), seconds, peakRssMiB };
  await writeTextAtomic(files.json, `${JSON.stringify({ meta, rows }, null, 1)}\n`);
  await writeTextAtomic(files.csv, toCsv(rows));
  await writeTextAtomic(files.md, `# keyslice benchmark\n\nData: ${dataDir}\n\n${summary}`);
  await writeTextAtomic(files.svg, dicePlotSvg(rows));
  return { rows, summary, files: Object.values(files), dataDir };
}

export interface InteractiveFilesOptions {
  data?: string;
  datasets?: string[];
  /** Engine (default classic). */
  engine?: string;
  /** Corrections after the first key slice (default 5). */
  edits?: number;
  /** What the session reuses across edits (default exact). */
  reuse?: 'exact' | 'fronts';
  /** Output folder (default bench-results). */
  out?: string;
  onCase?: (done: number, total: number, name: string) => void;
}

/** `keyslice bench --interactive`: runs the interactive protocol, writes interactive.json and interactive.md. */
export async function interactiveBenchFiles(opts: InteractiveFilesOptions): Promise<{ rows: InteractiveRow[]; summary: string; files: string[] }> {
  const dataDir = opts.data ?? defaultDataDir();
  const datasets = await selectDatasets(dataDir, opts.datasets);
  const engine = opts.engine ?? 'classic';
  const out = opts.out ?? 'bench-results';
  await ensureOutputDir(out);
  const t0 = performance.now();
  const reuse = opts.reuse ?? 'exact';
  const rows = await runInteractiveBench({ datasets, engine, edits: opts.edits ?? 5, reuse, onCase: opts.onCase });
  const seconds = (performance.now() - t0) / 1000;
  const summaries = summariseInteractive(rows);
  const summary = interactiveMarkdown(engine, summaries, reuse);
  const files = { json: path.join(out, 'interactive.json'), md: path.join(out, 'interactive.md') };
  const meta = { date: new Date().toISOString(), dataDir, engine, reuse, datasets: datasets.map((d) => d.name), seconds };
  await writeTextAtomic(files.json, `${JSON.stringify({ meta, summaries, rows }, null, 1)}\n`);
  await writeTextAtomic(files.md, `# keyslice interactive benchmark\n\nData: ${dataDir}\n\n${summary}`);
  return { rows, summary, files: Object.values(files) };
}
