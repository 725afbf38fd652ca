import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { Queue } from 'bullmq';
import { diceByLabel } from '../src/batch/dice.js';
import { redisConnection, type StudyRecord } from '../src/batch/queue.js';
import type { ReportRow } from '../src/batch/report.js';
import type { BatchStatus } from '../src/batch/status.js';
import { segmentFiles } from '../src/pipeline/segment-files.js';
import { readLabelVolume } from '../src/volume/io-node.js';
import { gridDifference, SliceGeometry } from '../src/volume/volume.js';
import { copyStudies, writePhantomStudies, type PhantomStudy } from './helpers/batch-studies.js';
import { CLI, tempDir, runCli } from './helpers/paths.js';
import { redisSkip, startRedis, type TestRedis } from './helpers/redis.js';

const skip = redisSkip();
const children = new Set<ChildProcess>();
// Time limits below guard against a hang, not for speed: on an idle 2-core machine the whole file takes well under
// a minute of CPU, while a machine shared with other work can take minutes.

/**
 * Fast lock expiry and stalled-job checks, so that a dead worker's job comes back within seconds (the worker
 * that takes it over keeps the default lock, so that a busy machine cannot make its own job look stalled).
 */
const FAST_STALL = ['--lock-duration', '2000', '--stalled-interval', '1000'];

const cli = (args: string[]) => runCli(args, { timeout: 180000 });

function startWorker(args: string[]): { proc: ChildProcess; log: () => string; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, [CLI, 'batch', 'worker', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  let log = '';
  proc.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => {
    children.delete(proc);
    resolve(code);
  }));
  return { proc, log: () => log, exited };
}

async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not done in ${ms} ms`)), ms)));
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

/** Process ids whose parent is `pid` (Linux /proc; empty elsewhere). */
function childPids(pid: number): number[] {
  if (!existsSync('/proc')) return [];
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Files a killed write could have left: temporaries beside the outputs. */
function temporaries(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.includes('.tmp-'));
}

describe('keyslice batch on a real redis-server', { skip }, () => {
  const tmp = tempDir('keyslice-batch-');
  let redis: TestRedis;
  let templates: PhantomStudy[] = [];
  let studies: (PhantomStudy & { template: PhantomStudy })[] = [];
  /** The output of `segmentFiles` for each template, by template id. */
  const expected = new Map<string, string>();
  const studiesDir = path.join(tmp.dir, 'studies');
  const out = path.join(tmp.dir, 'out');

  before(async () => {
    redis = await startRedis();
    templates = await writePhantomStudies(path.join(tmp.dir, 'templates'), 10, [40, 40, 10]);
    studies = copyStudies(studiesDir, 100, templates);
    mkdirSync(path.join(tmp.dir, 'expected'));
    for (const t of templates) {
      const file = path.join(tmp.dir, 'expected', `${t.id}.nii.gz`);
      await segmentFiles({ image: path.join(t.dir, 'image.nii.gz'), annotations: path.join(t.dir, 'annotations.nii.gz'), keySlices: t.keySlices, out: file });
      expected.set(t.id, file);
    }
  });

  it('segments the generated studies well (the reference the batch outputs are compared with)', async () => {
    for (const t of templates) {
      const [pred, truth, sparse] = await Promise.all([
        readLabelVolume(expected.get(t.id) as string),
        readLabelVolume(path.join(t.dir, 'truth.nii.gz')),
        readLabelVolume(path.join(t.dir, 'annotations.nii.gz')),
      ]);
      assert.equal(gridDifference(truth, pred), null, t.id);
      const sg = new SliceGeometry(pred, 2);
      for (const k of t.keySlices) {
        assert.deepEqual(sg.extract(pred.data, k, new Uint8Array(sg.area)), sg.extract(sparse.data, k, new Uint8Array(sg.area)), `${t.id} key slice ${k}`);
      }
      assert.ok(diceByLabel(pred.data, truth.data, [1])['1'] > 0.7, `${t.id}: organ Dice`);
    }
  });
  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    await redis?.cleanup();
    tmp.cleanup();
  });

  it('runs 100 studies on 2 worker processes to the outputs of keyslice segment; a second submit adds nothing', { timeout: 900000 }, async () => {
    const sub = cli(['batch', 'submit', '--folder', studiesDir, '--out', out, '--redis', redis.url, '--json']);
    assert.equal(sub.code, 0, sub.stderr);
    assert.equal(JSON.parse(sub.stdout).added, 100);
    const again = cli(['batch', 'submit', '--folder', studiesDir, '--out', out, '--redis', redis.url, '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual([JSON.parse(again.stdout).added, JSON.parse(again.stdout).present], [0, 100]);

    const workers = ['w1', 'w2'].map((name) => startWorker(['--redis', redis.url, '--until-empty', '--name', name]));
    const codes = await within(Promise.all(workers.map((w) => w.exited)), 600000, 'two workers');
    assert.deepEqual(codes, [0, 0], workers.map((w) => w.log()).join('\n'));

    const queue = new Queue('keyslice-batch', { connection: redisConnection(redis.url) });
    try {
      const done = await queue.getJobs(['completed'], 0, -1);
      assert.equal(done.length, 100);
      assert.deepEqual([...new Set(done.map((j) => j.processedBy))].sort(), ['w1', 'w2'], 'both workers took studies');
      assert.equal(await queue.count(), 0);
    } finally {
      await queue.close();
    }
    assert.deepEqual(temporaries(out), []);
    // Each output is, byte for byte, what `segment` writes for the same inputs in one process.
    for (const s of studies) {
      assert.ok(readFileSync(path.join(out, `${s.id}.nii.gz`)).equals(readFileSync(expected.get(s.template.id) as string)), s.id);
    }
  });

  it('reports status and a per-study report that match the files on disk', { timeout: 180000 }, async () => {
    const st = cli(['batch', 'status', '--redis', redis.url, '--json']);
    assert.equal(st.code, 0, st.stderr);
    const status = JSON.parse(st.stdout) as BatchStatus;
    const outputs = readdirSync(out).filter((n) => n.endsWith('.nii.gz'));
    assert.equal(status.counts.completed, outputs.length);
    assert.deepEqual([status.counts.failed, status.counts.waiting, status.counts.active, status.etaSeconds], [0, 0, 0, 0]);
    assert.ok(status.perMinute !== null && status.perMinute > 0);

    const csvFile = path.join(tmp.dir, 'report.csv');
    const rep = cli(['batch', 'report', '--redis', redis.url, '--out', csvFile]);
    assert.equal(rep.code, 0, rep.stderr);
    const csv = readFileSync(csvFile, 'utf8').trim().split('\n');
    assert.equal(csv.length, 101);
    assert.match(csv[0], /^study,job_id,state,output,on_disk,engine,seconds,reused,volumes_ml,dice/);

    const json = cli(['batch', 'report', '--redis', redis.url, '--format', 'json']);
    const rows = JSON.parse(json.stdout) as ReportRow[];
    assert.deepEqual(rows.map((r) => path.basename(r.output)).sort(), outputs.sort());
    assert.equal(rows.filter((r) => r.dice).length, 10, 'Dice for the studies given a truth label, only');
    for (const r of rows.filter((_, i) => i % 7 === 0 || i < 10)) {
      assert.equal(r.state, 'completed');
      assert.equal(r.onDisk, true);
      assert.equal(r.engine, 'classic');
      const record = JSON.parse(readFileSync(path.join(out, `${r.study}.json`), 'utf8')) as StudyRecord;
      assert.equal(record.jobId, r.jobId);
      const pred = await readLabelVolume(r.output);
      const voxelMl = (pred.spacing[0] * pred.spacing[1] * pred.spacing[2]) / 1000;
      for (const [v, ml] of Object.entries(r.volumesMl)) {
        let n = 0;
        for (let i = 0; i < pred.data.length; i++) if (pred.data[i] === Number(v)) n++;
        assert.ok(Math.abs(ml - n * voxelMl) < 1e-9, `${r.study} label ${v} volume`);
      }
      assert.ok(Object.keys(r.volumesMl).length > 0);
      const truthFile = path.join(studiesDir, r.study, 'truth.nii.gz');
      assert.equal(r.dice !== undefined, existsSync(truthFile));
      if (!r.dice) continue;
      const truth = await readLabelVolume(truthFile);
      const dice = diceByLabel(pred.data, truth.data);
      for (const [v, d] of Object.entries(r.dice ?? {})) assert.ok(Math.abs(d - dice[v]) < 1e-12, `${r.study} label ${v} Dice`);
      assert.ok(Object.keys(r.dice).length > 0);
    }
  });

  it('finds outputs already written for the same job id (same studies through a manifest) and does not recompute them', { timeout: 180000 }, async () => {
    const some = studies.slice(0, 5);
    const manifest = path.join(tmp.dir, 'keyslice-dataset.json');
    writeFileSync(manifest, JSON.stringify({
      name: 'phantoms', modality: 'CT',
      cases: some.map((s) => ({ id: s.id, image: `studies/${s.id}/image.nii.gz`, annotations: `studies/${s.id}/annotations.nii.gz`,
        keySlices: s.keySlices, label: `studies/${s.id}/truth.nii.gz` })),
    }));
    const before = some.map((s) => statSync(path.join(out, `${s.id}.nii.gz`)).mtimeMs);
    // Same job ids as the folder submit: the queue already holds them.
    const same = cli(['batch', 'submit', '--manifest', manifest, '--out', out, '--redis', redis.url, '--json']);
    assert.equal(same.code, 0, same.stderr);
    assert.equal(JSON.parse(same.stdout).added, 0);
    // A queue that has never seen them adds them, and its worker finds the outputs on disk.
    const fresh = cli(['batch', 'submit', '--manifest', manifest, '--out', out, '--redis', redis.url, '--queue', 'again', '--json']);
    assert.equal(JSON.parse(fresh.stdout).added, 5);
    const w = startWorker(['--redis', redis.url, '--queue', 'again', '--until-empty']);
    assert.equal(await within(w.exited, 150000, 'worker'), 0, w.log());
    const rows = JSON.parse(cli(['batch', 'report', '--redis', redis.url, '--queue', 'again']).stdout) as ReportRow[];
    assert.deepEqual(rows.map((r) => [r.state, r.reused]), some.map(() => ['completed', true]));
    assert.deepEqual(some.map((s) => statSync(path.join(out, `${s.id}.nii.gz`)).mtimeMs), before);
  });

  it('fails a study with a corrupt image once, with its named error, and goes on with the others', { timeout: 180000 }, async () => {
    const dir = path.join(tmp.dir, 'bad');
    mkdirSync(path.join(dir, 'broken'), { recursive: true });
    writeFileSync(path.join(dir, 'broken', 'image.nii.gz'), gzipSync(Buffer.from('this is not a NIfTI header at all')));
    writeFileSync(path.join(dir, 'broken', 'annotations.nii.gz'), gzipSync(Buffer.from('nor is this')));
    const good = studies[7];
    mkdirSync(path.join(dir, 'good'));
    for (const f of ['image.nii.gz', 'annotations.nii.gz', 'key-slices.txt']) writeFileSync(path.join(dir, 'good', f), readFileSync(path.join(good.dir, f)));
    const badOut = path.join(tmp.dir, 'bad-out');
    const sub = cli(['batch', 'submit', '--folder', dir, '--out', badOut, '--redis', redis.url, '--queue', 'bad', '--attempts', '3', '--backoff', '200']);
    assert.equal(sub.code, 0, sub.stderr);
    const w = startWorker(['--redis', redis.url, '--queue', 'bad', '--until-empty']);
    assert.equal(await within(w.exited, 150000, 'worker'), 0, w.log());
    const status = JSON.parse(cli(['batch', 'status', '--redis', redis.url, '--queue', 'bad', '--json']).stdout) as BatchStatus;
    assert.equal(status.counts.completed, 1);
    assert.equal(status.failures.length, 1);
    const f = status.failures[0];
    assert.equal(f.study, 'broken');
    assert.equal(f.attempts, 1, 'an input error is not retried');
    assert.ok(f.code && ['FILE_UNREADABLE', 'UNSUPPORTED_IMAGE'].includes(f.code), f.reason);
    assert.match(f.reason, /broken\/image\.nii\.gz/);
    assert.doesNotMatch(f.reason, /\n\s+at /, 'no stack trace');
    const text = cli(['batch', 'status', '--redis', redis.url, '--queue', 'bad']).stdout;
    assert.match(text, /failed broken after 1 attempt\(s\): (FILE_UNREADABLE|UNSUPPORTED_IMAGE): /);
    assert.deepEqual(readdirSync(badOut).sort(), ['good.ctbl', 'good.itksnap.txt', 'good.json', 'good.nii.gz'], 'the good study and its colour tables only');
    // Resubmitting leaves the failed study failed (same inputs, same error) and adds nothing.
    const again = JSON.parse(cli(['batch', 'submit', '--folder', dir, '--out', badOut, '--redis', redis.url, '--queue', 'bad', '--json']).stdout);
    assert.equal(again.added, 0);
  });

  it('recovers the job of a worker killed mid-study (SIGKILL) on another worker, leaving no partial output', { timeout: 300000 }, async () => {
    const bigDir = path.join(tmp.dir, 'big');
    const [big] = await writePhantomStudies(bigDir, 1, [160, 160, 40], 77);
    const bigOut = path.join(tmp.dir, 'big-out');
    const a = startWorker(['--redis', redis.url, '--queue', 'kill', '--name', 'doomed', ...FAST_STALL]);
    const sub = cli(['batch', 'submit', '--folder', bigDir, '--out', bigOut, '--redis', redis.url, '--queue', 'kill', '--json']);
    assert.equal(sub.code, 0, sub.stderr);
    const id = JSON.parse(sub.stdout).jobs[0].jobId as string;
    const queue = new Queue('kill', { connection: redisConnection(redis.url) });
    try {
      const t0 = Date.now();
      while ((await queue.getJobState(id)) !== 'active') {
        assert.ok(Date.now() - t0 < 120000, `job never started:\n${a.log()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      let sandbox: number[] = [];
      while ((sandbox = childPids(a.proc.pid as number)).length === 0 && existsSync('/proc')) {
        assert.ok(Date.now() - t0 < 120000, 'no sandboxed process started');
        await new Promise((r) => setTimeout(r, 50));
      }
      a.proc.kill('SIGKILL');
      await a.exited;
      // The study's sandboxed process leaves with its worker instead of finishing the study on its own.
      for (let t = 0; sandbox.some(alive); t++) {
        assert.ok(t < 400, `sandboxed process ${sandbox.filter(alive).join(', ')} outlived its worker`);
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(existsSync(path.join(bigOut, `${big.id}.nii.gz`)), false, 'the study was not finished when its worker died');
      const b = startWorker(['--redis', redis.url, '--queue', 'kill', '--name', 'rescuer', '--until-empty', '--stalled-interval', '1000']);
      assert.equal(await within(b.exited, 240000, 'rescuing worker'), 0, b.log());
      const job = await queue.getJob(id);
      assert.equal(await job?.getState(), 'completed', b.log());
      assert.equal(job?.processedBy, 'rescuer');
      assert.match(b.log(), /recovered job/);
    } finally {
      await queue.close();
    }
    assert.deepEqual(temporaries(bigOut), []);
    const pred = await readLabelVolume(path.join(bigOut, `${big.id}.nii.gz`));
    const truth = await readLabelVolume(path.join(big.dir, 'truth.nii.gz'));
    assert.ok(diceByLabel(pred.data, truth.data, [1])['1'] > 0.8);
  });

  it('keeps submitted jobs through a Redis crash (AOF on)', { timeout: 120000 }, async () => {
    const sub = cli(['batch', 'submit', '--folder', studiesDir, '--out', path.join(tmp.dir, 'aof-out'), '--redis', redis.url, '--queue', 'aof', '--json']);
    assert.equal(JSON.parse(sub.stdout).added, 100);
    await new Promise((r) => setTimeout(r, 1500)); // appendfsync everysec
    await redis.stop('SIGKILL');
    await redis.start();
    const status = JSON.parse(cli(['batch', 'status', '--redis', redis.url, '--queue', 'aof', '--json']).stdout) as BatchStatus;
    assert.equal(status.counts.waiting, 100);
    const down = cli(['batch', 'status', '--redis', 'redis://127.0.0.1:1', '--json']);
    assert.equal(down.code, 5);
    assert.match(down.stderr, /cannot reach Redis/);
  });
});
