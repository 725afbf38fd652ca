/** `keyslice batch submit|worker|status|report`: many studies through a Redis-backed job queue. */
import { DEFAULT_QUEUE, DEFAULT_REDIS_URL } from '../batch/queue.js';
import { batchReport, reportCsv } from '../batch/report.js';
import { batchStatus, statusText } from '../batch/status.js';
import { studiesFromFolder, studiesFromManifest } from '../batch/study.js';
import { submitBatch } from '../batch/submit.js';
import { runWorker } from '../batch/worker.js';
import { KeysliceError } from '../util/errors.js';
import { writeTextAtomic } from '../volume/io-node.js';
import { parse, USAGE, VERSION, type Values } from './args.js';
import { parsePost, parseWindow } from './options.js';
import { ProgressReporter } from './progress.js';

const QUEUE_FLAGS = { redis: { type: 'string' }, queue: { type: 'string' } } as const;

function queueOf(v: Values): { redis: string; queue: string } {
  return { redis: (v.redis as string | undefined) ?? DEFAULT_REDIS_URL, queue: (v.queue as string | undefined) ?? DEFAULT_QUEUE };
}

function numberFlag(v: Values, name: string): number | undefined {
  const x = v[name];
  if (x === undefined) return undefined;
  const n = Number(x);
  if (!Number.isFinite(n)) throw new KeysliceError('USAGE', `--${name} must be a number, got "${String(x)}"`);
  return n;
}

async function batchSubmit(args: string[]): Promise<void> {
  const v = parse(args, {
    ...QUEUE_FLAGS,
    manifest: { type: 'string' },
    folder: { type: 'string' },
    out: { type: 'string' },
    engine: { type: 'string' },
    model: { type: 'string' },
    window: { type: 'string' },
    post: { type: 'string' },
    attempts: { type: 'string' },
    backoff: { type: 'string' },
    'retry-failed': { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if ((v.manifest === undefined) === (v.folder === undefined)) {
    throw new KeysliceError('USAGE', `batch submit needs --manifest M or --folder DIR (one of them)\n\n${USAGE}`);
  }
  if (typeof v.out !== 'string' || v.out === '') throw new KeysliceError('USAGE', `batch submit needs --out DIR\n\n${USAGE}`);
  if (typeof v.window === 'string') parseWindow(v.window);
  if (typeof v.post === 'string') parsePost(v.post);
  const studies = typeof v.manifest === 'string' ? await studiesFromManifest(v.manifest) : await studiesFromFolder(v.folder as string);
  const progress = new ProgressReporter(process.stderr, !!v.json);
  const res = await submitBatch({
    ...queueOf(v),
    studies,
    out: v.out,
    engine: v.engine as string | undefined,
    model: v.model as string | undefined,
    window: v.window as string | undefined,
    post: v.post as string | undefined,
    attempts: numberFlag(v, 'attempts'),
    backoffMs: numberFlag(v, 'backoff'),
    retryFailed: !!v['retry-failed'],
    version: VERSION,
    onHashed: (done, total) => progress.update(done, total, 'hashing inputs'),
  });
  if (v.json) {
    console.log(JSON.stringify(res, null, 2));
    return;
  }
  console.log(`${studies.length} studies: ${res.added} added, ${res.present} already in the queue${res.retried ? `, ${res.retried} failed ones queued again` : ''}`);
}

async function batchWorker(args: string[]): Promise<void> {
  const v = parse(args, {
    ...QUEUE_FLAGS,
    concurrency: { type: 'string' },
    'lock-duration': { type: 'string' },
    'stalled-interval': { type: 'string' },
    'max-stalled': { type: 'string' },
    'until-empty': { type: 'boolean' },
    name: { type: 'string' },
    quiet: { type: 'boolean' },
  });
  const progress = new ProgressReporter(process.stderr, !!v.quiet);
  const s = await runWorker({
    ...queueOf(v),
    concurrency: numberFlag(v, 'concurrency'),
    lockDurationMs: numberFlag(v, 'lock-duration'),
    stalledIntervalMs: numberFlag(v, 'stalled-interval'),
    maxStalledCount: numberFlag(v, 'max-stalled'),
    untilEmpty: !!v['until-empty'],
    name: v.name as string | undefined,
    onLog: (line) => progress.log(line),
  });
  console.log(`worker stopped: ${s.completed} done (${s.reused} already written), ${s.failed} failed, in ${s.seconds.toFixed(1)} s`);
}

async function batchStatusCmd(args: string[]): Promise<void> {
  const v = parse(args, { ...QUEUE_FLAGS, json: { type: 'boolean' } });
  const { redis, queue } = queueOf(v);
  const st = await batchStatus(redis, queue);
  console.log(v.json ? JSON.stringify(st, null, 2) : statusText(st));
}

async function batchReportCmd(args: string[]): Promise<void> {
  const v = parse(args, { ...QUEUE_FLAGS, format: { type: 'string' }, out: { type: 'string' } });
  const format = (v.format as string | undefined) ?? (typeof v.out === 'string' && v.out.endsWith('.csv') ? 'csv' : 'json');
  if (format !== 'json' && format !== 'csv') throw new KeysliceError('USAGE', `--format must be json or csv, got "${format}"`);
  const { redis, queue } = queueOf(v);
  const rows = await batchReport(redis, queue);
  const text = format === 'csv' ? reportCsv(rows) : `${JSON.stringify(rows, null, 2)}\n`;
  if (typeof v.out === 'string') {
    await writeTextAtomic(v.out, text);
    console.log(`wrote ${v.out} (${rows.length} studies)`);
  } else {
    process.stdout.write(text);
  }
}

const SUBCOMMANDS: Record<string, (args: string[]) => Promise<void>> = {
  submit: batchSubmit,
  worker: batchWorker,
  status: batchStatusCmd,
  report: batchReportCmd,
};

export async function cmdBatch(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  const run = sub === undefined ? undefined : SUBCOMMANDS[sub];
  if (!run) throw new KeysliceError('USAGE', `batch needs one of ${Object.keys(SUBCOMMANDS).join(', ')}${sub ? `, got "${sub}"` : ''}\n\n${USAGE}`);
  await run(rest);
}
