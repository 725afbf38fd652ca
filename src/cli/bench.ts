/** `keyslice bench`: the benchmark against the peers, and its interactive, scale and leave-one-out modes. */
import { benchFiles, defaultDataDir, interactiveBenchFiles } from '../bench/bench-files.js';
import { runScale } from '../bench/scale.js';
import { leaveOneOut, type LooMode } from '../training/loo.js';
import type { Placement } from '../bench/run-bench.js';
import { PROMPT_KINDS, type PromptKind } from '../simulate/annotator.js';
import { KeysliceError } from '../util/errors.js';
import { choices, list, parse, type Values } from './args.js';
import { EMBEDDING_CACHE_FLAGS, embeddingCacheOptions, samMosaicOption } from './options.js';
import { ProgressReporter } from './progress.js';
import { trainProgress, wholeNumber } from './train.js';

export async function cmdBench(args: string[]): Promise<void> {
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
    'sam-mosaic': { type: 'string' },
    loo: { type: 'string' },
    cases: { type: 'string' },
    seed: { type: 'string' },
    'max-steps': { type: 'string' },
    interactive: { type: 'boolean' },
    engine: { type: 'string' },
    model: { type: 'string' },
    ...EMBEDDING_CACHE_FLAGS,
    edits: { type: 'string' },
    reuse: { type: 'string' },
  });
  const cache = embeddingCacheOptions(v);
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
  const placements = choices<Placement>(v, 'placements', ['fixed', 'nested', 'suggested']);
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
      ...cache,
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
    samMosaic: samMosaicOption(v),
    model: v.model as string | undefined,
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
