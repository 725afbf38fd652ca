/**
 * Leave-one-case-out evaluation of adapters (`keyslice bench --loo MODE[,MODE]`): within each dataset that has
 * at least three cases, each case in turn is the test case; an adapter is trained on the others (the last of them
 * held out for early stopping, the choice of weight and the usable verdict) and the benchmark runs on the test
 * case with the unadapted engine and the adapted one, in the same run. "As used" takes the adapted result only
 * where the adapter was marked usable (else the unadapted one), as `keyslice segment` users would. The engine is
 * the classic one by default; with `engine` (`sam`, `hybrid`) the correspondence modes are made for that model
 * engine (the carried mask joins its decoder's logits) and `residual` adapts it. With `out`,
 * each fold's adapter is kept in `out/adapters/`.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { BenchMethod } from '../bench/methods.js';
import { getMethod } from '../bench/methods.js';
import { findDatasets, type Dataset } from '../bench/manifest.js';
import { runBench, type BenchRow } from '../bench/run-bench.js';
import { classicEngine } from '../engines/classic/engine.js';
import { correspondenceModel, correspondenceTerm } from '../models/adapter/model.js';
import { nodeRuntime } from '../models/onnx/runtime-node.js';
import { segment } from '../pipeline/segment.js';
import type { SliceEngine } from '../propagation/types.js';
import type { PromptKind } from '../simulate/annotator.js';
import { KeysliceError } from '../util/errors.js';
import { ensureOutputDir, writeTextAtomic } from '../volume/io-node.js';
import { trainAdapter, type TrainedAdapter } from './train-adapter.js';
import { trainResidualAdapter } from './train-residual.js';
import type { ResidualSet } from './residual-data.js';
import { residualEngine, residualModel, residualTerm } from '../models/adapter/residual.js';
import { dataHash, modelEngineFor, readCase, writeAdapter, type ModelEngineChoice } from './train-files.js';
import { carriedTerm } from '../models/adapter/carried.js';
import { timedResidual } from '../models/adapter/engine-node.js';
import type { TrainingMode, TrainProgress } from './train.js';

/** A correspondence adapter's mode, or `residual`: an adapter on a model engine's decoder logits. */
export type LooMode = TrainingMode | 'residual';

/**
 * `engine`: `classic` (default for correspondence modes), `sam` (default for `residual`) or `hybrid`; for a model
 * engine, its model folder, embedding cache folder and that folder's size limit (see `ModelEngineChoice`).
 */
export interface LooOptions extends ModelEngineChoice {
  data: string;
  datasets?: string[];
  /** Correspondence modes, or `residual` alone (each against `engine` unadapted). */
  modes: LooMode[];
  /** Test cases to run (default: every case in turn). */
  cases?: string[];
  budgets?: number[];
  kinds?: PromptKind[];
  seed?: number;
  maxSteps?: number;
  out?: string;
  onStage?: (message: string) => void;
  onProgress?: (p: TrainProgress) => void;
}

export interface LooFold {
  dataset: string;
  test: string;
  mode: LooMode;
  trainCases: string[];
  validationCase: string;
  trainSeconds: number;
  /** Seconds of engine runs recording training material in this fold (residual adapters; cases recorded in an earlier fold not counted). */
  recordSeconds: number;
  steps: number;
  stoppedEarly: boolean;
  adapterBytes: number;
  usable: boolean;
  validationGain: number | null;
  guideWeight: number;
  /** Residual adapters: the weights on fronts from mask key slices and from drawn ones (box, points). */
  frontWeights?: { mask: number; drawn: number };
  /** Adapter graph runs and their seconds during the test runs (one run per slice the engine propagated to). */
  adapterRuns: number;
  adapterSeconds: number;
}

export interface LooResult {
  rows: BenchRow[];
  folds: LooFold[];
  summary: string;
  files: string[];
}

/** An engine with an adapter as a bench method (`keyslice:classic+<mode>`). */
export function adaptedMethod(name: string, engine: SliceEngine): BenchMethod {
  return {
    name,
    async run(input) {
      const { labels, report } = await segment(input.image, { axis: input.axis, labels: [input.label] }, { engine });
      const mask = new Uint8Array(labels.data.length);
      for (let i = 0; i < mask.length; i++) mask[i] = labels.data[i] === input.label.value ? 1 : 0;
      const l = report.labels[0];
      return { mask, engineCalls: l?.engineCalls ?? 0, callsSaved: l ? l.reusedSlices + l.skippedSlices - l.skipsRejected : 0 };
    },
  };
}

const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

export async function leaveOneOut(opts: LooOptions): Promise<LooResult> {
  const stage = opts.onStage ?? (() => {});
  const found = await findDatasets(opts.data);
  const named = opts.datasets ? found.filter((d) => opts.datasets?.includes(d.name)) : found;
  const datasets = named.filter((d) => d.cases.length >= 3);
  if (!datasets.length) throw new KeysliceError('USAGE', 'leave-one-case-out needs a dataset with three cases or more (train, validation, test)', opts.data);
  const rows: BenchRow[] = [];
  const folds: LooFold[] = [];
  const runtime = await nodeRuntime();
  const residual = opts.modes.includes('residual');
  if (residual && opts.modes.length > 1) throw new KeysliceError('USAGE', '--loo residual compares a model engine with itself adapted: run it apart from the correspondence modes');
  const baseEngine = opts.engine ?? (residual ? 'sam' : 'classic');
  if (residual && baseEngine === 'classic') throw new KeysliceError('USAGE', 'a residual adapter serves the sam and hybrid engines, not classic');
  const modelEngine = await modelEngineFor({ ...opts, engine: baseEngine });
  const sam = modelEngine?.model ?? null;
  const samId = modelEngine?.modelId ?? null;
  const unadapted = sam ? adaptedMethod(`keyslice:${baseEngine}`, residualEngine(baseEngine, sam, null)) : getMethod('keyslice:classic');
  // Recordings of the unadapted model engine per case, shared by the folds.
  const recorded = new Map<string, { set: ResidualSet; dice: number[] }>();
  for (const d of datasets) {
    for (const test of d.cases.filter((c) => !opts.cases || opts.cases.includes(c.id))) {
      const others = d.cases.filter((c) => c !== test);
      const valCase = others[others.length - 1];
      const trainCases = others.slice(0, -1);
      const methods: BenchMethod[] = [unadapted];
      const models: { usage: { runs: number; seconds: number }; release(): Promise<void> }[] = [];
      for (const mode of opts.modes) {
        stage(`${d.name}: ${mode} adapter for test case ${test.id} (train ${trainCases.map((c) => c.id).join(', ')}; validation ${valCase.id})`);
        const supervised = mode !== 'self-supervised';
        const train = await Promise.all(trainCases.map((c) => readCase(d, c, !supervised)));
        const validation = [await readCase(d, valCase, false)];
        const common = { seed: opts.seed, maxSteps: opts.maxSteps, dataHash: await dataHash(d, trainCases, supervised), onProgress: opts.onProgress, onStage: opts.onStage };
        let adapter: TrainedAdapter<unknown>;
        if (sam && samId && mode === 'residual') {
          // Recorded and validated under the protocol the test case is benchmarked with.
          const protocol = { kinds: opts.kinds ?? ['mask', 'box'], budgets: opts.budgets ?? [1, 2] };
          adapter = await trainResidualAdapter(train, validation, { ...common, engine: baseEngine, model: sam, modelId: samId, recorded, protocol });
          const model = await residualModel(runtime, adapter.graph, adapter.manifest);
          models.push(model);
          methods.push(adaptedMethod(`keyslice:${baseEngine}+${mode}`, residualEngine(baseEngine, sam, residualTerm(model))));
        } else if (sam && modelEngine) {
          // The carried mask on the model engine's logits, validated under the protocol the test case is benchmarked with.
          const protocol = { kinds: opts.kinds ?? ['mask', 'box'], budgets: opts.budgets ?? [1, 2] };
          adapter = await trainAdapter(train, validation, { ...common, mode: mode as TrainingMode, modelEngine, protocol });
          const model = await correspondenceModel(runtime, adapter.graph, adapter.manifest);
          const usage = { runs: 0, seconds: 0 };
          models.push({ usage, release: () => model.release() });
          methods.push(adaptedMethod(`keyslice:${baseEngine}+${mode}`, residualEngine(baseEngine, sam, timedResidual(carriedTerm(model), usage))));
        } else {
          adapter = await trainAdapter(train, validation, { ...common, mode: mode as TrainingMode });
          const model = await correspondenceModel(runtime, adapter.graph, adapter.manifest);
          models.push(model);
          methods.push(adaptedMethod(`keyslice:classic+${mode}`, classicEngine({ adapter: correspondenceTerm(model) })));
        }
        const m = adapter.manifest;
        const dir = opts.out && path.join(opts.out, 'adapters', `${d.name}-${test.id}-${mode}`);
        if (dir && !existsSync(dir)) await writeAdapter(dir, adapter);
        folds.push({
          dataset: d.name,
          test: test.id,
          mode,
          trainCases: trainCases.map((c) => c.id),
          validationCase: valCase.id,
          trainSeconds: m.training.seconds,
          recordSeconds: m.training.recordSeconds ?? 0,
          steps: m.training.steps,
          stoppedEarly: m.training.stoppedEarly,
          adapterBytes: adapter.graph.length + Buffer.byteLength(JSON.stringify(m, null, 1)),
          usable: m.validation.usable,
          validationGain: m.validation.gain,
          guideWeight: m.guideWeight,
          frontWeights: m.frontWeights,
          adapterRuns: 0,
          adapterSeconds: 0,
        });
      }
      stage(`${d.name}: benchmark on ${test.id}`);
      const testSet: Dataset = { ...d, cases: [test] };
      rows.push(...(await runBench({ datasets: [testSet], methods, budgets: opts.budgets ?? [1, 2], kinds: opts.kinds ?? ['mask', 'box'], placements: ['fixed'] })));
      for (const [n, model] of models.entries()) {
        const f = folds[folds.length - models.length + n];
        f.adapterRuns = model.usage.runs;
        f.adapterSeconds = model.usage.seconds;
        await model.release();
      }
      // What is done so far, so that an interrupted run keeps its finished folds.
      await writeLoo(opts, rows, folds, looSummary(rows, folds, opts.modes, baseEngine));
    }
  }
  const summary = looSummary(rows, folds, opts.modes, baseEngine);
  const files = await writeLoo(opts, rows, folds, summary);
  return { rows, folds, summary, files };
}

async function writeLoo(opts: LooOptions, rows: BenchRow[], folds: LooFold[], summary: string): Promise<string[]> {
  if (!opts.out) return [];
  await ensureOutputDir(opts.out);
  const json = `${opts.out}/loo-results.json`;
  const md = `${opts.out}/loo-summary.md`;
  await writeTextAtomic(json, `${JSON.stringify({ date: new Date().toISOString(), rows, folds }, null, 1)}\n`);
  await writeTextAtomic(md, `# keyslice adapters, leave one case out\n\n${summary}`);
  return [json, md];
}

/** Mean Dice per dataset, kind and budget: unadapted, adapted and "as used" per mode, with differences. */
export function looSummary(rows: BenchRow[], folds: LooFold[], modes: LooMode[], baseEngine = 'classic'): string {
  const usable = new Map(folds.map((f) => [`${f.dataset}|${f.test}|${f.mode}`, f.usable]));
  const keys = [...new Set(rows.map((r) => `${r.dataset}|${r.kind}|${r.budget}`))];
  const head = ['dataset', 'kind', 'k', 'n', baseEngine, ...modes.flatMap((m) => [`+${m}`, 'diff', `+${m} as used`, 'diff'])];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i < 3 ? '---' : '---:')).join('|')}|`];
  const f3 = (x: number) => x.toFixed(3);
  const sign = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(3)}`;
  for (const k of keys) {
    const [dataset, kind, budget] = k.split('|');
    const sel = rows.filter((r) => r.dataset === dataset && r.kind === kind && String(r.budget) === budget);
    const base = sel.filter((r) => r.method === `keyslice:${baseEngine}`);
    const b = mean(base.map((r) => r.dice));
    const cells = [dataset, kind, budget, String(base.length), f3(b)];
    for (const m of modes) {
      const ad = sel.filter((r) => r.method === `keyslice:${baseEngine}+${m}`);
      const a = mean(ad.map((r) => r.dice));
      const used = mean(ad.map((r) => (usable.get(`${r.dataset}|${r.case}|${m}`) ? r.dice : (base.find((x) => x.case === r.case && x.label === r.label)?.dice ?? r.dice))));
      cells.push(f3(a), sign(a - b), f3(used), sign(used - b));
    }
    lines.push(`| ${cells.join(' | ')} |`);
  }
  const fl = ['', '| dataset | test case | mode | record s | train s | steps | early stop | bytes | usable | val. gain | weight (mask / box fronts) | adapter s/slice |', '|---|---|---|---:|---:|---:|---|---:|---|---:|---:|---:|'];
  for (const f of folds) {
    fl.push(
      `| ${f.dataset} | ${f.test} | ${f.mode} | ${f.recordSeconds.toFixed(1)} | ${f.trainSeconds.toFixed(1)} | ${f.steps} | ${f.stoppedEarly ? 'yes' : 'no'} | ${f.adapterBytes} | ${f.usable ? 'yes' : 'no'} | ${f.validationGain === null ? '-' : sign(f.validationGain)} | ${f.frontWeights ? `${f.frontWeights.mask} / ${f.frontWeights.drawn}` : f.guideWeight} | ${f.adapterRuns ? (f.adapterSeconds / f.adapterRuns).toFixed(4) : '-'} |`,
    );
  }
  const time = (m: string) => mean(rows.filter((r) => r.method === m).map((r) => r.seconds));
  const tl = ['', `Seconds per object (same run): ${baseEngine} ${time(`keyslice:${baseEngine}`).toFixed(3)}` + modes.map((m) => `, +${m} ${time(`keyslice:${baseEngine}+${m}`).toFixed(3)}`).join('')];
  return `${lines.join('\n')}\n${fl.join('\n')}\n${tl.join('\n')}\n`;
}
