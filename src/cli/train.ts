/** `keyslice train`: an adapter from the user's own scans. */
import type { LooMode } from '../training/loo.js';
import { trainFiles } from '../training/train-files.js';
import type { TrainProgress } from '../training/train.js';
import { KeysliceError } from '../util/errors.js';
import { choices, list, need, parse } from './args.js';
import { EMBEDDING_CACHE_FLAGS, embeddingCacheOptions } from './options.js';
import { ProgressReporter } from './progress.js';

/** A flag that must be a whole number >= 1 (undefined when absent). */
export function wholeNumber(v: Record<string, unknown>, name: string): number | undefined {
  if (v[name] === undefined) return undefined;
  const n = Number(v[name]);
  if (!Number.isInteger(n) || n < 1) throw new KeysliceError('USAGE', `--${name} must be a whole number >= 1, got "${String(v[name])}"`);
  return n;
}

/** Training progress on the progress line: step, mean loss, validation loss. */
export function trainProgress(progress: ProgressReporter): (p: TrainProgress) => void {
  return (p) => progress.update(p.step, p.maxSteps, `loss ${p.loss.toFixed(4)}${p.validationLoss === null ? '' : `, validation ${p.validationLoss.toFixed(4)}`}`);
}

export async function cmdTrain(args: string[]): Promise<void> {
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
    ...EMBEDDING_CACHE_FLAGS,
    quiet: { type: 'boolean' },
  });
  const cache = embeddingCacheOptions(v);
  const mode = choices<LooMode>(v, 'mode', ['self-supervised', 'supervised', 'residual']);
  if (mode && mode.length !== 1) throw new KeysliceError('USAGE', '--mode takes one of self-supervised, supervised, residual');
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
    ...cache,
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
