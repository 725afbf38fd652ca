/** What a batch queue holds: counts by state, named failures, studies running, throughput and time to go. */
import { Queue, type Job } from 'bullmq';
import { failureCode } from './classify.js';
import { checkRedis, DEFAULT_QUEUE, redisConnection, type BatchJobData, type StudyRecord } from './queue.js';

export type BatchJob = Job<BatchJobData, StudyRecord>;

export interface BatchFailure {
  study: string;
  jobId: string;
  /** keyslice's error code when the failure is one of its errors (e.g. FILE_UNREADABLE). */
  code?: string;
  reason: string;
  attempts: number;
}

export interface BatchStatus {
  counts: { waiting: number; delayed: number; active: number; completed: number; failed: number };
  total: number;
  /** Completed by finding the output already written for the same job id. */
  reused: number;
  running: { study: string; progress: number; worker?: string }[];
  failures: BatchFailure[];
  /** Studies finished per minute between the first start and the last finish (null before two are done). */
  perMinute: number | null;
  /** Seconds until the rest is done at that rate (null when unknown, 0 when nothing is left). */
  etaSeconds: number | null;
}

/** Every job of the queue in the given states. */
export async function jobsIn(queue: Queue<BatchJobData, StudyRecord>, states: ('completed' | 'failed' | 'active' | 'waiting' | 'delayed' | 'prioritized' | 'paused')[]): Promise<BatchJob[]> {
  const out: BatchJob[] = [];
  const page = 1000;
  for (let start = 0; ; start += page) {
    const got = (await queue.getJobs(states, start, start + page - 1, true)).filter((j): j is BatchJob => !!j);
    out.push(...got);
    if (got.length < page) return out;
  }
}

/** The status from the jobs themselves (pure; see {@link batchStatus}). */
export function summarize(counts: BatchStatus['counts'], completed: BatchJob[], failed: BatchJob[], active: BatchJob[]): BatchStatus {
  const starts = completed.map((j) => j.processedOn ?? j.timestamp);
  const ends = completed.map((j) => j.finishedOn ?? 0);
  const span = completed.length ? (Math.max(...ends) - Math.min(...starts)) / 1000 : 0;
  const perMinute = completed.length >= 2 && span > 0 ? (completed.length / span) * 60 : null;
  const left = counts.waiting + counts.delayed + counts.active;
  return {
    counts,
    total: counts.waiting + counts.delayed + counts.active + counts.completed + counts.failed,
    reused: completed.filter((j) => j.returnvalue?.reused).length,
    running: active.map((j) => ({
      study: j.data.study.id,
      progress: typeof j.progress === 'number' ? j.progress : 0,
      ...(j.processedBy ? { worker: j.processedBy } : {}),
    })),
    failures: failed.map((j) => ({
      study: j.data.study.id,
      jobId: j.id as string,
      ...(failureCode(j.failedReason) ? { code: failureCode(j.failedReason) } : {}),
      reason: j.failedReason,
      attempts: j.attemptsMade,
    })),
    perMinute,
    etaSeconds: left === 0 ? 0 : perMinute ? (left / perMinute) * 60 : null,
  };
}

export async function batchStatus(redis: string, queueName = DEFAULT_QUEUE): Promise<BatchStatus> {
  await checkRedis(redis);
  const queue = new Queue<BatchJobData, StudyRecord>(queueName, { connection: redisConnection(redis) });
  try {
    const c = await queue.getJobCounts('waiting', 'prioritized', 'paused', 'delayed', 'active', 'completed', 'failed');
    const counts = {
      waiting: c.waiting + c.prioritized + c.paused,
      delayed: c.delayed,
      active: c.active,
      completed: c.completed,
      failed: c.failed,
    };
    const [completed, failed, active] = await Promise.all([jobsIn(queue, ['completed']), jobsIn(queue, ['failed']), jobsIn(queue, ['active'])]);
    return summarize(counts, completed, failed, active);
  } finally {
    await queue.close();
  }
}

function duration(s: number): string {
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

/** The status as lines of text. */
export function statusText(st: BatchStatus): string {
  const c = st.counts;
  const lines = [
    `${st.total} studies: ${c.completed} done${st.reused ? ` (${st.reused} found already written)` : ''}, ${c.active} running, ` +
      `${c.waiting} waiting, ${c.delayed} waiting to retry, ${c.failed} failed`,
    `throughput: ${st.perMinute === null ? 'not known yet' : `${st.perMinute.toFixed(1)} studies/min`}; ` +
      `ETA: ${st.etaSeconds === null ? 'not known yet' : st.etaSeconds === 0 ? 'nothing left' : duration(st.etaSeconds)}`,
  ];
  for (const r of st.running) lines.push(`  running ${r.study}: ${r.progress}%${r.worker ? ` on ${r.worker}` : ''}`);
  for (const f of st.failures) lines.push(`  failed ${f.study} after ${f.attempts} attempt(s): ${f.reason}`);
  return lines.join('\n');
}
