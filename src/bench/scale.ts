/**
 * The scale benchmark: how reading, segmenting and writing grow with the size of the scan. For each grid size it
 * makes the CT phantom (fixed field of view, so that the organ spans more voxels and slices as the grid grows),
 * writes it as .nii.gz, and measures in the same run:
 * - `gzip -dc` and `gzip -1` on the same bytes (the physical reference for reading and writing), and keyslice's
 *   own read and write of the same file;
 * - for each method, in a fresh process (so that its peak memory is its own): read, segment the organ from key
 *   slices taken from the truth, write the mask; seconds, peak resident memory and Dice against the truth.
 * Growth is summarised as the exponent b of cost ~ voxels^b (least squares on logarithms).
 */
import { spawn } from 'node:child_process';
import { createWriteStream, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makePhantom } from '../demo/phantom.js';
import { readLabelVolume, readVolume, writeVolume } from '../volume/io-node.js';
import { defaultSliceAxis, SliceGeometry, voxelCount, type Vec3 } from '../volume/volume.js';
import { COLORS, esc, svgOpen } from '../util/svg.js';
import { sliceAreas } from '../simulate/annotator.js';
import type { ScaleJob, ScaleJobResult } from './scale-worker.js';

export interface ScaleOptions {
  /** In-plane sizes (default 128, 256, 512). */
  inPlane?: number[];
  /** Slice counts (default 50, 150, 300). */
  slices?: number[];
  /** Explicit grid sizes, instead of every in-plane size with every slice count. */
  sizes?: Vec3[];
  /** Methods, as in the bench (default keyslice:classic, keyslice:interp, mci). */
  methods?: string[];
  /** Key slices from the truth (default 3). */
  keySlices?: number;
  /** Output folder for scale.json, scale.md, scale.svg and the phantom files (default bench-scale). */
  out?: string;
  /** Also time itk-wasm reading and writing (.nii.gz, .nrrd, .mha) for comparison (default false). */
  itkReference?: boolean;
  onStep?: (message: string) => void;
}

export interface ScaleMethodResult extends ScaleJobResult {
  method: string;
  dice: number;
}

export interface ScaleRow {
  size: Vec3;
  spacing: Vec3;
  voxels: number;
  /** Bytes of the image in memory (int16). */
  imageMiB: number;
  fileMiB: number;
  /** Slices the organ spans, and its voxel count. */
  objectSlices: number;
  objectVoxels: number;
  gzipDc: number;
  gzip1: number;
  read: number;
  write: number;
  /** CPU seconds of the same steps (gzip: the child's user + system time). */
  cpu: { gzipDc: number; gzip1: number; read: number; write: number };
  /** itk-wasm seconds for the same volume, by format and direction (only with itkReference). */
  itk?: Record<string, number>;
  methods: ScaleMethodResult[];
}

/** Field of view of the phantom (mm): the issue's 512 x 512 x 300 grid at 0.8 x 0.8 x 1.25 mm. */
const FOV: Vec3 = [409.6, 409.6, 375];
const ORGAN = 1;

/** CPU seconds of this process's waited-for children (Linux /proc; 0 elsewhere). */
async function childCpu(): Promise<number> {
  try {
    const stat = await fsp.readFile('/proc/self/stat', 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields 16 and 17 (cutime, cstime) counted from 1; f[0] is field 3
    return (Number(f[13]) + Number(f[14])) / 100;
  } catch {
    return 0;
  }
}

/** Runs a command; resolves with [wall seconds, CPU seconds]. */
async function run(cmd: string, args: string[], stdoutFile?: string): Promise<[number, number]> {
  const c0 = await childCpu();
  const wall = await new Promise<number>((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', stdoutFile ? 'pipe' : 'ignore', 'inherit'] });
    if (stdoutFile && child.stdout) child.stdout.pipe(createWriteStream(stdoutFile));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve((performance.now() - t0) / 1000) : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}`))));
  });
  return [wall, (await childCpu()) - c0];
}

function runJob(job: ScaleJob): Promise<ScaleJobResult> {
  const worker = fileURLToPath(new URL('./scale-worker.js', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', worker, JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`${job.method} on ${job.image}: ${err.trim() || `exit ${code}`}`));
      else resolve(JSON.parse(out.trim().split('\n').pop() ?? '{}') as ScaleJobResult);
    });
  });
}

const cpuNow = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** Runs `fn`; resolves with [wall seconds, result, CPU seconds of this process]. */
async function timed<T>(fn: () => Promise<T>): Promise<[number, T, number]> {
  const t0 = performance.now();
  const c0 = cpuNow();
  const r = await fn();
  return [(performance.now() - t0) / 1000, r, cpuNow() - c0];
}

function dice(pred: ArrayLike<number>, truth: ArrayLike<number>, value: number): number {
  let p = 0;
  let t = 0;
  let both = 0;
  for (let i = 0; i < truth.length; i++) {
    const a = pred[i] ? 1 : 0;
    const b = truth[i] === value ? 1 : 0;
    p += a;
    t += b;
    both += a & b;
  }
  return p + t === 0 ? 1 : (2 * both) / (p + t);
}

/** Exponent b of y ~ x^b by least squares on logarithms (NaN with fewer than two distinct x). */
export function growthExponent(xs: readonly number[], ys: readonly number[]): number {
  const pts = xs.map((x, i) => [Math.log(x), Math.log(ys[i])] as const).filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b));
  if (pts.length < 2) return NaN;
  const mx = pts.reduce((s, p) => s + p[0], 0) / pts.length;
  const my = pts.reduce((s, p) => s + p[1], 0) / pts.length;
  let sxx = 0;
  let sxy = 0;
  for (const [a, b] of pts) {
    sxx += (a - mx) ** 2;
    sxy += (a - mx) * (b - my);
  }
  return sxx === 0 ? NaN : sxy / sxx;
}

async function itkTimes(dir: string, file: string): Promise<Record<string, number>> {
  const times: Record<string, number> = {};
  const [readNii, vol] = await timed(() => readVolume(file, { niftiReader: 'itk' }));
  times['nii.gz read'] = readNii;
  for (const ext of ['.nrrd', '.mha']) {
    const f = path.join(dir, `image${ext}`);
    times[`${ext.slice(1)} write`] = (await timed(() => writeVolume(vol, f, { compress: true })))[0];
    times[`${ext.slice(1)} read`] = (await timed(() => readVolume(f)))[0];
    await fsp.rm(f, { force: true });
  }
  return times;
}

/** Measures one grid size; files go to `dir` and are removed afterwards except the small ones. */
export async function scaleRow(size: Vec3, methods: string[], keySlices: number, dir: string, itkReference: boolean, step: (m: string) => void): Promise<ScaleRow> {
  const spacing = FOV.map((f, i) => f / size[i]) as Vec3;
  step(`${size.join('x')}: making the phantom`);
  const phantom = makePhantom({ size, spacing });
  const imageFile = path.join(dir, `image-${size.join('x')}.nii.gz`);
  const rawFile = path.join(dir, `image-${size.join('x')}.nii`);
  const truthFile = path.join(dir, `truth-${size.join('x')}.nii.gz`);
  await writeVolume(phantom.truth, truthFile);
  await writeVolume(phantom.image, rawFile);
  const sg = new SliceGeometry(phantom.truth, defaultSliceAxis(spacing));
  const areas = sliceAreas(phantom.truth.data, sg, ORGAN);
  const objectSlices = areas.filter((a) => a > 0).length;
  const objectVoxels = areas.reduce((a, b) => a + b, 0);
  const truth = phantom.truth.data;
  step(`${size.join('x')}: write, gzip -1, gzip -dc, read`);
  const [write, , writeCpu] = await timed(() => writeVolume(phantom.image, imageFile));
  const [gzip1, gzip1Cpu] = await run('gzip', ['-1', '-c', rawFile], `${rawFile}.gzip1`);
  const [gzipDc, gzipDcCpu] = await run('gzip', ['-dc', imageFile], '/dev/null');
  const [read, , readCpu] = await timed(() => readVolume(imageFile));
  const itk = itkReference ? await itkTimes(dir, imageFile) : undefined;
  await fsp.rm(`${rawFile}.gzip1`, { force: true });
  await fsp.rm(rawFile, { force: true });
  const fileMiB = (await fsp.stat(imageFile)).size / 2 ** 20;
  const results: ScaleMethodResult[] = [];
  for (const method of methods) {
    step(`${size.join('x')}: ${method}`);
    const out = path.join(dir, `pred-${size.join('x')}-${method.replace(/\W+/g, '_')}.nii.gz`);
    const r = await runJob({ image: imageFile, truth: truthFile, label: ORGAN, keySlices, method, out });
    const pred = await readLabelVolume(out);
    results.push({ ...r, method, dice: dice(pred.data, truth, ORGAN) });
    await fsp.rm(out, { force: true });
  }
  await fsp.rm(imageFile, { force: true });
  await fsp.rm(truthFile, { force: true });
  return {
    size,
    spacing,
    voxels: voxelCount(size),
    imageMiB: (voxelCount(size) * 2) / 2 ** 20,
    fileMiB,
    objectSlices,
    objectVoxels,
    gzipDc,
    gzip1,
    read,
    write,
    cpu: { gzipDc: gzipDcCpu, gzip1: gzip1Cpu, read: readCpu, write: writeCpu },
    itk,
    methods: results,
  };
}

const f2 = (x: number) => x.toFixed(2);

/** The table of a scale run, with growth exponents. */
export function scaleMarkdown(rows: ScaleRow[], meta: { cpus: number; load: number[] }): string {
  const methods = [...new Set(rows.flatMap((r) => r.methods.map((m) => m.method)))];
  const lines = [
    '# Scale benchmark',
    '',
    `CT phantom at a fixed field of view (${FOV.join(' x ')} mm); the organ (label ${ORGAN}) segmented from key slices of the truth. ` +
      `${meta.cpus} CPUs, load average at start ${meta.load.map((l) => l.toFixed(2)).join(' ')}.`,
    'Seconds; read/write ratios are against `gzip -dc` / `gzip -1` on the same bytes, measured just before.',
    '',
    'CPU seconds (user + system, all threads) in brackets: on a busy machine they say more than wall time.',
    '',
    '| grid | Mvoxels | image MiB | file MiB | organ slices | gzip -dc | read | read/gzip | gzip -1 | write | write/gzip |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  const wc = (wall: number, cpu: number) => `${f2(wall)} [${f2(cpu)}]`;
  for (const r of rows) {
    lines.push(
      `| ${r.size.join('x')} | ${f2(r.voxels / 1e6)} | ${r.imageMiB.toFixed(0)} | ${r.fileMiB.toFixed(1)} | ${r.objectSlices} | ` +
        `${wc(r.gzipDc, r.cpu.gzipDc)} | ${wc(r.read, r.cpu.read)} | ${wc(r.read / r.gzipDc, r.cpu.read / r.cpu.gzipDc)} | ` +
        `${wc(r.gzip1, r.cpu.gzip1)} | ${wc(r.write, r.cpu.write)} | ${wc(r.write / r.gzip1, r.cpu.write / r.cpu.gzip1)} |`,
    );
  }
  lines.push('', '| grid | method | read | segment [CPU] | write | engine calls | peak MiB (segment) | bound 2 x image + 300 | Dice |', '|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    for (const m of r.methods) {
      lines.push(
        `| ${r.size.join('x')} | ${m.method} | ${f2(m.readSeconds)} | ${wc(m.segmentSeconds, m.segmentCpuSeconds)} | ${f2(m.writeSeconds)} | ${m.engineCalls ?? '-'} | ${m.peakSegmentMiB.toFixed(0)} | ${(2 * r.imageMiB + 300).toFixed(0)} | ${m.dice.toFixed(4)} |`,
      );
    }
  }
  const itkRows = rows.filter((r) => r.itk);
  if (itkRows.length > 0) {
    const keys = Object.keys(itkRows[0].itk ?? {});
    lines.push('', `| grid | gzip -dc | ${keys.map((k) => `itk-wasm ${k}`).join(' | ')} |`, `|---|---|${keys.map(() => '---').join('|')}|`);
    for (const r of itkRows) lines.push(`| ${r.size.join('x')} | ${f2(r.gzipDc)} | ${keys.map((k) => f2(r.itk?.[k] ?? NaN)).join(' | ')} |`);
  }
  if (rows.length >= 2) {
    const vox = rows.map((r) => r.voxels);
    const obj = rows.map((r) => r.objectVoxels);
    lines.push('', 'Growth: exponent b of seconds ~ N^b (N = voxels of the image, or of the organ).', '', '| cost | b (image voxels) | b (organ voxels) |', '|---|---|---|');
    const series: [string, number[]][] = [
      ['read', rows.map((r) => r.read)],
      ['write', rows.map((r) => r.write)],
      ['gzip -dc', rows.map((r) => r.gzipDc)],
      ...methods.map((m) => [`segment ${m}`, rows.map((r) => r.methods.find((x) => x.method === m)?.segmentSeconds ?? NaN)] as [string, number[]]),
      ...methods.map((m) => [`segment CPU ${m}`, rows.map((r) => r.methods.find((x) => x.method === m)?.segmentCpuSeconds ?? NaN)] as [string, number[]]),
      ...methods.map((m) => [`peak MiB ${m}`, rows.map((r) => r.methods.find((x) => x.method === m)?.peakSegmentMiB ?? NaN)] as [string, number[]]),
    ];
    for (const [name, ys] of series) lines.push(`| ${name} | ${f2(growthExponent(vox, ys))} | ${f2(growthExponent(obj, ys))} |`);
  }
  return `${lines.join('\n')}\n`;
}

/** Log-log plot of seconds against image voxels: read, write, gzip references and each method's segmentation. */
export function scalePlotSvg(rows: ScaleRow[]): string {
  const sorted = [...rows].sort((a, b) => a.voxels - b.voxels);
  const methods = [...new Set(rows.flatMap((r) => r.methods.map((m) => m.method)))];
  const series: [string, number[]][] = [
    ['gzip -dc', sorted.map((r) => r.gzipDc)],
    ['read', sorted.map((r) => r.read)],
    ['gzip -1', sorted.map((r) => r.gzip1)],
    ['write', sorted.map((r) => r.write)],
    ...methods.map((m) => [`segment ${m}`, sorted.map((r) => r.methods.find((x) => x.method === m)?.segmentSeconds ?? NaN)] as [string, number[]]),
  ];
  const W = 640;
  const H = 420;
  const m = { l: 56, r: 170, t: 30, b: 44 };
  const w = W - m.l - m.r;
  const h = H - m.t - m.b;
  const xs = sorted.map((r) => Math.log10(r.voxels));
  const all = series.flatMap(([, ys]) => ys).filter((y) => y > 0 && Number.isFinite(y));
  const y0 = Math.floor(Math.log10(Math.min(...all, 0.01)));
  const y1 = Math.ceil(Math.log10(Math.max(...all, 1)));
  const x0 = Math.floor(Math.min(...xs) * 2) / 2;
  const x1 = Math.ceil(Math.max(...xs) * 2) / 2 || x0 + 1;
  const X = (v: number) => m.l + ((v - x0) / (x1 - x0 || 1)) * w;
  const Y = (v: number) => m.t + (1 - (v - y0) / (y1 - y0 || 1)) * h;
  const out = svgOpen(W, H);
  out.push(`<text x="${m.l + w / 2}" y="18" text-anchor="middle" font-weight="bold">seconds against image size (log-log)</text>`);
  out.push(`<rect x="${m.l}" y="${m.t}" width="${w}" height="${h}" fill="none" stroke="#999"/>`);
  for (let e = y0; e <= y1; e++) {
    out.push(`<line x1="${m.l}" x2="${m.l + w}" y1="${Y(e)}" y2="${Y(e)}" stroke="#eee"/>`);
    out.push(`<text x="${m.l - 4}" y="${Y(e) + 4}" text-anchor="end">${10 ** e >= 1 ? 10 ** e : (10 ** e).toFixed(-e)}</text>`);
  }
  for (let e = x0; e <= x1 + 1e-9; e += 0.5) {
    out.push(`<text x="${X(e)}" y="${m.t + h + 14}" text-anchor="middle">${(10 ** e / 1e6).toPrecision(2)}</text>`);
  }
  out.push(`<text x="${m.l + w / 2}" y="${m.t + h + 32}" text-anchor="middle">image size (Mvoxels)</text>`);
  series.forEach(([name, ys], i) => {
    const color = COLORS[i % COLORS.length];
    const dash = name.startsWith('gzip') ? ' stroke-dasharray="5,3"' : '';
    const pts = ys.map((y, k) => [xs[k], y] as const).filter(([, y]) => y > 0 && Number.isFinite(y));
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${dash} points="${pts.map(([x, y]) => `${X(x).toFixed(1)},${Y(Math.log10(y)).toFixed(1)}`).join(' ')}"/>`);
    for (const [x, y] of pts) out.push(`<circle cx="${X(x).toFixed(1)}" cy="${Y(Math.log10(y)).toFixed(1)}" r="2.5" fill="${color}"/>`);
    const ly = m.t + 10 + i * 18;
    out.push(`<line x1="${m.l + w + 10}" x2="${m.l + w + 34}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${dash}/>`);
    out.push(`<text x="${m.l + w + 40}" y="${ly + 4}">${esc(name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** Grid sizes of a run: every in-plane size with every slice count. */
export function scaleGrid(inPlane: number[], slices: number[]): Vec3[] {
  return inPlane.flatMap((n) => slices.map((s) => [n, n, s] as Vec3));
}

export async function runScale(options: ScaleOptions = {}): Promise<{ rows: ScaleRow[]; files: string[]; markdown: string }> {
  const out = options.out ?? 'bench-scale';
  await fsp.mkdir(out, { recursive: true });
  const methods = options.methods ?? ['keyslice:classic', 'keyslice:interp', 'mci'];
  const grid = options.sizes ?? scaleGrid(options.inPlane ?? [128, 256, 512], options.slices ?? [50, 150, 300]);
  const load = os.loadavg();
  const rows: ScaleRow[] = [];
  const step = options.onStep ?? (() => {});
  const tmp = await fsp.mkdtemp(path.join(path.resolve(out), '.scale-'));
  try {
    for (const size of grid) rows.push(await scaleRow(size, methods, options.keySlices ?? 3, tmp, options.itkReference ?? false, step));
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true });
  }
  const markdown = scaleMarkdown(rows, { cpus: os.cpus().length, load });
  const files = [path.join(out, 'scale.json'), path.join(out, 'scale.md'), path.join(out, 'scale.svg')];
  await fsp.writeFile(files[0], `${JSON.stringify({ meta: { date: new Date().toISOString(), cpus: os.cpus().length, load }, rows }, null, 1)}\n`);
  await fsp.writeFile(files[1], markdown);
  await fsp.writeFile(files[2], scalePlotSvg(rows));
  return { rows, files, markdown };
}
