#!/usr/bin/env node
/**
 * The `keyslice` command line. Each subcommand parses its flags, calls the library, prints results on stdout
 * and progress on stderr. Errors print one line naming the file and the problem, and exit non-zero.
 */
import { benchFiles, defaultDataDir, interactiveBenchFiles } from '../bench/bench-files.js';
import { runScale } from '../bench/scale.js';
import { leaveOneOut, type LooMode } from '../training/loo.js';
import { trainFiles } from '../training/train-files.js';
import type { TrainProgress } from '../training/train.js';
import type { Placement } from '../bench/run-bench.js';
import { PROMPT_KINDS, type PromptKind } from '../simulate/annotator.js';
import { runDemo } from '../demo/run-demo.js';
import { maskOf, objectMetrics } from '../metrics/metrics.js';
import { segmentFiles } from '../pipeline/segment-files.js';
import { EXIT_CODES, KeysliceError } from '../util/errors.js';
import { readAnnotationLabels } from '../volume/label-io-node.js';
import { gridDifference, labelValues } from '../volume/volume.js';
import { cmdAnalyze, cmdSuggest } from './analysis.js';
import { cmdBatch } from './batch.js';
import { commandHelp } from './help.js';
import { cmdInfo } from './info.js';
import { cmdMesh, MESH_FLAGS, meshOptions } from './mesh.js';
import { capturedMessages } from '../util/quiet.js';
import { choices, INPUT_FLAGS, inputFiles, list, need, parse, USAGE, VERSION, type Values } from './args.js';
import { OUTPUT_FLAGS, outputOptions, parsePost, parseRange, parseWindow } from './options.js';
import { ProgressReporter, segmentProgressLine } from './progress.js';
import { cmdApp, cmdServe } from './serve.js';

async function cmdSegment(args: string[]): Promise<void> {
  const v = parse(args, {
    ...INPUT_FLAGS,
    out: { type: 'string' },
    engine: { type: 'string' },
    model: { type: 'string' },
    'execution-provider': { type: 'string' },
    'embedding-cache': { type: 'string' },
    adapter: { type: 'string' },
    window: { type: 'string' },
    range: { type: 'string' },
    post: { type: 'string' },
    report: { type: 'string' },
    quiet: { type: 'boolean' },
    ...OUTPUT_FLAGS,
    mesh: { type: 'string' },
    ...MESH_FLAGS,
  });
  const progress = new ProgressReporter(process.stderr, !!v.quiet);
  const { report, warnings, written } = await segmentFiles({
    ...inputFiles(v),
    out: need(v, 'out'),
    engine: v.engine as string | undefined,
    model: v.model as string | undefined,
    executionProviders: typeof v['execution-provider'] === 'string' ? v['execution-provider'].split(',').filter(Boolean) : undefined,
    embeddingCache: v['embedding-cache'] as string | undefined,
    adapter: v.adapter as string | undefined,
    range: typeof v.range === 'string' ? parseRange(v.range) : undefined,
    window: typeof v.window === 'string' ? parseWindow(v.window) : undefined,
    postprocess: typeof v.post === 'string' ? parsePost(v.post) : undefined,
    report: v.report as string | undefined,
    ...outputOptions(v),
    ...(typeof v.mesh === 'string' ? { mesh: { dir: v.mesh, ...meshOptions(v) } } : {}),
    onStage: (m) => progress.log(m),
    onProgress: (p) => {
      const line = segmentProgressLine(p);
      progress.update(line.done, line.total, line.text);
    },
  });
  for (const w of warnings) progress.log(`warning: ${w}`);
  for (const l of report.labels) {
    const ext = l.extent ? `slices ${l.extent[0]}..${l.extent[1]}` : 'empty';
    console.log(`label ${l.value}${l.name ? ` (${l.name})` : ''}: ${l.voxels} voxels, ${l.volumeMl.toFixed(2)} mL, ${ext}, ${l.seconds.toFixed(2)} s`);
    for (const f of l.fronts) {
      const end = f.last === null ? 'wrote nothing' : `to slice ${f.last}`;
      progress.log(`  front from ${f.from} ${f.direction > 0 ? 'up' : 'down'}: ${end}, stopped: ${f.stop}${f.detail ? ` (${f.detail})` : ''}`);
    }
    if (l.reusedSlices) progress.log(`  ${l.reusedSlices} near-duplicate slice(s) reused their neighbour's mask`);
    if (l.skippedSlices) {
      progress.log(`  ${l.skippedSlices} redundant slice(s) interpolated, ${l.skippedSlices - l.skipsRejected} engine call(s) saved`);
    }
    const flagged = l.postprocess.continuity?.flaggedSlices ?? [];
    if (flagged.length) progress.log(`  check slices ${flagged.join(', ')}: area jumps against both neighbours`);
    for (const n of l.notes) progress.log(`  note: ${n}`);
  }
  if (report.engineStats) {
    progress.log(`  model: ${Object.entries(report.engineStats).map(([k, x]) => `${k} ${Number.isInteger(x) ? x : x.toFixed(2)}`).join(', ')}`);
  }
  console.log(`wrote ${v.out} (engine ${report.engine}, ${report.seconds.toFixed(2)} s)`);
  if (written.length > 1) progress.log(`  also wrote ${written.filter((w) => w !== v.out).join(', ')}`);
}

async function cmdScore(args: string[]): Promise<void> {
  const v = parse(args, {
    pred: { type: 'string' },
    gt: { type: 'string' },
    label: { type: 'string', multiple: true },
    tolerance: { type: 'string' },
    json: { type: 'boolean' },
  });
  const predFile = need(v, 'pred');
  const gtFile = need(v, 'gt');
  const tol = v.tolerance === undefined ? 2 : Number(v.tolerance);
  if (!Number.isFinite(tol) || tol < 0) throw new KeysliceError('USAGE', `--tolerance must be a distance in mm >= 0, got "${String(v.tolerance)}"`);
  const pred = (await readAnnotationLabels(predFile)).volume;
  const gt = (await readAnnotationLabels(gtFile)).volume;
  const diff = gridDifference(gt, pred);
  if (diff !== null) throw new KeysliceError('GRID_MISMATCH', `grid differs from ${gtFile}: ${diff}`, predFile);
  let labels: number[];
  if (v.label !== undefined) {
    labels = (v.label as string[]).flatMap((s) => s.split(',')).map((s) => {
      const n = Number(s);
      if (!Number.isInteger(n) || n < 1) throw new KeysliceError('USAGE', `--label must be label values >= 1, got "${s}"`);
      return n;
    });
  } else {
    labels = [...new Set([...labelValues(gt.data), ...labelValues(pred.data)])].sort((a, b) => a - b);
  }
  const rows = labels.map((label) => ({
    label,
    ...objectMetrics(maskOf(pred.data, label), maskOf(gt.data, label), gt.size, gt.spacing, { nsdToleranceMm: tol }),
  }));
  if (v.json) {
    console.log(JSON.stringify(rows, null, 2));
    return;
  }
  const f = (x: number | null, d = 3) => (x === null ? 'inf' : x.toFixed(d));
  console.log(`label  dice   iou    hd95_mm  assd_mm  nsd@${tol}mm  vol_diff_mL`);
  for (const r of rows) {
    console.log(
      `${String(r.label).padEnd(6)} ${f(r.dice)}  ${f(r.iou)}  ${f(r.hd95, 2).padStart(7)}  ${f(r.assd, 2).padStart(7)}  ${f(r.nsd).padStart(8)}  ${r.volumeDiffMl.toFixed(2).padStart(11)}`,
    );
  }
}

async function cmdDemo(args: string[]): Promise<void> {
  const v = parse(args, { out: { type: 'string' }, engine: { type: 'string' } });
  const outDir = (v.out as string | undefined) ?? 'keyslice-demo';
  const progress = new ProgressReporter();
  progress.log('building a CT phantom (128x128x24, 0.8x0.8x5 mm) with an organ and a lesion...');
  const res = await runDemo({ outDir, engine: v.engine as string | undefined });
  console.log(`engine ${res.engine}: segmented ${res.labels.length} objects in ${res.seconds.toFixed(2)} s`);
  for (const l of res.labels) {
    const m = l.metrics;
    console.log(
      `  ${l.name.padEnd(7)} ${l.prompt} prompts on slices ${l.keySlices.join(',').padEnd(8)} Dice ${m.dice.toFixed(3)}  ` +
        `HD95 ${m.hd95 === null ? 'inf' : m.hd95.toFixed(1)} mm  NSD@2mm ${m.nsd.toFixed(3)}`,
    );
  }
  console.log(`files in ${outDir}/:`);
  for (const [k, f] of Object.entries(res.files)) console.log(`  ${k.padEnd(13)} ${f}`);
}

async function cmdBench(args: string[]): Promise<void> {
  const v = parse(args, {
    data: { type: 'string' },
    methods: { type: 'string' },
    datasets: { type: 'string' },
    budgets: { type: 'string' },
    kinds: { type: 'string' },
    placements: { type: 'string' },
    out: { type: 'string' },
    scale: { type: 'boolean' },
    'in-plane': { type: 'string' },
    sizes: { type: 'string' },
    slices: { type: 'string' },
    'itk-reference': { type: 'boolean' },
    adapter: { type: 'string' },
    loo: { type: 'string' },
    cases: { type: 'string' },
    seed: { type: 'string' },
    'max-steps': { type: 'string' },
    interactive: { type: 'boolean' },
    engine: { type: 'string' },
    model: { type: 'string' },
    'embedding-cache': { type: 'string' },
    edits: { type: 'string' },
    reuse: { type: 'string' },
  });
  if (v.scale) return cmdBenchScale(v);
  if (v.interactive) {
    const edits = v.edits === undefined ? 5 : Number(v.edits);
    if (!Number.isInteger(edits) || edits < 0) throw new KeysliceError('USAGE', `--edits must be a whole number >= 0, got "${String(v.edits)}"`);
    const progress = new ProgressReporter();
    const res = await interactiveBenchFiles({
      data: v.data as string | undefined,
      datasets: list(v, 'datasets'),
      engine: v.engine as string | undefined,
      edits,
      reuse: choices<'exact' | 'fronts'>(v, 'reuse', ['exact', 'fronts'])?.[0],
      out: v.out as string | undefined,
      onCase: (done, total, name) => progress.update(done, total, name),
    });
    console.log(res.summary);
    console.log(`results: ${res.files.join(', ')}`);
    return;
  }
  const placements = choices<Placement>(v, 'placements', ['fixed', 'suggested']);
  const budgets = list(v, 'budgets')?.map((b) => {
    const n = Number(b);
    if (!Number.isInteger(n) || n < 1) throw new KeysliceError('USAGE', `--budgets must be whole numbers >= 1, got "${b}"`);
    return n;
  });
  const kinds = choices<PromptKind>(v, 'kinds', [...PROMPT_KINDS]);
  const progress = new ProgressReporter();
  const loo = choices<LooMode>(v, 'loo', ['self-supervised', 'supervised', 'residual']);
  if (loo) {
    const res = await leaveOneOut({
      data: (v.data as string | undefined) ?? defaultDataDir(),
      datasets: list(v, 'datasets'),
      modes: loo,
      engine: v.engine as string | undefined,
      model: v.model as string | undefined,
      embeddingCache: v['embedding-cache'] as string | undefined,
      cases: list(v, 'cases'),
      budgets: budgets ?? [1, 2],
      kinds,
      seed: wholeNumber(v, 'seed'),
      maxSteps: wholeNumber(v, 'max-steps'),
      out: (v.out as string | undefined) ?? 'bench-results',
      onStage: (m) => progress.log(m),
      onProgress: trainProgress(progress),
    });
    console.log(res.summary);
    console.log(`results: ${res.files.join(', ')}`);
    return;
  }
  const res = await benchFiles({
    adapter: v.adapter as string | undefined,
    data: v.data as string | undefined,
    methods: list(v, 'methods'),
    datasets: list(v, 'datasets'),
    budgets,
    kinds,
    placements,
    out: v.out as string | undefined,
    onCase: (done, total, name) => progress.update(done, total, name),
  });
  console.log(res.summary);
  console.log(`results: ${res.files.join(', ')}`);
}

async function cmdBenchScale(v: Values): Promise<void> {
  const sizes = (name: string) =>
    list(v, name)?.map((b) => {
      const n = Number(b);
      if (!Number.isInteger(n) || n < 8 || n > 2048) throw new KeysliceError('USAGE', `--${name} must be whole numbers from 8 to 2048, got "${b}"`);
      return n;
    });
  const grids = list(v, 'sizes')?.map((g) => {
    const dims = g.split('x').map(Number);
    if (dims.length !== 3 || dims.some((d) => !Number.isInteger(d) || d < 8 || d > 2048)) {
      throw new KeysliceError('USAGE', `--sizes takes grids like 512x512x300 (each 8 to 2048), got "${g}"`);
    }
    return dims as [number, number, number];
  });
  const progress = new ProgressReporter();
  const res = await runScale({
    sizes: grids,
    inPlane: sizes('in-plane'),
    slices: sizes('slices'),
    methods: list(v, 'methods')?.filter((m) => m !== 'none'),
    out: (v.out as string | undefined) ?? 'bench-scale',
    itkReference: v['itk-reference'] === true,
    onStep: (m) => progress.log(m),
  });
  console.log(res.markdown);
  console.log(`results: ${res.files.join(', ')}`);
}

/** A flag that must be a whole number >= 1 (undefined when absent). */
function wholeNumber(v: Record<string, unknown>, name: string): number | undefined {
  if (v[name] === undefined) return undefined;
  const n = Number(v[name]);
  if (!Number.isInteger(n) || n < 1) throw new KeysliceError('USAGE', `--${name} must be a whole number >= 1, got "${String(v[name])}"`);
  return n;
}

/** Training progress on the progress line: step, mean loss, validation loss. */
function trainProgress(progress: ProgressReporter): (p: TrainProgress) => void {
  return (p) => progress.update(p.step, p.maxSteps, `loss ${p.loss.toFixed(4)}${p.validationLoss === null ? '' : `, validation ${p.validationLoss.toFixed(4)}`}`);
}

async function cmdTrain(args: string[]): Promise<void> {
  const v = parse(args, {
    data: { type: 'string' },
    dataset: { type: 'string' },
    out: { type: 'string' },
    mode: { type: 'string' },
    seed: { type: 'string' },
    'max-steps': { type: 'string' },
    validation: { type: 'string' },
    exclude: { type: 'string' },
    engine: { type: 'string' },
    model: { type: 'string' },
    'embedding-cache': { type: 'string' },
    quiet: { type: 'boolean' },
  });
  const mode = choices<LooMode>(v, 'mode', ['self-supervised', 'supervised', 'residual']);
  if (mode && mode.length !== 1) throw new KeysliceError('USAGE', '--mode takes one of self-supervised, supervised, residual');
  if (mode?.[0] !== 'residual' && (v.engine !== undefined || v.model !== undefined)) {
    throw new KeysliceError('USAGE', '--engine and --model name the model engine of a residual adapter (--mode residual)');
  }
  const progress = new ProgressReporter(process.stderr, !!v.quiet);
  const res = await trainFiles({
    data: need(v, 'data'),
    dataset: v.dataset as string | undefined,
    out: need(v, 'out'),
    mode: mode?.[0],
    seed: wholeNumber(v, 'seed'),
    maxSteps: wholeNumber(v, 'max-steps'),
    validation: list(v, 'validation'),
    exclude: list(v, 'exclude'),
    engine: v.engine as string | undefined,
    model: v.model as string | undefined,
    embeddingCache: v['embedding-cache'] as string | undefined,
    onStage: (m) => progress.log(m),
    onProgress: trainProgress(progress),
  });
  const m = res.manifest;
  const val = m.validation;
  console.log(`trained a ${m.mode} adapter on ${m.trainingData.cases.length} case(s) in ${m.training.seconds.toFixed(1)} s (${m.training.steps} steps${m.training.stoppedEarly ? ', stopped early' : ''})`);
  console.log(
    val.unadaptedDice === null
      ? `not usable: ${val.note}`
      : `validation on ${val.cases.join(', ')}: Dice ${val.adaptedDice?.toFixed(3)} adapted, ${val.unadaptedDice.toFixed(3)} unadapted (${(val.gain ?? 0) >= 0 ? '+' : ''}${val.gain?.toFixed(3)}): ${val.usable ? 'usable' : 'not usable'}`,
  );
  console.log(`wrote ${res.dir} (${res.bytes} bytes)`);
}

/** The subcommands, by name. */
const COMMANDS: Record<string, (args: string[]) => Promise<void>> = {
  segment: cmdSegment,
  score: cmdScore,
  demo: cmdDemo,
  bench: cmdBench,
  train: cmdTrain,
  analyze: cmdAnalyze,
  suggest: cmdSuggest,
  info: cmdInfo,
  batch: cmdBatch,
  mesh: cmdMesh,
  serve: cmdServe,
  app: cmdApp,
};

/** With --verbose: what third-party libraries printed during the run, after the command's own output. */
function showCaptured(verbose: boolean): void {
  if (!verbose) return;
  for (const line of capturedMessages()) process.stderr.write(`[library] ${line}\n`);
}

export async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  const [cmd, ...rest] = argv.filter((a) => a !== '--verbose');
  try {
    const run = cmd === undefined ? undefined : COMMANDS[cmd];
    if (run && (rest.includes('--help') || rest.includes('-h'))) {
      console.log(commandHelp(cmd as string) ?? USAGE);
      return 0;
    }
    if (run) {
      await run(rest);
      showCaptured(verbose);
      return 0;
    }
    switch (cmd) {
      case '--version':
        console.log(VERSION);
        return 0;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        console.log(USAGE);
        return cmd === undefined ? 2 : 0;
      default:
        throw new KeysliceError('USAGE', `unknown command "${cmd}"\n\n${USAGE}`);
    }
  } catch (err) {
    showCaptured(verbose);
    if (err instanceof KeysliceError) {
      process.stderr.write(`keyslice: error: ${err.message}\n`);
      return EXIT_CODES[err.code];
    }
    process.stderr.write(`keyslice: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  // WebAssembly runtimes still finishing set process.exitCode when they exit: the command's status wins.
  process.on('exit', () => {
    process.exitCode = code;
  });
});
