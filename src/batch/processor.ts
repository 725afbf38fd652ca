/**
 * The sandboxed processor: BullMQ runs this file in a separate process per busy worker slot, so a study that
 * crashes or exhausts memory takes down only this process; the worker marks the attempt failed and goes on.
 */
import { UnrecoverableError, type SandboxedJob } from 'bullmq';
import { classifyFailure } from './classify.js';
import type { BatchJobData, StudyRecord } from './queue.js';
import { runStudy } from './run-study.js';

// If the worker process dies (SIGKILL, machine lost), this process must not finish the study on its own: the
// job will be picked up again once its lock expires. Leaving when the IPC channel closes makes sure of it.
process.once('disconnect', () => process.exit(1));

export default async function processStudy(job: SandboxedJob<BatchJobData, StudyRecord>): Promise<StudyRecord> {
  let last = -1;
  try {
    return await runStudy(job.id as string, job.data, (f) => {
      const pct = Math.round(f * 100);
      if (pct !== last) {
        last = pct;
        void job.updateProgress(pct);
      }
    });
  } catch (err) {
    const c = classifyFailure(err);
    if (c.permanent) {
      const e = new UnrecoverableError(c.message);
      throw Object.assign(e, { code: c.code });
    }
    throw Object.assign(new Error(c.message), c.code ? { code: c.code } : {});
  }
}
