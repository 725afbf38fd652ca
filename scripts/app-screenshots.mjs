#!/usr/bin/env node
/* global console, process, document, window, setTimeout, performance */
/**
 * Screenshots of the annotation app's main states (docs/app-*.png) and the time from "Propagate" to a visible
 * result, on the development CT (../shared/data/msd-spleen-crop) in local and remote mode. Needs `npm run build`
 * and a Chromium (chromium-headless-shell). Remote mode runs on a fresh server whose worker was warmed up, and with
 * --cold also on one whose worker was not; --niceness N sets the server workers' priority below its event loop.
 * Usage: node scripts/app-screenshots.mjs [--no-shots] [--cold] [--niceness N]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(path.join(root, 'dist', p));
const { launchBrowser, guardedPage, staticServer, chromiumPath } = await dist('test/helpers/browser.js');
const { readVolume, readLabelVolume } = await dist('src/volume/io-node.js');
const { rasMatrix } = await dist('src/app/ras.js');
const { startServer } = await dist('src/server/server.js');
const { ITK_FILES } = await dist('src/app/files-node.js');
const { segment } = await dist('src/pipeline/segment.js');
const { gzipSync } = await import('node:zlib');

const data = path.resolve(root, '../shared/data/msd-spleen-crop');
const imageFile = path.join(data, 'spleen_2_crop_ct.nii.gz');
if (!fs.existsSync(imageFile)) {
  console.log(`skipped: ${imageFile} not found`);
  process.exit(0);
}
if (!chromiumPath()) {
  console.log('skipped: no Chromium found');
  process.exit(0);
}
const shots = !process.argv.includes('--no-shots');
const image = await readVolume(imageFile);
const label = await readLabelVolume(path.join(data, 'spleen_2_crop_label.nii.gz'));
const [nx, ny, nz] = image.size;

/** The slice (axis 2) with the largest label area, and its mask. */
function largestSlice() {
  let best = 0;
  let area = -1;
  for (let z = 0; z < nz; z++) {
    let a = 0;
    for (let i = 0; i < nx * ny; i++) if (label.data[i + nx * ny * z]) a++;
    if (a > area) [best, area] = [z, a];
  }
  return best;
}
function sliceMask(z) {
  return Uint8Array.from({ length: nx * ny }, (_, i) => (label.data[i + nx * ny * z] ? 1 : 0));
}
function outline(m, n = 24) {
  let sx = 0, sy = 0, c = 0;
  for (let i = 0; i < m.length; i++) if (m[i]) { sx += i % nx; sy += Math.floor(i / nx); c++; }
  const [cx, cy] = [sx / c, sy / c];
  const pts = [];
  for (let a = 0; a < n; a++) {
    const t = (2 * Math.PI * a) / n;
    let r = 0;
    for (let s = 0; s < 300; s += 0.5) {
      const x = Math.round(cx + s * Math.cos(t)), y = Math.round(cy + s * Math.sin(t));
      if (x < 0 || y < 0 || x >= nx || y >= ny || !m[x + nx * y]) break;
      r = s;
    }
    pts.push([cx + r * Math.cos(t), cy + r * Math.sin(t)]);
  }
  return pts;
}
const m = rasMatrix(image);
const sign = [-1, -1, 1];
const affine = [0, 1, 2].flatMap((r) => [m[r * 3], m[r * 3 + 1], m[r * 3 + 2], sign[r] * image.origin[r]]);

async function waitState(page, want) {
  await page.waitForFunction((w) => [w, 'error'].includes(document.body.dataset.state), want, { timeout: 120_000 });
  const s = await page.evaluate(() => document.body.dataset.state);
  if (s !== want) throw new Error(await page.textContent('#status'));
}
async function settle(page) {
  await page.evaluate(async () => {
    for (;;) { const b = window.keyslice.busy; await b.catch(() => 0); await new Promise((r) => setTimeout(r, 30)); if (window.keyslice.busy === b) return; }
  });
}
async function draw(page, z, pts) {
  await page.click('[data-tool=fill]');
  const box = await page.locator('#gl').boundingBox();
  const scr = [];
  for (const [x, y] of pts) {
    const p = await page.evaluate(([v, a]) => window.keyslice.canvasPointOfVoxel(v, a), [[x, y, z], affine]);
    scr.push([box.x + p[0], box.y + p[1]]);
  }
  await page.mouse.move(...scr[0]);
  await page.mouse.down();
  for (const p of [...scr.slice(1), scr[0]]) await page.mouse.move(...p);
  await page.mouse.up();
  await settle(page);
}

async function run(mode, url) {
  const browser = await launchBrowser();
  const { page, offLoopback } = await guardedPage(browser);
  await page.setViewportSize({ width: 1280, height: 860 });
  await page.goto(url);
  await waitState(page, 'empty');
  await page.setInputFiles('#file', imageFile);
  await waitState(page, 'ready');
  const k = largestSlice();
  await page.evaluate((s) => window.keyslice.goToSlice(s), k);
  await draw(page, k, outline(sliceMask(k)));
  const key = Uint8Array.from(await page.evaluate((s) => window.keyslice.keyMask(1, s), k));
  if (shots && mode === 'local') await page.screenshot({ path: path.join(root, 'docs/app-key-slice.png') });
  const t0 = Date.now();
  await page.click('#propagate');
  await waitState(page, 'preview');
  const wall = Date.now() - t0;
  const timing = await page.evaluate(() => window.keyslice.timing);
  await page.click('#least');
  if (shots && mode === 'local') await page.screenshot({ path: path.join(root, 'docs/app-preview.png') });
  await page.keyboard.press('Enter');
  await waitState(page, 'accepted');
  if (shots && mode === 'local') {
    await page.selectOption('#layout', 'multiplanar');
    await page.evaluate(() => window.keyslice.setLayout('multiplanar'));
    await new Promise((r) => setTimeout(r, 300));
    await page.screenshot({ path: path.join(root, 'docs/app-accepted.png') });
  }
  await browser.close();
  // Reference in the same run: segment() in Node on the same key slice.
  const t1 = performance.now();
  await segment(image, { axis: 2, labels: [{ value: 1, keySlices: [{ index: k, empty: false, mask: key, points: [], negativePoints: [] }] }] }, { engine: 'classic' });
  const nodeMs = Math.round(performance.now() - t1);
  return { mode, nodeSegmentMs: nodeMs, resultVsNode: +(timing.totalMs / nodeMs).toFixed(2), firstVisibleMs: Math.round(timing.firstVisibleMs), resultMs: Math.round(timing.totalMs), clickToPreviewMs: wall, offLoopback: offLoopback.length };
}

const site = await staticServer(path.join(root, 'dist/app'));
const dataDir = fs.mkdtempSync(path.join(root, '..', 'keyslice-shots-'));
const servers = [];
const niceArg = process.argv.indexOf('--niceness');
const niceness = niceArg > 0 ? Number(process.argv[niceArg + 1]) : undefined;
/** A fresh server with one worker; its warm-up (when on) has time to end, as while a user draws. */
async function fresh(warmUp) {
  const server = await startServer({ port: 0, data: path.join(dataDir, String(servers.length)), workers: 1, warmUp, ...(niceness !== undefined ? { workerNiceness: niceness } : {}) });
  servers.push(server);
  await new Promise((r) => setTimeout(r, 3000));
  return `${server.url}/`;
}
const sizes = (files) => Object.fromEntries(files.map((f) => {
  const b = fs.readFileSync(path.join(root, 'dist/app', f));
  return [f, { bytes: b.length, gzip: gzipSync(b).length }];
}));
try {
  const rows = [await run('local', `${site.url}/`), await run('remote', await fresh(true))];
  if (process.argv.includes('--cold')) rows.push({ ...(await run('remote', await fresh(false))), mode: 'remote, worker not warmed up' });
  console.log(JSON.stringify({ image: `${nx}x${ny}x${nz}`, rows, bundleBytes: sizes(['app.js', 'worker.js', 'app.css', 'index.html']), itkWasmBytes: sizes(ITK_FILES) }, null, 2));
} finally {
  await site.close();
  for (const s of servers) await s.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
}
