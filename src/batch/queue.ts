/** The batch queue's name, Redis connection options and job data shared by submit, worker, status and report. */
import type { ConnectionOptions } from 'bullmq';
import { KeysliceError } from '../util/errors.js';
import type { Study } from './study.js';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_QUEUE = 'keyslice-batch';

/** What a worker needs to run one study. */
export interface BatchJobData {
  study: Study;
  /** Absolute paths of the outputs: the label volume and its JSON record. */
  output: string;
  record: string;
  engine: string;
  /** Model folder for the model engines (default: the built-in model). */
  model?: string;
  window?: string;
  post?: string;
  version: string;
  /** When the batch was submitted (ms since the epoch). */
  submittedAt: number;
}

/** The record a worker writes beside each output, and the job's return value. */
export interface StudyRecord {
  jobId: string;
  study: string;
  output: string;
  engine: string;
  /** Seconds the segmentation took when it was computed (not when it was found done). */
  seconds: number;
  /** Per label: value, name, voxels, mL; Dice when a truth label was given. */
  labels: { value: number; name?: string; voxels: number; volumeMl: number; dice?: number }[];
  /** Dice per scored label value (present only with a truth label). */
  dice?: Record<string, number>;
  warnings: string[];
  /** True when the output was already written for this job id and was not recomputed. */
  reused: boolean;
  finishedAt: string;
  keysliceVersion: string;
}

/** ioredis options from a `redis://[user:password@]host[:port][/db]` URL. */
export function redisConnection(url: string): ConnectionOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new KeysliceError('USAGE', `--redis must be a URL such as ${DEFAULT_REDIS_URL}, got "${url}"`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new KeysliceError('USAGE', `--redis must be a redis:// or rediss:// URL, got "${url}"`);
  }
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new KeysliceError('USAGE', `--redis: database must be a number, got "${u.pathname.slice(1)}"`);
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    db,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    // BullMQ workers block on Redis; this keeps them waiting through a Redis restart instead of failing.
    maxRetriesPerRequest: null,
  };
}

/**
 * Pings the Redis server once, so that a command that only talks to the queue (submit, status, report) fails
 * with a clear error instead of waiting forever for a server that is not there.
 */
export async function checkRedis(url: string): Promise<void> {
  const { Redis } = await import('ioredis');
  const conn = redisConnection(url) as Record<string, unknown>;
  const client = new Redis({ ...conn, lazyConnect: true, connectTimeout: 5000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  let cause: Error | undefined;
  client.on('error', (err: Error) => (cause ??= err));
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    const why = (cause ?? (err as Error)).message;
    throw new KeysliceError('QUEUE_UNAVAILABLE', `cannot reach Redis (${why}); start redis-server or pass --redis URL`, url);
  } finally {
    client.disconnect();
  }
}
