/**
 * Submitting a batch: hash each study's inputs into its job id, and add to the queue only the jobs it does not
 * hold yet. Submitting the same studies again adds nothing; a study whose inputs changed is a new job.
 */
import * as path from 'node:path';
import { Queue } from 'bullmq';
import { allEngineNames } from '../pipeline/engines-node.js';
import { DEFAULT_ENGINE } from '../pipeline/segment.js';
import { KeysliceError } from '../util/errors.js';
import { ensureOutputDir } from '../volume/io-node.js';
import { hashFile, jobId } from './job-id.js';
import { checkRedis, DEFAULT_QUEUE, redisConnection, type BatchJobData } from './queue.js';
import type { Study } from './study.js';

export interface SubmitOptions {
  studies: Study[];
  /** Output folder (created if missing): `<study id>.nii.gz` and `<study id>.json` per study. */
  out: string;
  /** Engine (default classic) and its model folder. */
  engine?: string;
  model?: string;
  /** `--window` and `--post` values of `keyslice segment`, for every study. */
  window?: string;
  post?: string;
  redis: string;
  queue?: string;
  /** keyslice's version, part of every job id. */
  version: string;
  /** Attempts per study for failures worth retrying (default 3), first backoff in ms (default 10000, doubling). */
  attempts?: number;
  backoffMs?: number;
  /** Retry jobs of these studies that failed before (default: leave them failed). */
  retryFailed?: boolean;
  /** Hears how many studies are hashed so far. */
  onHashed?: (done: number, total: number) => void;
}

export interface SubmittedJob {
  study: string;
  jobId: string;
  /** 'added', 'present' (already queued, running or done), or 'retried' (failed before, queued again). */
  status: 'added' | 'present' | 'retried';
}

export interface SubmitResult {
  jobs: SubmittedJob[];
  added: number;
  present: number;
  retried: number;
}

/** Runs `fn` over `items` with at most `limit` at a time, keeping their order. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (x: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const run = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
  return out;
}

/** The job of one study: its data and its id. */
export async function studyJob(study: Study, opts: Omit<SubmitOptions, 'studies' | 'redis'>): Promise<{ id: string; data: BatchJobData }> {
  const out = path.resolve(opts.out);
  const engine = opts.engine ?? DEFAULT_ENGINE;
  const data: BatchJobData = {
    study,
    output: path.join(out, `${study.id}.nii.gz`),
    record: path.join(out, `${study.id}.json`),
    engine,
    ...(opts.model !== undefined ? { model: path.resolve(opts.model) } : {}),
    ...(opts.window !== undefined ? { window: opts.window } : {}),
    ...(opts.post !== undefined ? { post: opts.post } : {}),
    version: opts.version,
    submittedAt: Date.now(),
  };
  const inputs: Record<string, string> = {};
  for (const role of ['image', 'annotations', 'prompts', 'truth'] as const) {
    const f = study[role];
    if (f) inputs[role] = await hashFile(f);
  }
  const options = {
    keySlices: study.keySlices,
    labels: study.labels,
    window: opts.window ?? study.window,
    post: opts.post,
    model: data.model,
    output: data.output,
  };
  return { id: jobId({ inputs, engine, options, version: opts.version }), data };
}

export async function submitBatch(opts: SubmitOptions): Promise<SubmitResult> {
  const engine = opts.engine ?? DEFAULT_ENGINE;
  if (!allEngineNames().includes(engine)) throw new KeysliceError('USAGE', `unknown engine "${engine}" (available: ${allEngineNames().join(', ')})`);
  const attempts = opts.attempts ?? 3;
  const backoffMs = opts.backoffMs ?? 10000;
  if (!Number.isInteger(attempts) || attempts < 1) throw new KeysliceError('USAGE', `--attempts must be a whole number >= 1, got ${attempts}`);
  if (!Number.isFinite(backoffMs) || backoffMs < 0) throw new KeysliceError('USAGE', `--backoff must be milliseconds >= 0, got ${backoffMs}`);
  await checkRedis(opts.redis);
  await ensureOutputDir(opts.out);
  let hashed = 0;
  const jobs = await mapLimit(opts.studies, 4, async (s) => {
    const j = await studyJob(s, opts);
    opts.onHashed?.(++hashed, opts.studies.length);
    return j;
  });
  const queue = new Queue<BatchJobData>(opts.queue ?? DEFAULT_QUEUE, { connection: redisConnection(opts.redis) });
  try {
    const states = await mapLimit(jobs, 32, (j) => queue.getJobState(j.id));
    const fresh = jobs.filter((_, i) => states[i] === 'unknown');
    for (let i = 0; i < fresh.length; i += 500) {
      await queue.addBulk(
        fresh.slice(i, i + 500).map((j) => ({
          name: j.data.study.id,
          data: j.data,
          opts: {
            jobId: j.id,
            attempts,
            backoff: { type: 'exponential', delay: backoffMs },
            removeOnComplete: false,
            removeOnFail: false,
          },
        })),
      );
    }
    const out: SubmittedJob[] = [];
    for (const [i, j] of jobs.entries()) {
      let status: SubmittedJob['status'] = states[i] === 'unknown' ? 'added' : 'present';
      if (states[i] === 'failed' && opts.retryFailed) {
        const job = await queue.getJob(j.id);
        if (job) {
          await job.retry('failed');
          status = 'retried';
        }
      }
      out.push({ study: j.data.study.id, jobId: j.id, status });
    }
    return {
      jobs: out,
      added: out.filter((j) => j.status === 'added').length,
      present: out.filter((j) => j.status === 'present').length,
      retried: out.filter((j) => j.status === 'retried').length,
    };
  } finally {
    await queue.close();
  }
}
