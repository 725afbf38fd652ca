/** `keyslice analyze` and `keyslice suggest`: the slice-similarity profile, and which slices to annotate next. */
import { analyzeFiles } from '../pipeline/analyze-files.js';
import { suggestFiles } from '../pipeline/suggest-files.js';
import { KeysliceError } from '../util/errors.js';
import { INPUT_FLAGS, inputFiles, need, parse } from './args.js';
import { parseRange, parseWindow } from './options.js';
import { ProgressReporter } from './progress.js';

export async function cmdAnalyze(args: string[]): Promise<void> {
  const v = parse(args, { ...INPUT_FLAGS, window: { type: 'string' }, out: { type: 'string' }, quiet: { type: 'boolean' } });
  const progress = new ProgressReporter(process.stderr, !!v.quiet);
  const { analysis, files, warnings } = await analyzeFiles({
    ...inputFiles(v),
    out: need(v, 'out'),
    window: typeof v.window === 'string' ? parseWindow(v.window) : undefined,
    onStage: (m) => progress.log(m),
  });
  for (const w of warnings) progress.log(`warning: ${w}`);
  const regions = [{ name: 'whole slices', p: analysis.whole }, ...analysis.labels.map((l) => ({ name: `label ${l.value}${l.name ? ` (${l.name})` : ''}`, p: l.profile }))];
  console.log(`${analysis.count} slices along axis ${analysis.sliceAxis}, ${analysis.sliceSpacingMm.toFixed(2)} mm apart; window ${analysis.window.low.toFixed(0)}..${analysis.window.high.toFixed(0)} (${analysis.window.kind})`);
  for (const { name, p } of regions) {
    const mean = p.pairs.length ? p.pairs.reduce((s, q) => s + q.ssim, 0) / p.pairs.length : 1;
    const runs = p.redundantRuns.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(', ') || 'none';
    const changes = p.changePoints.map((c) => `${c.slice}|${c.slice + 1}${c.reason === 'similarity-break' ? ' (break)' : ''}`).join(', ') || 'none';
    console.log(`${name}: mean neighbour SSIM ${mean.toFixed(3)}; ${p.redundantSlices} redundant slice(s): ${runs}; change points: ${changes}`);
  }
  console.log(`wrote ${files.join(', ')}`);
}

export async function cmdSuggest(args: string[]): Promise<void> {
  const v = parse(args, {
    ...INPUT_FLAGS,
    budget: { type: 'string' },
    engine: { type: 'string' },
    model: { type: 'string' },
    window: { type: 'string' },
    range: { type: 'string' },
    json: { type: 'boolean' },
    quiet: { type: 'boolean' },
  });
  const budget = v.budget === undefined ? 1 : Number(v.budget);
  if (!Number.isInteger(budget) || budget < 1) throw new KeysliceError('USAGE', `--budget must be a whole number >= 1, got "${String(v.budget)}"`);
  const progress = new ProgressReporter(process.stderr, !!v.quiet || !!v.json);
  const { result, warnings } = await suggestFiles({
    ...inputFiles(v),
    budget,
    engine: v.engine as string | undefined,
    model: v.model as string | undefined,
    window: typeof v.window === 'string' ? parseWindow(v.window) : undefined,
    range: typeof v.range === 'string' ? parseRange(v.range) : undefined,
    onStage: (m) => progress.log(m),
  });
  for (const w of warnings) progress.log(`warning: ${w}`);
  if (v.json) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  if (result.start) console.log(`start at slice ${result.start.slice}: ${result.start.detail}`);
  for (const l of result.labels) {
    console.log(`label ${l.value}${l.name ? ` (${l.name})` : ''}, key slices ${l.keySlices.join(', ')}:`);
    if (l.suggestions.length === 0) console.log('  nothing left to suggest: every slice of the object is a key slice');
    for (const s of l.suggestions) console.log(`  slice ${s.slice}  ${s.reason.padEnd(16)} ${s.detail}`);
  }
}
