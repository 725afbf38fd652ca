/**
 * The per-study report of a batch: for each study its state, output file, engine, seconds, label volumes and,
 * when a truth label was given, Dice; checked against the files on disk. JSON or CSV.
 */
import { existsSync, promises as fsp } from 'node:fs';
import { Queue } from 'bullmq';
import { failureCode } from './classify.js';
import { checkRedis, DEFAULT_QUEUE, redisConnection, type BatchJobData, type StudyRecord } from './queue.js';
import { jobsIn, type BatchJob } from './status.js';

export interface ReportRow {
  study: string;
  jobId: string;
  state: 'completed' | 'failed' | 'pending';
  output: string;
  /** The output file and its record (naming this job) are on disk. */
  onDisk: boolean;
  engine: string;
  seconds: number | null;
  reused: boolean;
  /** mL per label value. */
  volumesMl: Record<string, number>;
  /** Dice per label value (only with a truth label). */
  dice?: Record<string, number>;
  error?: string;
  errorCode?: string;
  attempts: number;
}

async function recordOnDisk(job: BatchJob): Promise<boolean> {
  if (!existsSync(job.data.output)) return false;
  try {
    return (JSON.parse(await fsp.readFile(job.data.record, 'utf8')) as StudyRecord).jobId === job.id;
  } catch {
    return false;
  }
}

export async function reportRow(job: BatchJob, state: ReportRow['state']): Promise<ReportRow> {
  const r = state === 'completed' ? job.returnvalue : undefined;
  const code = state === 'failed' ? failureCode(job.failedReason) : undefined;
  return {
    study: job.data.study.id,
    jobId: job.id as string,
    state,
    output: job.data.output,
    onDisk: await recordOnDisk(job),
    engine: r?.engine ?? job.data.engine,
    seconds: r ? r.seconds : null,
    reused: r?.reused ?? false,
    volumesMl: Object.fromEntries((r?.labels ?? []).map((l) => [String(l.value), l.volumeMl])),
    ...(r?.dice ? { dice: r.dice } : {}),
    ...(state === 'failed' ? { error: job.failedReason } : {}),
    ...(code ? { errorCode: code } : {}),
    attempts: job.attemptsMade,
  };
}

export async function batchReport(redis: string, queueName = DEFAULT_QUEUE): Promise<ReportRow[]> {
  await checkRedis(redis);
  const queue = new Queue<BatchJobData, StudyRecord>(queueName, { connection: redisConnection(redis) });
  try {
    const [completed, failed, pending] = await Promise.all([
      jobsIn(queue, ['completed']),
      jobsIn(queue, ['failed']),
      jobsIn(queue, ['active', 'waiting', 'delayed', 'prioritized', 'paused']),
    ]);
    const rows = [
      ...(await Promise.all(completed.map((j) => reportRow(j, 'completed')))),
      ...(await Promise.all(failed.map((j) => reportRow(j, 'failed')))),
      ...(await Promise.all(pending.map((j) => reportRow(j, 'pending')))),
    ];
    return rows.sort((a, b) => a.study.localeCompare(b.study) || a.jobId.localeCompare(b.jobId));
  } finally {
    await queue.close();
  }
}

function csvCell(x: string | number | boolean | null | undefined): string {
  const s = x === null || x === undefined ? '' : String(x);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** CSV with one row per study; volumes and Dice as `value:number` lists separated by spaces. */
export function reportCsv(rows: ReportRow[]): string {
  const pairs = (m: Record<string, number> | undefined, d: number) =>
    m ? Object.entries(m).map(([k, v]) => `${k}:${v.toFixed(d)}`).join(' ') : '';
  const head = ['study', 'job_id', 'state', 'output', 'on_disk', 'engine', 'seconds', 'reused', 'volumes_ml', 'dice', 'error_code', 'error', 'attempts'];
  const lines = rows.map((r) =>
    [r.study, r.jobId, r.state, r.output, r.onDisk, r.engine, r.seconds === null ? null : r.seconds.toFixed(3), r.reused,
      pairs(r.volumesMl, 3), pairs(r.dice, 4), r.errorCode, r.error, r.attempts].map(csvCell).join(','),
  );
  return `${[head.join(','), ...lines].join('\n')}\n`;
}
