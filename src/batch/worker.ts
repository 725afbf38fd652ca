/**
 * A batch worker: takes studies off the queue and runs each in a sandboxed child process (see processor.ts),
 * `concurrency` at a time. Locks on running jobs are renewed from this process; when a worker dies, its jobs'
 * locks expire and another worker's stalled-job check puts them back in the queue.
 */
import * as os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Queue, Worker, type Job } from 'bullmq';
import { KeysliceError } from '../util/errors.js';
import { DEFAULT_QUEUE, redisConnection, type BatchJobData, type StudyRecord } from './queue.js';

export interface WorkerOptions {
  redis: string;
  queue?: string;
  /** Studies run at once, each in its own process (default 1). */
  concurrency?: number;
  /** How long a running job's lock lasts without renewal, ms (default 30000). */
  lockDurationMs?: number;
  /** How often this worker looks for jobs whose worker died, ms (default 30000). */
  stalledIntervalMs?: number;
  /** Times a job may be recovered from a dead worker before it fails (default 2). */
  maxStalledCount?: number;
  /** Stop once the queue holds nothing waiting, delayed or running (default: run until SIGINT/SIGTERM). */
  untilEmpty?: boolean;
  /** Worker name recorded on the jobs it processes (default host:pid). */
  name?: string;
  /** Hears one line per event (job done, failed, recovered). */
  onLog?: (line: string) => void;
}

export interface WorkerSummary {
  completed: number;
  reused: number;
  failed: number;
  seconds: number;
}

export const PROCESSOR_FILE = fileURLToPath(new URL('./processor.js', import.meta.url));

function positiveInt(x: number | undefined, name: string, dflt: number): number {
  if (x === undefined) return dflt;
  if (!Number.isInteger(x) || x < 1) throw new KeysliceError('USAGE', `${name} must be a whole number >= 1, got ${x}`);
  return x;
}

/** Runs a worker until it is told to stop (or, with `untilEmpty`, until the queue is done). */
export async function runWorker(opts: WorkerOptions): Promise<WorkerSummary> {
  const log = opts.onLog ?? (() => {});
  const concurrency = positiveInt(opts.concurrency, '--concurrency', 1);
  const lockDuration = positiveInt(opts.lockDurationMs, '--lock-duration', 30000);
  const stalledInterval = positiveInt(opts.stalledIntervalMs, '--stalled-interval', 30000);
  const maxStalledCount = positiveInt(opts.maxStalledCount, '--max-stalled', 2);
  const name = opts.name ?? `${os.hostname()}:${process.pid}`;
  const queueName = opts.queue ?? DEFAULT_QUEUE;
  const connection = redisConnection(opts.redis);
  const t0 = performance.now();
  const summary: WorkerSummary = { completed: 0, reused: 0, failed: 0, seconds: 0 };
  const worker = new Worker<BatchJobData, StudyRecord>(queueName, PROCESSOR_FILE, {
    connection,
    concurrency,
    lockDuration,
    stalledInterval,
    maxStalledCount,
    name,
    useWorkerThreads: false,
  });
  const closed = new Promise<void>((resolve) => worker.once('closed', () => resolve()));
  worker.on('completed', (job: Job<BatchJobData, StudyRecord>, r: StudyRecord) => {
    summary.completed++;
    if (r.reused) summary.reused++;
    log(`done ${job.data.study.id} -> ${r.output} (${r.reused ? 'already written' : `${r.seconds.toFixed(2)} s`})`);
  });
  worker.on('failed', (job: Job<BatchJobData, StudyRecord> | undefined, err: Error) => {
    if (!job) return;
    const final = job.finishedOn !== undefined;
    if (final) summary.failed++;
    log(`${final ? 'failed' : 'will retry'} ${job.data.study.id} (attempt ${job.attemptsMade}): ${err.message}`);
  });
  worker.on('stalled', (jobId: string) => log(`recovered job ${jobId} from a worker that stopped`));
  worker.on('error', (err: Error) => log(`queue error: ${err.message}`));

  let stopping = false;
  const stop = async (force = false) => {
    if (stopping && !force) return;
    stopping = true;
    await worker.close(force);
  };
  const onSignal = () => {
    log(stopping ? 'stopping now' : 'stopping after the running studies (signal again to stop now)');
    void stop(stopping);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let poll: NodeJS.Timeout | undefined;
  const probe = opts.untilEmpty ? new Queue(queueName, { connection }) : undefined;
  if (probe) {
    poll = setInterval(async () => {
      try {
        const c = await probe.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'paused');
        if (Object.values(c).every((n) => n === 0)) await stop();
      } catch {
        // Redis briefly away: try again on the next tick.
      }
    }, 500);
  }
  try {
    await worker.waitUntilReady();
    log(`worker ${name}: ${concurrency} at a time on queue ${queueName}`);
    await closed;
  } finally {
    if (poll) clearInterval(poll);
    await probe?.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  summary.seconds = (performance.now() - t0) / 1000;
  return summary;
}
