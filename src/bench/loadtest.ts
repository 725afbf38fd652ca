/**
 * Load test of `keyslice serve` (loopback only, bounded in sessions and time): N sessions at once on the real
 * scans in ../shared/data, each uploading its image, setting 5 key slices (masks from the expert label) and
 * propagating, then closing. Reports p50/p95 latency per operation, errors, the server's peak memory, and the
 * latency of /health polled throughout. Usage: `npm run loadtest [-- --sessions 50 --timeout-s 900]`.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { encodeRle } from '../session/rle.js';
import { readLabelVolume } from '../volume/io-node.js';
import { defaultSliceAxis, labelValues, SliceGeometry } from '../volume/volume.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const DATA = path.resolve(ROOT, '../shared/data');
const CASES = [
  ['msd-spleen-crop/spleen_2_crop_ct.nii.gz', 'msd-spleen-crop/spleen_2_crop_label.nii.gz'],
  ['spinegeneric-spinalcord/sub-unf01_T2w.nii.gz', 'spinegeneric-spinalcord/sub-unf01_T2w_seg-manual.nii.gz'],
  ['msd-hippocampus/images/hippocampus_001.nii.gz', 'msd-hippocampus/labels/hippocampus_001.nii.gz'],
  ['totalseg-example/example_ct_sm.nii.gz', 'totalseg-example/example_seg.nii.gz'],
];

interface Case {
  name: string;
  bytes: Uint8Array;
  label: number;
  keys: { slice: number; rle: number[] }[];
}

async function loadCase(image: string, labelFile: string): Promise<Case> {
  const lab = await readLabelVolume(path.join(DATA, labelFile));
  const axis = defaultSliceAxis(lab.spacing);
  const sg = new SliceGeometry(lab, axis);
  const label = labelValues(lab.data)[0];
  const on: number[] = [];
  for (let w = 0; w < sg.count; w++) if (sg.countEqual(lab.data, w, label) > 0) on.push(w);
  const picks = [...new Set([0, 1, 2, 3, 4].map((i) => on[Math.round((i * (on.length - 1)) / 4)]))];
  const keys = picks.map((w) => ({ slice: w, rle: encodeRle(sg.maskOf(lab.data, w, label)!, sg.nu, sg.nv) }));
  return { name: path.basename(image), bytes: new Uint8Array(readFileSync(path.join(DATA, image))), label, keys };
}

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

async function timed<T>(times: number[], f: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await f();
  } finally {
    times.push(performance.now() - t0);
  }
}

async function ok(res: Response, what: string): Promise<Response> {
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status} ${await res.text()}`);
  return res;
}

async function session(url: string, c: Case, t: Record<string, number[]>): Promise<void> {
  const open = await timed(t.upload, async () => (await (await ok(await fetch(`${url}/sessions`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: c.bytes }), 'upload')).json()) as { id: string; token: string });
  const base = `${url}/sessions/${open.id}`;
  const auth = { authorization: `Bearer ${open.token}` };
  for (const k of c.keys) {
    await timed(t.setKeySlice, async () => ok(await fetch(`${base}/labels/${c.label}/slices/${k.slice}`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ mask: { rle: k.rle } }) }), 'key slice').then((r) => r.arrayBuffer()));
  }
  await timed(t.propagate, async () => {
    const text = await (await ok(await fetch(`${base}/propagate`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' }), 'propagate')).text();
    if (!text.trimEnd().endsWith('}') || !/"type":"end"/.test(text.slice(text.lastIndexOf('\n', text.length - 2)))) throw new Error(`propagate: stream ended without its end line: ${text.slice(-300)}`);
  });
  await timed(t.labels, async () => (await ok(await fetch(`${base}/labels?format=nii.gz`, { headers: auth }), 'labels')).arrayBuffer());
  await timed(t.close, async () => (await ok(await fetch(base, { method: 'DELETE', headers: auth }), 'close')).arrayBuffer());
}

function peakRssMb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { sessions: { type: 'string' }, 'timeout-s': { type: 'string' }, workers: { type: 'string' } } });
  const n = Math.min(200, Math.max(1, Number(values.sessions ?? 50)));
  const timeoutMs = Math.min(3600, Math.max(10, Number(values['timeout-s'] ?? 900))) * 1000;
  if (!existsSync(DATA)) {
    console.log(`loadtest skipped: real data not found at ${DATA} (../shared/data)`);
    return 0;
  }
  const cases = await Promise.all(CASES.filter(([i, l]) => existsSync(path.join(DATA, i)) && existsSync(path.join(DATA, l))).map(([i, l]) => loadCase(i, l)));
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'keyslice-loadtest-'));
  const child = spawn(process.execPath, [path.join(ROOT, 'dist/src/cli/main.js'), 'serve', '--host', '127.0.0.1', '--port', '0', '--data', dataDir, '--max-sessions', String(n + 10), ...(values.workers ? ['--workers', values.workers] : [])], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      log += d.toString();
      const m = /serving on (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`server exited (${code}): ${log}`)));
  });
  const t: Record<string, number[]> = { upload: [], setKeySlice: [], propagate: [], labels: [], close: [], health: [], healthIdle: [] };
  // Reference: /health on the idle server, same machine, same run.
  for (let i = 0; i < 60; i++) {
    await timed(t.healthIdle, async () => (await fetch(`${url}/health`)).arrayBuffer());
    await new Promise((r) => setTimeout(r, 50));
  }
  const errors: string[] = [];
  let running = true;
  const poll = (async () => {
    while (running) {
      await timed(t.health, async () => (await fetch(`${url}/health`)).arrayBuffer()).catch((e) => errors.push(`health: ${(e as Error).message}`));
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const t0 = performance.now();
  const deadline = new Promise<void>((resolve) => setTimeout(() => {
    errors.push(`stopped at the ${timeoutMs / 1000} s time limit`);
    resolve();
  }, timeoutMs).unref());
  const runs = Promise.all(Array.from({ length: n }, (_, i) => session(url, cases[i % cases.length], t).catch((e) => errors.push((e as Error).message))));
  await Promise.race([runs, deadline]);
  const wall = (performance.now() - t0) / 1000;
  running = false;
  await poll;
  const peak = peakRssMb(child.pid!);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  rmSync(dataDir, { recursive: true, force: true });

  console.log(`loadtest: ${n} concurrent sessions on ${cases.map((c) => c.name).join(', ')} (5 key slices each), ${os.availableParallelism()} cores, ${wall.toFixed(1)} s`);
  console.log('operation      count   p50_ms   p95_ms   max_ms');
  for (const [k, xs] of Object.entries(t)) {
    console.log(`${k.padEnd(13)} ${String(xs.length).padStart(6)} ${pct(xs, 50).toFixed(1).padStart(8)} ${pct(xs, 95).toFixed(1).padStart(8)} ${Math.max(...xs).toFixed(1).padStart(8)}`);
  }
  console.log(`errors: ${errors.length}${errors.length ? `\n  ${errors.slice(0, 10).join('\n  ')}` : ''}`);
  console.log(`server peak memory (VmHWM): ${peak.toFixed(0)} MiB`);
  console.log(`/health p95 ${pct(t.health, 95).toFixed(1)} ms under load (target < 50 ms): ${pct(t.health, 95) < 50 ? 'met' : 'NOT met'}; idle server in this run: p95 ${pct(t.healthIdle, 95).toFixed(1)} ms; machine load average ${os.loadavg()[0].toFixed(1)} on ${os.availableParallelism()} cores`);
  return errors.length ? 1 : 0;
}

main().then(
  (code) => (process.exitCode = code),
  (err) => {
    console.error(err);
    process.exitCode = 1;
  },
);
