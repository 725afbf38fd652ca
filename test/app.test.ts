/**
 * The annotation app end to end in a real browser (Chromium via playwright-core), in local mode (the session in
 * a Web Worker, the app served as static files written by `keyslice app`) and remote mode (the app served by
 * `keyslice serve` at /): open a generated scan in RAS, LAS and LPS orientation, draw a key slice with the mouse,
 * propagate, export, and check the exported labels against the library's segment() voxel for voxel; correct a
 * slice and propagate again; undo back to the first result; every request stays on loopback.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { unzipSync } from 'fflate';
import type { Browser, Page } from 'playwright-core';
import { parsePromptsText } from '../src/annotations/prompts.js';
import { rasLayout, rasMatrix } from '../src/app/ras.js';
import { makePhantom } from '../src/demo/phantom.js';
import { labelSurface } from '../src/mesh/surface.js';
import { segment } from '../src/pipeline/segment.js';
import type { RunningServer } from '../src/server/server.js';
import { labelInfos } from '../src/labels/label-table.js';
import { readLabelVolume, readVolume, writeVolume } from '../src/volume/io-node.js';
import { parseSegNrrd } from '../src/volume/seg-nrrd-node.js';
import { gridDifference, SliceGeometry, type Vec3, type Volume } from '../src/volume/volume.js';
import { browserSkip, guardedPage, launchBrowser, staticServer } from './helpers/browser.js';
import { writeCtSeries } from './helpers/dicom.js';
import { checkSeg } from './helpers/dicom-seg.js';
import { runCli, tempDir } from './helpers/paths.js';
import { testServer } from './helpers/server.js';
import { dice } from './helpers/volumes.js';

/** What the tests read of the page (evaluated in the browser). */
interface AppWindow {
  document: { body: { dataset: Record<string, string | undefined> } };
  keyslice: {
    busy: Promise<unknown>;
    mode: string;
    layout: unknown;
    timing: { firstVisibleMs: number; totalMs: number };
    currentSlice(): number;
    keyMask(label: number, slice: number): number[];
    keyList(label: number): { slice: number; kind: string; prompt?: Record<string, unknown> }[];
    canvasPointOfVoxel(p: number[], affine: number[]): number[] | null;
    boxRects(): (number[] | null)[];
  };
}

/** The page's drag-and-drop types (evaluated in the browser). */
interface DropWindow {
  DataTransfer: new () => { items: { add(f: File): void } };
  DragEvent: new (type: string, init: Record<string, unknown>) => unknown;
  document: { getElementById(id: string): { dispatchEvent(e: unknown): void; textContent: string | null } };
}

const skip = browserSkip();
if (skip) console.log(`# app end-to-end tests skipped: ${skip}`);

const ORIENTATIONS: Record<string, number[]> = {
  RAS: [-1, 0, 0, 0, -1, 0, 0, 0, 1],
  LAS: [1, 0, 0, 0, -1, 0, 0, 0, 1],
  LPS: [1, 0, 0, 0, 1, 0, 0, 0, 1],
};

interface Case {
  image: Volume;
  truth: Volume<Uint8Array>;
  /** The file, or the DICOM folder, to open. */
  file: string;
  /** The input that opens it (default the file picker). */
  input?: string;
  /** The DICOM series' instance UID (a folder case). */
  series?: string;
}

/**
 * A phantom cropped off-centre (so that a flipped axis would put a drawing on the wrong tissue), with the
 * orientation's direction cosines, written with the project's NIfTI writer.
 */
async function makeCase(dir: string, orientation: string, ext = 'nii.gz'): Promise<Case> {
  const ph = makePhantom({ size: [64, 84, 12], seed: 3 });
  const [nx, , nz] = ph.image.size;
  const ny = 64;
  const y0 = 16;
  const crop = <T extends Int16Array | Uint8Array>(src: T, Ctor: new (n: number) => T): T => {
    const out = new Ctor(nx * ny * nz);
    for (let z = 0; z < nz; z++) for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++) out[x + nx * (y + ny * z)] = src[x + nx * (y + y0 + ph.image.size[1] * z)];
    return out;
  };
  const geometry = { size: [nx, ny, nz] as Vec3, spacing: [0.8, 0.8, 5] as Vec3, origin: [12, -30, 40] as Vec3, direction: ORIENTATIONS[orientation] };
  const image = { ...geometry, data: crop(ph.image.data, Int16Array) };
  const truth = { ...geometry, data: crop(ph.truth.data, Uint8Array) };
  const file = path.join(dir, `ct-${orientation}.${ext}`);
  await writeVolume(image, file);
  return { image, truth, file };
}

/**
 * The LPS case written as an axial CT series (one file per slice, names in reverse slice order), read back by
 * keyslice's Node reader: the app must give it the same geometry and voxels.
 */
async function makeDicomCase(dir: string, lps: Case): Promise<Case> {
  const folder = path.join(dir, 'ct-series');
  fs.mkdirSync(folder, { recursive: true });
  const [nx, ny, nz] = lps.image.size;
  const series = writeCtSeries(folder, {
    nx,
    ny,
    nz,
    spacing: [...lps.image.spacing] as [number, number, number],
    origin: [...lps.image.origin] as [number, number, number],
    value: (x, y, z) => lps.image.data[x + nx * (y + ny * z)] + 1024,
  });
  const image = await readVolume(folder);
  assert.equal(gridDifference(image, lps.image), null, 'the series has the geometry it was written with');
  return { image, truth: { ...lps.truth, origin: image.origin, spacing: image.spacing, direction: image.direction }, file: folder, input: '#folder', series };
}

/** The truth's object (organ and lesion) on slice z, as a slice mask. */
function truthSlice(c: Case, z: number): Uint8Array {
  const sg = new SliceGeometry(c.truth, 2);
  const m = new Uint8Array(sg.area);
  const [nx, ny] = c.truth.size;
  for (let i = 0; i < nx * ny; i++) m[i] = c.truth.data[i + nx * ny * z] > 0 ? 1 : 0;
  return m;
}

function centroid(m: Uint8Array, nu: number): [number, number] {
  let sx = 0;
  let sy = 0;
  let n = 0;
  for (let i = 0; i < m.length; i++) {
    if (!m[i]) continue;
    sx += i % nu;
    sy += Math.floor(i / nu);
    n++;
  }
  return [sx / n, sy / n];
}

/** Outline of a slice mask as voxel coordinates (rays from the centroid to the last pixel inside). */
function outline(m: Uint8Array, nu: number, nv: number): [number, number][] {
  const [cx, cy] = centroid(m, nu);
  const pts: [number, number][] = [];
  for (let a = 0; a < 16; a++) {
    const t = (2 * Math.PI * a) / 16;
    let r = 0;
    for (let s = 0; s < 100; s += 0.25) {
      const x = Math.round(cx + s * Math.cos(t));
      const y = Math.round(cy + s * Math.sin(t));
      if (x < 0 || y < 0 || x >= nu || y >= nv || !m[x + nu * y]) break;
      r = s;
    }
    pts.push([cx + r * Math.cos(t), cy + r * Math.sin(t)]);
  }
  return pts;
}

/** The voxel-to-RAS-mm affine (3 x 4, row-major) of a geometry. */
function affineRas(v: Volume): number[] {
  const m = rasMatrix(v);
  const sign = [-1, -1, 1];
  return [0, 1, 2].flatMap((r) => [m[r * 3], m[r * 3 + 1], m[r * 3 + 2], sign[r] * v.origin[r]]);
}

async function settle(page: Page): Promise<void> {
  await page.evaluate(async () => {
    const app = (globalThis as unknown as AppWindow).keyslice;
    for (;;) {
      const b = app.busy;
      await b.catch(() => undefined);
      await new Promise((r) => setTimeout(r, 30));
      if (app.busy === b) return;
    }
  });
}

async function state(page: Page, want: string): Promise<void> {
  await page.waitForFunction((w) => (globalThis as unknown as AppWindow).document.body.dataset.state === w || (globalThis as unknown as AppWindow).document.body.dataset.state === 'error', want, { timeout: 60_000 });
  const got = await page.evaluate(() => (globalThis as unknown as AppWindow).document.body.dataset.state);
  assert.equal(got, want, `app state ${got}: ${await page.textContent('#status')}`);
}

/** Draws a filled outline of voxels (x, y) on slice z with the mouse. */
async function drawOutline(page: Page, c: Case, z: number, pts: [number, number][]): Promise<void> {
  await page.click('[data-tool=fill]');
  const affine = affineRas(c.image);
  const box = await page.locator('#gl').boundingBox();
  assert.ok(box);
  const screen: [number, number][] = [];
  for (const [x, y] of pts) {
    const p = await page.evaluate(([v, a]) => (globalThis as unknown as AppWindow).keyslice.canvasPointOfVoxel(v, a), [[x, y, z], affine] as [number[], number[]]);
    assert.ok(p, `voxel ${x}, ${y}, ${z} is on screen`);
    screen.push([box.x + p[0], box.y + p[1]]);
  }
  await page.mouse.move(screen[0][0], screen[0][1]);
  await page.mouse.down();
  for (const [x, y] of [...screen.slice(1), screen[0]]) await page.mouse.move(x, y);
  await page.mouse.up();
  await settle(page);
}

async function screenPoint(page: Page, c: Case, p: [number, number, number]): Promise<[number, number]> {
  const box = await page.locator('#gl').boundingBox();
  const q = await page.evaluate(([v, a]) => (globalThis as unknown as AppWindow).keyslice.canvasPointOfVoxel(v, a), [p, affineRas(c.image)] as [number[], number[]]);
  assert.ok(box && q);
  return [box.x + q[0], box.y + q[1]];
}

async function keyMask(page: Page, slice: number): Promise<Uint8Array> {
  return Uint8Array.from(await page.evaluate((s) => (globalThis as unknown as AppWindow).keyslice.keyMask(1, s), slice));
}

async function propagateAndAccept(page: Page): Promise<{ firstVisibleMs: number; totalMs: number }> {
  await page.click('#propagate');
  await state(page, 'preview');
  await page.keyboard.press('Enter');
  await state(page, 'accepted');
  return page.evaluate(() => (globalThis as unknown as AppWindow).keyslice.timing);
}

/** Exports the labels in a format (picked in the list) and returns the file written. */
async function exportFile(page: Page, dir: string, name: string, format: string): Promise<string> {
  await page.selectOption('#format', format);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
  const file = path.join(dir, `${name}.${format}`);
  await download.saveAs(file);
  return file;
}

async function exportLabels(page: Page, dir: string, name: string): Promise<Volume> {
  return readLabelVolume(await exportFile(page, dir, name, 'nii.gz'));
}

async function expected(c: Case, keys: { slice: number; mask: Uint8Array }[]): Promise<Volume> {
  const keySlices = [...keys].sort((a, b) => a.slice - b.slice).map((k) => ({ index: k.slice, empty: false, mask: k.mask, points: [], negativePoints: [] }));
  return (await segment(c.image, { axis: 2, labels: [{ value: 1, name: 'label_1', keySlices }] }, { engine: 'classic' })).labels;
}

function assertSameLabels(got: Volume, want: Volume, what: string): void {
  assert.equal(gridDifference(got, want), null, `${what}: geometry`);
  let diff = 0;
  for (let i = 0; i < want.data.length; i++) if (got.data[i] !== want.data[i]) diff++;
  assert.equal(diff, 0, `${what}: ${diff} voxels differ from segment()`);
}

/** Loads the app and opens a case's scan. */
async function openScan(page: Page, url: string, c: Case): Promise<void> {
  await page.goto(url);
  await state(page, 'empty');
  await page.setInputFiles(c.input ?? '#file', c.file);
  await state(page, 'ready');
}

/** Runs `f` on a new page, then checks that no request left 127.0.0.1 and nothing was logged as an error. */
async function onGuardedPage(browser: Browser, f: (page: Page) => Promise<void>): Promise<void> {
  const { page, offLoopback, errors } = await guardedPage(browser);
  await f(page);
  assert.deepEqual(offLoopback, []);
  assert.deepEqual(errors, []);
  await page.context().close();
}

/** The whole user story on one scan; returns the propagate timing of the first result. */
async function story(page: Page, url: string, c: Case, dir: string): Promise<{ firstVisibleMs: number; totalMs: number }> {
  await openScan(page, url, c);
  const [nu, nv, count] = c.image.size;
  const k = await page.evaluate(() => (globalThis as unknown as AppWindow).keyslice.currentSlice());
  assert.equal(k, Math.floor(count / 2));

  // Key slice drawn with the mouse on the organ: it lands on the organ in voxel order (orientation check).
  const truthK = truthSlice(c, k);
  await drawOutline(page, c, k, outline(truthK, nu, nv));
  const drawn = await keyMask(page, k);
  assert.ok(dice(drawn, truthK) > 0.85, `the drawn key slice overlaps the organ (Dice ${dice(drawn, truthK).toFixed(3)})`);
  const [gx, gy] = centroid(drawn, nu);
  const [tx, ty] = centroid(truthK, nu);
  assert.ok(Math.hypot(gx - tx, gy - ty) < 1, `the drawn key slice sits where it was drawn (${gx.toFixed(1)}, ${gy.toFixed(1)} vs ${tx.toFixed(1)}, ${ty.toFixed(1)})`);

  const timing = await propagateAndAccept(page);
  const first = await exportLabels(page, dir, 'first');
  assertSameLabels(first, await expected(c, [{ slice: k, mask: drawn }]), 'first result');

  // Correct the least certain propagated slice (picked from the strip) and propagate again.
  await page.click('#least');
  const s = await page.evaluate(() => (globalThis as unknown as AppWindow).keyslice.currentSlice());
  assert.notEqual(s, k);
  const truthS = truthSlice(c, s);
  const corrected = truthS.some((x) => x) ? truthS : truthK;
  await drawOutline(page, c, s, outline(corrected, nu, nv));
  const fix = await keyMask(page, s);
  await propagateAndAccept(page);
  const second = await exportLabels(page, dir, 'second');
  assertSameLabels(second, await expected(c, [{ slice: k, mask: drawn }, { slice: s, mask: fix }]), 'after the correction');

  // Undo back to the first result; redo forward again.
  await page.keyboard.press('Control+z');
  await settle(page);
  assertSameLabels(await exportLabels(page, dir, 'undone'), first, 'after undo');
  await page.keyboard.press('Control+y');
  await settle(page);
  assertSameLabels(await exportLabels(page, dir, 'redone'), second, 'after redo');

  // Meshes: one STL per label, the surface keyslice makes of the exported labels.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-meshes')]);
  const zipFile = path.join(dir, 'meshes.zip');
  await download.saveAs(zipFile);
  const files = unzipSync(new Uint8Array(fs.readFileSync(zipFile)));
  assert.deepEqual(Object.keys(files), ['1_label_1.stl']);
  const stl = files['1_label_1.stl'];
  const want = labelSurface(second as Volume<Uint8Array>, 1);
  assert.ok(want);
  assert.equal(new DataView(stl.buffer, stl.byteOffset).getUint32(80, true), want.triangles.length / 3);
  assert.equal(stl.length, 84 + 50 * (want.triangles.length / 3));
  return timing;
}

type Box4 = [number, number, number, number];

/** Drags the box tool from voxel (u0, v0) to voxel (u1, v1) of slice z. */
async function dragBox(page: Page, c: Case, z: number, [u0, v0, u1, v1]: Box4): Promise<void> {
  await page.click('[data-tool=box]');
  const a = await screenPoint(page, c, [u0, v0, z]);
  const b = await screenPoint(page, c, [u1, v1, z]);
  await page.mouse.move(...a);
  await page.mouse.down();
  await page.mouse.move((a[0] + b[0]) / 2, (a[1] + b[1]) / 2);
  await page.mouse.move(...b);
  await page.mouse.up();
  await settle(page);
}

/** The boxes of label 1's key slice `z` as the app sent them (`box` or `boxes`), and the rest of its prompt. */
async function sentBoxes(page: Page, z: number): Promise<{ boxes: Box4[]; prompt: Record<string, unknown> }> {
  const keys = await page.evaluate(() => (globalThis as unknown as AppWindow).keyslice.keyList(1));
  const k = keys.find((x) => x.slice === z);
  assert.ok(k?.prompt, `slice ${z} is a prompt key slice: ${JSON.stringify(keys)}`);
  const p = k.prompt;
  assert.ok(!(p.box && p.boxes), 'box or boxes, not both');
  if (p.boxes) assert.ok((p.boxes as unknown[]).length > 1, 'one box is sent as box');
  return { boxes: (p.boxes as Box4[] | undefined) ?? (p.box ? [p.box as Box4] : []), prompt: p };
}

function near(got: Box4, want: Box4): boolean {
  return got.every((x, i) => Math.abs(x - want[i]) <= 1);
}

/**
 * How far the box outline overlay is drawn (the highest alpha) within 2 pixels of the screen point of voxel
 * coordinates `p` (fractional: a box's edge lies half a voxel outside its edge voxels).
 */
async function outlineAt(page: Page, c: Case, p: [number, number, number]): Promise<number> {
  const q = await page.evaluate(([v, a]) => (globalThis as unknown as AppWindow).keyslice.canvasPointOfVoxel(v, a), [p, affineRas(c.image)] as [number[], number[]]);
  assert.ok(q);
  return page.$eval(
    '#boxes',
    (el, [x, y]) => {
      const canvas = el as unknown as { width: number; clientWidth: number; getContext(k: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } };
      const s = canvas.width / canvas.clientWidth;
      const d = canvas.getContext('2d').getImageData(Math.round(x * s) - 2, Math.round(y * s) - 2, 5, 5).data;
      let max = 0;
      for (let i = 3; i < d.length; i += 4) max = Math.max(max, d[i]);
      return max;
    },
    q as [number, number],
  );
}

/** Whether each box is outlined on screen: on the middle of its left and top edges, and not inside. */
async function outlined(page: Page, c: Case, z: number, boxes: Box4[]): Promise<boolean[]> {
  const out: boolean[] = [];
  for (const [u0, v0, u1, v1] of boxes) {
    const left = await outlineAt(page, c, [u0 - 0.5, (v0 + v1) / 2, z]);
    const top = await outlineAt(page, c, [(u0 + u1) / 2, v0 - 0.5, z]);
    const inside = await outlineAt(page, c, [(u0 + u1) / 2, (v0 + v1) / 2, z]);
    assert.equal(inside, 0, 'an outline, not a filled box');
    out.push(left > 0 && top > 0);
  }
  return out;
}

/** segment() of label 1 on the phantom with these prompt key slices, the app's labels to compare with. */
async function segmentPrompts(c: Case, keys: { slice: number; boxes: Box4[]; negativePoints?: [number, number][] }[]): Promise<Volume> {
  const keySlices = keys.map((k) => ({ index: k.slice, empty: false, ...(k.boxes.length === 1 ? { box: k.boxes[0] } : { boxes: k.boxes }), points: [], negativePoints: k.negativePoints ?? [] }));
  return (await segment(c.image, { axis: 2, labels: [{ value: 1, name: 'label_1', keySlices }] }, { engine: 'classic' })).labels;
}

/**
 * Several boxes on one key slice (one per object, as a user boxes each lesion): each drag adds a box, all are
 * sent and outlined; Delete removes the selected one (the last drawn, or one clicked with the box tool), undo
 * brings it back, a negative point joins the boxes; the result is segment() on the same boxes each time.
 */
async function boxesStory(page: Page, url: string, c: Case, dir: string): Promise<void> {
  await openScan(page, url, c);
  const k = await page.evaluate(() => (globalThis as unknown as AppWindow).keyslice.currentSlice());
  const organ: Box4 = [12, 14, 38, 32];
  const other: Box4 = [44, 38, 56, 52];
  await dragBox(page, c, k, organ);
  await dragBox(page, c, k, other);
  const two = await sentBoxes(page, k);
  assert.equal(two.boxes.length, 2, 'the second box is added, not swapped for the first');
  assert.ok(near(two.boxes[0], organ) && near(two.boxes[1], other), `boxes ${JSON.stringify(two.boxes)}`);
  assert.deepEqual(await outlined(page, c, k, two.boxes), [true, true], 'both boxes are outlined');
  assert.equal((await page.evaluate(() => (globalThis as unknown as AppWindow).keyslice.boxRects())).length, 2);
  await propagateAndAccept(page);
  const both = await exportLabels(page, dir, 'boxes-two');
  assertSameLabels(both, await segmentPrompts(c, [{ slice: k, boxes: two.boxes }]), 'two boxes on a slice');

  // Delete removes the last drawn box: the other one is sent alone, as `box`.
  await page.keyboard.press('Delete');
  await settle(page);
  const one = await sentBoxes(page, k);
  assert.deepEqual(one.boxes, [two.boxes[0]]);
  assert.ok('box' in one.prompt);
  assert.deepEqual(await outlined(page, c, k, two.boxes), [true, false], 'the removed box is no longer outlined');
  await propagateAndAccept(page);
  assertSameLabels(await exportLabels(page, dir, 'boxes-one'), await segmentPrompts(c, [{ slice: k, boxes: [two.boxes[0]] }]), 'one box left');

  // Undo brings the box back (sent and outlined); the labels are those of the two boxes again.
  await page.keyboard.press('Control+z');
  await settle(page);
  assert.deepEqual((await sentBoxes(page, k)).boxes, two.boxes);
  assert.deepEqual(await outlined(page, c, k, two.boxes), [true, true]);
  assertSameLabels(await exportLabels(page, dir, 'boxes-undone'), both, 'after undo');

  // A click inside the first box (box tool) selects it; Delete removes that one; a negative point joins the box left.
  await page.click('[data-tool=box]');
  await page.mouse.click(...(await screenPoint(page, c, [20, 20, k])));
  await settle(page);
  assert.match((await page.textContent('#status')) ?? '', /box 1 of 2 .*selected/);
  await page.click('#remove-box');
  await settle(page);
  assert.deepEqual((await sentBoxes(page, k)).boxes, [two.boxes[1]]);
  await page.click('[data-tool=negative]');
  await page.mouse.click(...(await screenPoint(page, c, [50, 45, k])));
  await settle(page);
  const last = await sentBoxes(page, k);
  assert.deepEqual(last.boxes, [two.boxes[1]], 'the box stays with the point');
  assert.deepEqual(last.prompt.negativePoints, [[50, 45]]);
  await propagateAndAccept(page);
  assertSameLabels(await exportLabels(page, dir, 'boxes-negative'), await segmentPrompts(c, [{ slice: k, boxes: [two.boxes[1]], negativePoints: [[50, 45]] }]), 'a box and a negative point');
}

describe('annotation app in a real browser', { skip }, () => {
  const tmp = tempDir('keyslice-app-');
  let browser: Browser;
  let staticSite: { url: string; close(): Promise<void> };
  let server: RunningServer;
  const cases = new Map<string, Case>();

  before(async () => {
    const site = path.join(tmp.dir, 'site');
    const r = runCli(['app', '--out', site]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(fs.existsSync(path.join(site, 'worker.js')));
    staticSite = await staticServer(site);
    server = await testServer(path.join(tmp.dir, 'data'));
    browser = await launchBrowser();
    for (const o of Object.keys(ORIENTATIONS)) cases.set(o, await makeCase(tmp.dir, o));
    cases.set('LPS.nrrd', await makeCase(tmp.dir, 'LPS', 'nrrd'));
    cases.set('DICOM', await makeDicomCase(tmp.dir, cases.get('LPS') as Case));
  });
  after(async () => {
    await browser?.close();
    await staticSite?.close();
    await server?.close();
    tmp.cleanup();
  });

  for (const o of Object.keys(ORIENTATIONS)) {
    it(`local mode, ${o}: the layout agrees with NiiVue's and the user story holds`, async () => {
      const c = cases.get(o) as Case;
      const { page, offLoopback, errors } = await guardedPage(browser);
      await story(page, `${staticSite.url}/`, c, tmp.dir);
      const niivue = await page.evaluate(() => (globalThis as unknown as AppWindow).keyslice.layout);
      assert.deepEqual(niivue, rasLayout(c.image), 'NiiVue reorients the image as rasLayout() computes');
      assert.deepEqual(offLoopback, []);
      assert.deepEqual(errors, []);
      await page.context().close();
    });
  }

  it('local mode, NRRD: the in-page engine gets the image as NiiVue read it', async () => {
    const c = cases.get('LPS.nrrd') as Case;
    const { page, offLoopback, errors } = await guardedPage(browser);
    await story(page, `${staticSite.url}/`, c, tmp.dir);
    assert.deepEqual(offLoopback, []);
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  it('local mode, tools: box, points, "absent here", arrow keys, window keys, lock, reject', async () => {
    const c = cases.get('LAS') as Case;
    const { page, offLoopback, errors } = await guardedPage(browser);
    await page.goto(`${staticSite.url}/`);
    await state(page, 'empty');
    // A file that is no image: a clear message naming it, and the app stays usable.
    await page.setInputFiles('#file', { name: 'notes.nii.gz', mimeType: 'application/gzip', buffer: Buffer.from('not an image at all') });
    await page.waitForFunction(() => (globalThis as unknown as AppWindow).document.body.dataset.state === 'error', null, { timeout: 30_000 });
    assert.match((await page.textContent('#status')) ?? '', /notes\.nii\.gz/);
    await page.setInputFiles('#file', c.file);
    await page.waitForFunction(() => (globalThis as unknown as AppWindow).document.body.dataset.state !== 'error', null, { timeout: 30_000 });
    await state(page, 'ready');
    const [nu, nv] = c.image.size;
    const app = () => page.evaluate(() => (globalThis as unknown as AppWindow).keyslice.currentSlice());
    const k = await app();

    // Window presets on the number keys.
    await page.keyboard.press('3');
    assert.equal(await page.inputValue('#wl'), '400/1800');
    await page.keyboard.press('1');
    assert.equal(await page.inputValue('#wl'), '40/400');

    // A box around the organ on slice k.
    const truthK = truthSlice(c, k);
    let [u0, v0, u1, v1] = [nu, nv, -1, -1];
    truthK.forEach((x, i) => {
      if (!x) return;
      const [u, v] = [i % nu, Math.floor(i / nu)];
      [u0, v0, u1, v1] = [Math.min(u0, u), Math.min(v0, v), Math.max(u1, u), Math.max(v1, v)];
    });
    await dragBox(page, c, k, [u0, v0, u1, v1]);

    // Two slices up (arrow keys), a positive point in the organ.
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('ArrowUp');
    assert.equal(await app(), k + 2);
    const [px, py] = centroid(truthSlice(c, k + 2), nu);
    await page.click('[data-tool=point]');
    await page.mouse.click(...(await screenPoint(page, c, [Math.round(px), Math.round(py), k + 2])));
    await settle(page);

    // Down to the first slice: the organ is absent there.
    for (let i = 0; i < k + 2; i++) await page.keyboard.press('ArrowDown');
    assert.equal(await app(), 0);
    await page.click('#absent');
    await settle(page);

    const keys = await page.evaluate(() => (globalThis as unknown as AppWindow).keyslice.keyList(1));
    assert.deepEqual(keys.map((x) => [x.slice, x.kind]), [[0, 'absent'], [k, 'prompt'], [k + 2, 'prompt']]);
    const box = keys[1].prompt?.box as number[];
    assert.ok(Math.abs(box[0] - u0) <= 1 && Math.abs(box[1] - v0) <= 1 && Math.abs(box[2] - u1) <= 1 && Math.abs(box[3] - v1) <= 1, `box ${box} around ${[u0, v0, u1, v1]}`);
    const pt = (keys[2].prompt?.points as number[][])[0];
    assert.ok(Math.hypot(pt[0] - px, pt[1] - py) <= 1.5, `point ${pt} at ${px}, ${py}`);

    // The export equals segment() on the same prompts.
    await page.click('[data-tool=fill]');
    await propagateAndAccept(page);
    const got = await exportLabels(page, tmp.dir, 'tools');
    const keySlices = keys.map((x) => ({
      index: x.slice,
      empty: x.kind === 'absent',
      ...(x.prompt?.box ? { box: x.prompt.box as [number, number, number, number] } : {}),
      points: (x.prompt?.points as [number, number][] | undefined) ?? [],
      negativePoints: [],
    }));
    const want = (await segment(c.image, { axis: 2, labels: [{ value: 1, name: 'label_1', keySlices }] }, { engine: 'classic' })).labels;
    assertSameLabels(got, want, 'box, point and absent key slices');

    // A second label drawn over a locked first one leaves the first one's voxels alone; Esc rejects its preview.
    await page.evaluate((s) => (globalThis as unknown as AppWindow & { keyslice: { goToSlice(s: number): void } }).keyslice.goToSlice(s), k);
    const before = await keyMask(page, k);
    assert.ok(before.some((x) => x));
    await page.locator('#labels li[data-label="1"] .lock').check();
    await page.click('#add-label');
    const [cx, cy] = centroid(before, nu);
    const right = Math.min(nu - 2, cx + 24);
    await drawOutline(page, c, k, [[cx, cy - 4], [right, cy - 4], [right, cy + 4], [cx, cy + 4]]);
    assert.deepEqual(await keyMask(page, k), before, 'the locked label is unchanged');
    const second = Uint8Array.from(await page.evaluate((s) => (globalThis as unknown as AppWindow).keyslice.keyMask(2, s), k));
    assert.ok(second.some((x) => x), 'the second label was drawn');
    assert.ok(second.every((x, i) => !(x && before[i])), 'and only outside the locked one');
    await page.click('#propagate');
    await state(page, 'preview');
    await page.keyboard.press('Escape');
    await state(page, 'ready');
    const other = Uint8Array.from(await page.evaluate((s) => (globalThis as unknown as AppWindow).keyslice.keyMask(2, s), k + 1));
    assert.ok(!other.some((x) => x), 'the rejected preview is gone');
    assert.deepEqual(Uint8Array.from(await page.evaluate((s) => (globalThis as unknown as AppWindow).keyslice.keyMask(2, s), k)), second, 'the key slice stays');
    assert.deepEqual(offLoopback, []);
    // NiiVue reports the unreadable file on the console itself; nothing else may be there.
    assert.deepEqual(errors.filter((e) => !/does not appear to be NIFTI|Failed to parse NIfTI file notes\.nii\.gz/.test(e)), []);
    await page.context().close();
  });

  for (const o of Object.keys(ORIENTATIONS)) {
    it(`remote mode, ${o}: the same story on a keyslice server session`, async () => {
      const c = cases.get(o) as Case;
      const { page, offLoopback, errors } = await guardedPage(browser);
      await story(page, `${server.url}/`, c, tmp.dir);
      assert.equal(await page.evaluate(() => (globalThis as unknown as AppWindow).keyslice.mode), 'remote');
      assert.deepEqual(offLoopback, []);
      assert.deepEqual(errors, []);
      await page.context().close();
    });
  }

  for (const mode of ['local', 'remote'] as const) {
    it(`${mode} mode: several boxes on a key slice are each sent and outlined, removed one by one, undone`, async () => {
      const url = `${mode === 'local' ? staticSite.url : server.url}/`;
      await onGuardedPage(browser, (page) => boxesStory(page, url, cases.get('LAS') as Case, tmp.dir));
    });
  }

  it('local mode: a prompts file with several boxes on a slice opens with all of them; Save prompts writes it back', async () => {
    const c = cases.get('LPS') as Case;
    await onGuardedPage(browser, async (page) => {
      await openScan(page, `${staticSite.url}/`, c);
      const k = await page.evaluate(() => (globalThis as unknown as AppWindow).keyslice.currentSlice());
      const boxes: Box4[] = [[12, 14, 24, 24], [26, 20, 38, 32], [44, 38, 56, 52]];
      const doc = { version: 1, sliceAxis: 2, labels: [{ value: 1, name: 'lesions', color: [250, 180, 0], keySlices: [{ slice: k, boxes }, { slice: 0, empty: true }] }] };
      const file = path.join(tmp.dir, 'lesions.json');
      fs.writeFileSync(file, JSON.stringify(doc));
      await page.setInputFiles('#prompts-file', file);
      await settle(page);
      assert.match((await page.textContent('#status')) ?? '', /lesions\.json: 2 key slice\(s\) with 3 box\(es\)/);
      assert.deepEqual((await sentBoxes(page, k)).boxes, boxes);
      assert.deepEqual(await outlined(page, c, k, boxes), [true, true, true], 'every box of the file is outlined');
      await propagateAndAccept(page);
      const want = (await segment(c.image, { axis: 2, labels: [{ value: 1, name: 'lesions', keySlices: [{ index: 0, empty: true, points: [], negativePoints: [] }, { index: k, empty: false, boxes, points: [], negativePoints: [] }] }] }, { engine: 'classic' })).labels;
      assertSameLabels(await exportLabels(page, tmp.dir, 'from-prompts'), want, 'the prompts file');
      // Save prompts: the same key slices, read back by keyslice's own parser.
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#save-prompts')]);
      const saved = path.join(tmp.dir, 'saved-prompts.json');
      await download.saveAs(saved);
      const back = parsePromptsText(fs.readFileSync(saved, 'utf8'), saved);
      assert.deepEqual(back.labels.map((l) => [l.value, l.name, l.color]), [[1, 'lesions', [250, 180, 0]]]);
      assert.deepEqual(back.labels[0].keySlices, [{ slice: 0, empty: true }, { slice: k, boxes }]);
      // A file that does not fit the scan is refused, naming it, and changes nothing.
      const bad = path.join(tmp.dir, 'bad.json');
      fs.writeFileSync(bad, JSON.stringify({ version: 1, labels: [{ value: 1, keySlices: [{ slice: k, boxes: [[1, 1, 5, 5], [60, 60, 70, 70]] }] }] }));
      await page.setInputFiles('#prompts-file', bad);
      await settle(page);
      assert.match((await page.textContent('#status')) ?? '', /^INVALID_PROMPTS: bad\.json: .*box corner \[70,70\] lies outside the slice/);
      assert.deepEqual((await sentBoxes(page, k)).boxes, boxes);
      // The same file picked again, mended, is read again.
      fs.writeFileSync(bad, JSON.stringify({ version: 1, labels: [{ value: 1, keySlices: [{ slice: k, boxes: [[1, 1, 5, 5], [50, 50, 60, 60]] }] }] }));
      await page.setInputFiles('#prompts-file', bad);
      await settle(page);
      assert.deepEqual((await sentBoxes(page, k)).boxes, [[1, 1, 5, 5], [50, 50, 60, 60]]);
    });
  });

  it('local mode, DICOM folder with two series: the user chooses one; cancelling opens nothing', async () => {
    const c = cases.get('DICOM') as Case;
    const folder = path.join(tmp.dir, 'two-series');
    fs.mkdirSync(folder, { recursive: true });
    for (const f of fs.readdirSync(c.file)) fs.copyFileSync(path.join(c.file, f), path.join(folder, f));
    const scout = writeCtSeries(folder, { nx: 24, ny: 20, nz: 5, spacing: [1.5, 1.5, 3], origin: [0, 0, 0], value: (x, y) => 1024 + 10 * ((x + y) % 7), description: 'scout', prefix: 'scout' });
    const { page, offLoopback, errors } = await guardedPage(browser);
    await page.goto(`${staticSite.url}/`);
    await state(page, 'empty');
    const entries = async () => page.$$eval('#series-dialog .series-item', (rows) =>
        rows.map((r) => {
          const input = r.querySelector('input') as unknown as { value: string; checked: boolean };
          return { text: r.textContent ?? '', uid: input.value, checked: input.checked };
        }),
      );
    // Cancelling (Esc) opens nothing and leaves the app as it was.
    await page.setInputFiles('#folder', folder);
    await state(page, 'choosing');
    const listed = await entries();
    assert.deepEqual(listed.map((e) => e.uid), [c.series, scout], 'the series with the most files first');
    assert.deepEqual(listed.map((e) => e.checked), [true, false], 'the largest series is selected');
    assert.match(listed[0].text, new RegExp(`CT "phantom CT" · ${c.image.size[2]} files`));
    assert.match(listed[1].text, /CT "scout" · 5 files/);
    await page.keyboard.press('Escape');
    await state(page, 'empty');
    assert.match((await page.textContent('#status')) ?? '', /two-series: no series opened/);
    // Choosing the smaller series opens it, and the status names the other.
    await page.setInputFiles('#folder', folder);
    await state(page, 'choosing');
    await page.click(`#series-dialog input[value="${scout}"]`);
    await page.click('#series-dialog .series-open');
    await state(page, 'ready');
    const status = (await page.textContent('#status')) ?? '';
    assert.match(status, /^two-series: 5 slices of 24 x 20 /);
    assert.ok(status.includes(c.series as string), 'the status names the series not opened');
    assert.deepEqual(offLoopback, []);
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  for (const mode of ['local', 'remote'] as const) {
    it(`${mode} mode, DICOM folder: the series opens with the Node reader's geometry; DICOM SEG and .seg.nrrd exports read back`, async () => {
      const c = cases.get('DICOM') as Case;
      const { page, offLoopback, errors } = await guardedPage(browser);
      const timing = await story(page, `${mode === 'local' ? staticSite.url : server.url}/`, c, tmp.dir);
      console.log(`# ${mode} mode, DICOM ${c.image.size.join('x')}: propagate to first visible slice ${timing.firstVisibleMs.toFixed(0)} ms, to the whole preview ${timing.totalMs.toFixed(0)} ms`);
      assert.equal(await page.evaluate(() => (globalThis as unknown as AppWindow).keyslice.mode), mode);
      const labels = await exportLabels(page, tmp.dir, `dicom-${mode}`);
      assert.equal(gridDifference(labels, c.image), null, 'the labels lie on the grid the Node reader gives the series');
      assert.ok(labels.data.some((x) => x), 'the labels hold the result');
      // DICOM SEG: one segment (label_1), on the series' grid, referencing the series.
      const seg = await exportFile(page, tmp.dir, `dicom-${mode}`, 'dcm');
      await checkSeg(seg, labels as Volume<Uint8Array>, labelInfos([1], [{ value: 1, name: 'label_1' }]), c.series);
      // .seg.nrrd: the same labels, the segment named.
      const nrrd = parseSegNrrd(new Uint8Array(fs.readFileSync(await exportFile(page, tmp.dir, `dicom-${mode}`, 'seg.nrrd'))), 'seg.nrrd');
      assert.equal(gridDifference(nrrd.labels, labels), null);
      assert.deepEqual(Array.from(nrrd.labels.data), Array.from(labels.data));
      assert.deepEqual(nrrd.segments.map((x) => [x.value, x.name]), [[1, 'label_1']]);
      // Dropping the series' files on the view opens the series too.
      const dropped = fs.readdirSync(c.file).map((name) => ({ name, b64: fs.readFileSync(path.join(c.file, name)).toString('base64') }));
      await page.evaluate((files) => {
        const g = globalThis as unknown as DropWindow;
        const dt = new g.DataTransfer();
        for (const f of files) dt.items.add(new File([Uint8Array.from(atob(f.b64), (ch) => ch.charCodeAt(0))], f.name));
        g.document.getElementById('view').dispatchEvent(new g.DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      }, dropped);
      await page.waitForFunction((n) => new RegExp(`^files: ${n} slices`).test((globalThis as unknown as DropWindow).document.getElementById('status').textContent ?? ''), c.image.size[2], { timeout: 60_000 });
      assert.equal(await page.evaluate(() => (globalThis as unknown as AppWindow).keyslice.currentSlice()), Math.floor(c.image.size[2] / 2));
      assert.deepEqual(offLoopback, []);
      // The DICOM SEG writer (dcmqi) warns on its error stream about the fixture's absent type 2 attributes.
      assert.deepEqual(errors.filter((e) => !/^W: /.test(e)), []);
      await page.context().close();
    });
  }
});
