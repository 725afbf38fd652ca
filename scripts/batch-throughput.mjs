#!/usr/bin/env node
/* global process, console, setTimeout, performance */
/**
 * Batch throughput with 1, 2, ... worker processes on the expert-labelled development scans in ../shared/data.
 * Each scan becomes a study whose annotations are its expert label on 3 key slices per object (the benchmark's
 * simulated annotator); every study is repeated `--copies` times. A private redis-server is started on a free
 * loopback port. Run after `npm run build`:
 *
 *   node scripts/batch-throughput.mjs [--workers 1,2,2,1] [--copies 3] [--data ../shared/data]
 *
 * `--workers` lists the rounds, each with that many workers (repeat and interleave them on a busy machine).
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(path.join(root, 'dist/src', p));
const { BUILTIN_DATASETS } = await dist('bench/manifest.js');
const { readLabelVolume, writeVolume } = await dist('volume/io-node.js');
const { selectKeySlices, sliceAreas } = await dist('simulate/annotator.js');
const { SliceGeometry, defaultSliceAxis, labelValues, withGeometry } = await dist('volume/volume.js');

const { values } = parseArgs({ options: { workers: { type: 'string' }, copies: { type: 'string' }, data: { type: 'string' } } });
const workerCounts = (values.workers ?? '1,2').split(',').map(Number);
const copies = Number(values.copies ?? 3);
const data = path.resolve(values.data ?? path.join(root, '../shared/data'));
if (!existsSync(data)) {
  console.log(`no development data at ${data}: nothing to measure`);
  process.exit(0);
}
const cli = path.join(root, 'dist/src/cli/main.js');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'keyslice-throughput-'));

/** One study folder per expert-labelled case: image, annotations (truth on key slices), truth. */
async function prepare() {
  const dirs = [];
  for (const ds of BUILTIN_DATASETS) {
    for (const c of ds.cases) {
      const image = path.join(data, ds.folder, c.image);
      if (!existsSync(image)) continue;
      const truth = await readLabelVolume(path.join(data, ds.folder, c.label));
      const sg = new SliceGeometry(truth, defaultSliceAxis(truth.spacing));
      const keep = new Set();
      for (const v of c.labels ?? labelValues(truth.data)) for (const k of selectKeySlices(sliceAreas(truth.data, sg, v), 3)) keep.add(k);
      const sparse = new Uint8Array(truth.data.length);
      const s = new Uint8Array(sg.area);
      for (const k of keep) sg.insert(sparse, k, sg.extract(truth.data, k, s).map((x) => (c.labels && !c.labels.includes(x) ? 0 : x)));
      const dir = path.join(tmp, 'template', c.id);
      mkdirSync(dir, { recursive: true });
      copyFileSync(image, path.join(dir, 'image.nii.gz'));
      await writeVolume(withGeometry(truth, sparse), path.join(dir, 'annotations.nii.gz'));
      writeFileSync(path.join(dir, 'key-slices.txt'), `${[...keep].sort((a, b) => a - b).join(',')}\n`);
      dirs.push(dir);
    }
  }
  for (let i = 0; i < copies; i++) {
    for (const d of dirs) {
      const to = path.join(tmp, 'studies', `${path.basename(d)}-${i}`);
      mkdirSync(to, { recursive: true });
      for (const f of ['image.nii.gz', 'annotations.nii.gz', 'key-slices.txt']) copyFileSync(path.join(d, f), path.join(to, f));
    }
  }
  return dirs.length * copies;
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function run(args) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`keyslice ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const n = await prepare();
const port = await freePort();
const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', tmp, '--appendonly', 'yes', '--save', ''], { stdio: 'ignore' });
process.on('exit', () => redis.kill());
const url = `redis://127.0.0.1:${port}`;
for (let t = 0; spawnSync('redis-cli', ['-p', String(port), 'ping']).stdout?.toString().trim() !== 'PONG'; t++) {
  if (t > 100) throw new Error('redis-server did not start');
  await new Promise((r) => setTimeout(r, 100));
}
console.log(`${n} studies (${n / copies} development scans x ${copies}), ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(1)}`);
const rows = [];
for (const [round, w] of workerCounts.entries()) {
  // A fresh queue and output folder per round: otherwise the round would find every study done already.
  const queue = `throughput-${round}`;
  run(['batch', 'submit', '--folder', path.join(tmp, 'studies'), '--out', path.join(tmp, `out-${round}`), '--redis', url, '--queue', queue]);
  const t0 = performance.now();
  await Promise.all(Array.from({ length: w }, () => new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [cli, 'batch', 'worker', '--redis', url, '--queue', queue, '--until-empty', '--quiet'], { stdio: 'ignore' });
    p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker exited with ${code}`))));
  })));
  const s = (performance.now() - t0) / 1000;
  const st = JSON.parse(run(['batch', 'status', '--redis', url, '--queue', queue, '--json']));
  rows.push({ workers: w, seconds: s, perMinute: (st.counts.completed / s) * 60, failed: st.counts.failed });
  console.log(`${w} worker(s): ${st.counts.completed} done, ${st.counts.failed} failed in ${s.toFixed(1)} s = ${((st.counts.completed / s) * 60).toFixed(1)} studies/min`);
}
const mean = new Map();
for (const r of rows) mean.set(r.workers, [...(mean.get(r.workers) ?? []), r.perMinute]);
const avg = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const counts = [...mean.keys()].sort((a, b) => a - b);
for (const w of counts.slice(1)) {
  console.log(`${w} workers against ${counts[0]}: ${(avg(mean.get(w)) / avg(mean.get(counts[0]))).toFixed(2)}x studies/min (mean over rounds, same run)`);
}
redis.kill();
rmSync(tmp, { recursive: true, force: true });
