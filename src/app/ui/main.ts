/**
 * The keyslice annotation app: open a scan, draw key slices per label, propagate, review by confidence, correct
 * and propagate again, undo and redo, export. The same page runs the session in a Web Worker (local mode, the
 * scan never leaves the machine) or on the `keyslice serve` server it was loaded from (remote mode).
 */
import { defaultColor, slicerColorTable, type Rgb } from '../../labels/label-table.js';
import { boundingBox2d } from '../../morphology/binary.js';
import type { Box } from '../../annotations/types.js';
import type { KeySlicePrompt, Revision, SliceUpdate } from '../../session/types.js';
import { inPlaneAxes, type SliceAxis, type Vec3 } from '../../volume/volume.js';
import type { ExportFormat, OpenedScan, SessionPort } from '../port.js';
import { niftiToBytes } from '../../volume/nifti-bytes.js';
import { promptsDocument, readPromptsFor, type PromptsSlice } from '../prompts-file.js';
import { boxCornersRas, changedSlices, rasAxisOfVoxelAxis, sliceFromRas, sliceToRas, voxelOfRas, type RasLayout } from '../ras.js';
import { leastCertainSlice, presetRange, WINDOW_PRESETS } from '../review.js';
import { boxAt, isClick, sessionPrompt, slicePromptOf, withBox, withoutBox, withPoint, type SlicePrompt } from '../slice-prompts.js';
import { SnapshotStore, type ConfidenceMap, type PromptMap } from '../snapshots.js';
import { folderSeries, readDicomFolder, type FolderFile } from './dicom.js';
import { fromDrop, fromInput, type Opened } from './drop.js';
import { chooseSeries } from './series-chooser.js';
import { LocalPort } from './port-local.js';
import { RemotePort } from './port-remote.js';
import { drawStrip, stripSliceAt } from './strip.js';
import { BOX_PEN, Viewer, type BoxOutline, type Layout, type Tool } from './viewer.js';

interface LabelRow {
  value: number;
  name: string;
  color: Rgb;
  visible: boolean;
  locked: boolean;
}

type KeyKind = 'mask' | 'prompt' | 'absent';

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from the page`);
  return el as T;
};

function pageMode(): 'local' | 'remote' {
  const q = new URLSearchParams(location.search).get('mode');
  if (q === 'local' || q === 'remote') return q;
  return document.querySelector('meta[name="keyslice-mode"]')?.getAttribute('content') === 'remote' ? 'remote' : 'local';
}

function download(bytes: Uint8Array | string, name: string): void {
  const blob = new Blob([bytes as BlobPart], { type: 'application/octet-stream' });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

export class App {
  viewer!: Viewer;
  port: SessionPort;
  scan: OpenedScan | null = null;
  layout: RasLayout | null = null;
  fileName = '';
  /** What opening the scan chose or repaired, for the user. */
  notes: string[] = [];
  labels: LabelRow[] = [{ value: 1, name: 'label_1', color: defaultColor(1), visible: true, locked: false }];
  active = 1;
  tool: Tool = 'fill';
  penSize = 1;
  /** The drawing as the session knows it (the bitmap before the user's current stroke). */
  shown: Uint8Array = new Uint8Array(0);
  confidence: ConfidenceMap = new Map();
  keys = new Map<number, Map<number, KeyKind>>();
  /** The boxes and points held per key slice, by `label:slice` (negative points alone wait for a positive prompt). */
  prompts: PromptMap = new Map();
  /** The selected box (Delete removes it): the last drawn unless one was clicked. */
  selected: { key: string; index: number } | null = null;
  snapshots = new SnapshotStore();
  /** Revision ids at the end of each app action (undo and redo step between them). */
  done: number[] = [];
  undone: number[] = [];
  preview = false;
  beforePreview: { drawing: Uint8Array; confidence: ConfidenceMap } | null = null;
  suggested: number | null = null;
  busy: Promise<unknown> = Promise.resolve();
  running: AbortController | null = null;
  /** Milliseconds from pressing Propagate to the first propagated slice on screen, and to the end. */
  timing: { firstVisibleMs: number; totalMs: number } | null = null;
  /** A session worker used only to make surfaces in remote mode. */
  meshWorker: LocalPort | null = null;

  constructor(readonly mode: 'local' | 'remote') {
    this.port = mode === 'local' ? new LocalPort(new URL('./worker.js', import.meta.url)) : new RemotePort(location.origin, new URLSearchParams(location.search).get('token') ?? undefined);
  }

  get axis(): SliceAxis {
    return (this.scan?.axis ?? 2) as SliceAxis;
  }

  /** Runs actions one after another (edits, propagation, undo): the session sees them in order. */
  queue<T>(f: () => Promise<T>): Promise<T> {
    const run = this.busy.then(f, f);
    this.busy = run.catch((err: unknown) => this.fail(err));
    return run;
  }

  status(text: string): void {
    $('status').textContent = text;
  }

  fail(err: unknown): void {
    const e = err as Error & { code?: string };
    this.status(`${e.code ? `${e.code}: ` : ''}${e.message}`);
    document.body.dataset.state = 'error';
  }

  // ---- opening ---------------------------------------------------------------------------------------------

  /** Opens an image file (NIfTI, NRRD, MetaImage). */
  open(name: string, bytes: Uint8Array): Promise<void> {
    return this.start(name, async () => {
      await this.viewer.load(name, bytes);
      if (this.viewer.nv.volumes.length === 0) throw new Error('the viewer could not read it as an image');
      return this.port.open(name, bytes, () => this.viewer.volume());
    });
  }

  /**
   * Opens a DICOM series of a folder's files: when the folder holds several image series the user chooses one
   * (cancelling keeps what is open); the series is read in the page (its geometry as keyslice's Node reader gives
   * it), shown as NIfTI, and handed to the session as a volume (local) or as a zip of its files (remote).
   */
  async openFolder(name: string, files: FolderFile[]): Promise<void> {
    let chosen: string | undefined;
    const list = named(name, () => folderSeries(name, files));
    if (list.length > 1) {
      const state = document.body.dataset.state;
      document.body.dataset.state = 'choosing';
      const uid = await chooseSeries(name, list);
      document.body.dataset.state = state;
      if (uid === null) {
        this.status(`${name}: no series opened`);
        return;
      }
      chosen = uid;
    }
    return this.start(name, async () => {
      this.status(`reading the DICOM series in ${name} (${files.length} files)…`);
      const series = await readDicomFolder(name, files, chosen === undefined ? {} : { series: chosen });
      await this.viewer.load(`${name}.nii`, niftiToBytes(series.volume, false));
      if (this.viewer.nv.volumes.length === 0) throw new Error('the viewer could not show the series');
      const opened = await this.port.openSeries(name, series);
      this.notes = series.notes;
      return opened;
    });
  }

  private async start(name: string, load: () => Promise<OpenedScan>): Promise<void> {
    document.body.dataset.state = 'opening';
    this.status(`opening ${name}…`);
    this.scan = null;
    this.notes = [];
    try {
      this.scan = await load();
    } catch (err) {
      throw namedError(name, err);
    }
    this.fileName = name;
    this.layout = this.viewer.layout();
    const n = this.layout.dims[0] * this.layout.dims[1] * this.layout.dims[2];
    if (this.viewer.bitmap.length !== n) throw new Error('the drawing does not match the image grid');
    const sizeAlongAxis = this.layout.dims[rasAxisOfVoxelAxis(this.layout, this.axis)];
    if (sizeAlongAxis !== this.scan.count) throw new Error(`the viewer and the session disagree on the slice count (${sizeAlongAxis} vs ${this.scan.count})`);
    this.shown = new Uint8Array(n);
    this.confidence = new Map();
    this.keys = new Map();
    this.prompts = new Map();
    this.selected = null;
    this.snapshots.clear();
    const rev = await this.port.revision();
    this.done = [rev.id];
    this.undone = [];
    this.preview = false;
    this.snapshots.put(rev.id, this.shown, this.confidence, this.prompts);
    const r = rasAxisOfVoxelAxis(this.layout, this.axis);
    this.setLayout((['sagittal', 'coronal', 'axial'] as const)[r]);
    this.goToSlice(Math.floor(this.scan.count / 2));
    this.applyPreset(this.guessPreset());
    this.applyTool();
    this.render();
    this.renderFormats();
    const notes = this.notes.length ? ` (${this.notes.join('; ')})` : '';
    this.status(`${name}: ${this.scan.count} slices of ${this.scan.nu} x ${this.scan.nv} (${this.port.mode} engine ${this.scan.engine}); draw a key slice${notes}`);
    document.body.dataset.state = 'ready';
  }

  guessPreset(): number {
    const v = this.viewer.voxels();
    let min = Infinity;
    for (let i = 0; i < v.length; i += 97) min = Math.min(min, v[i]);
    return min < -500 ? 0 : 4;
  }

  // ---- slices ------------------------------------------------------------------------------------------------

  currentSlice(): number {
    if (!this.layout) return 0;
    const r = rasAxisOfVoxelAxis(this.layout, this.axis);
    const ri = this.viewer.crosshairRas()[r];
    return this.layout.flip[r] ? this.layout.dims[r] - 1 - ri : ri;
  }

  goToSlice(s: number): void {
    if (!this.layout || !this.scan) return;
    const slice = Math.max(0, Math.min(this.scan.count - 1, s));
    const r = rasAxisOfVoxelAxis(this.layout, this.axis);
    this.viewer.goTo(r, this.layout.flip[r] ? this.layout.dims[r] - 1 - slice : slice);
    this.renderStrip();
    this.renderBoxes();
  }

  keysOf(label: number): Map<number, KeyKind> {
    let m = this.keys.get(label);
    if (!m) this.keys.set(label, (m = new Map()));
    return m;
  }

  async refreshKeys(labels: Iterable<number>): Promise<void> {
    for (const l of new Set(labels)) {
      const list = await this.port.keySlices(l).catch(() => []);
      this.keys.set(l, new Map(list.map((k) => [k.slice, k.kind])));
    }
  }

  // ---- edits -------------------------------------------------------------------------------------------------

  label(value: number): LabelRow | undefined {
    return this.labels.find((l) => l.value === value);
  }

  /** Takes the user's stroke: locked labels are restored, each changed slice of each label goes to the session. */
  onDrawn(): void {
    void this.queue(async () => {
      if (!this.layout || !this.scan) return;
      const cur = this.viewer.bitmap;
      for (let i = 0; i < cur.length; i++) {
        const old = this.shown[i];
        if (old !== cur[i] && old !== 0 && this.label(old)?.locked) cur[i] = old;
      }
      // A box stroke: its bounding box per slice, then the pixels under it as they were.
      const boxes: { slice: number; box: [number, number, number, number] }[] = [];
      for (const s of changedSlices(this.shown, cur, this.layout, this.axis)) {
        const box = boundingBox2d(sliceFromRas(cur, this.layout, this.axis, s, BOX_PEN), this.scan.nu, this.scan.nv);
        if (box) boxes.push({ slice: s, box });
      }
      if (boxes.length > 0) for (let i = 0; i < cur.length; i++) if (cur[i] === BOX_PEN) cur[i] = this.shown[i];
      const edits: { label: number; slice: number; mask: Uint8Array }[] = [];
      for (const s of changedSlices(this.shown, cur, this.layout, this.axis)) {
        for (const l of this.labels) {
          const before = sliceFromRas(this.shown, this.layout, this.axis, s, l.value);
          const after = sliceFromRas(cur, this.layout, this.axis, s, l.value);
          if (!before.every((x, i) => x === after[i])) edits.push({ label: l.value, slice: s, mask: after });
        }
      }
      const touched: number[] = [];
      for (const { slice, box } of boxes) {
        // A click with the box tool selects the box under it; a drag adds a box to the slice's boxes.
        if (isClick(box)) this.selectBoxAt(slice, [box[0], box[1]]);
        else {
          await this.addBox(slice, box);
          touched.push(this.active);
        }
      }
      for (const e of edits) {
        this.prompts.delete(`${e.label}:${e.slice}`);
        const empty = !e.mask.some((x) => x);
        const keyed = this.keysOf(e.label).has(e.slice);
        const propagated = Number.isFinite(this.confidence.get(e.label)?.[e.slice] ?? NaN);
        if (empty && keyed && !propagated) await this.port.removeKeySlice(e.label, e.slice);
        else if (propagated || keyed) await this.port.correct(e.label, e.slice, e.mask);
        else await this.port.setKeySlice(this.labelRef(e.label), e.slice, { mask: e.mask });
        touched.push(e.label);
      }
      this.shown = cur.slice();
      this.viewer.refresh();
      if (touched.length > 0) await this.endAction(touched);
    });
  }

  labelRef(value: number): { value: number; name?: string } {
    const l = this.label(value);
    return l ? { value, name: l.name } : { value };
  }

  async endAction(labels: number[]): Promise<Revision> {
    await this.refreshKeys(labels);
    const rev = await this.port.revision();
    this.done.push(rev.id);
    this.undone = [];
    this.snapshots.put(rev.id, this.shown, this.confidence, this.prompts);
    this.render();
    this.status(`${rev.edit}; ${(await this.port.pending()).length ? 'press Propagate' : 'nothing to propagate'}`);
    return rev;
  }

  /**
   * Sends a label's held boxes and points on a slice to the session (one box as `box`, several as `boxes`); where
   * nothing is left to segment from, the slice stops being a key slice. False when the session was not changed.
   */
  async sendPrompt(label: number, slice: number, prompt: SlicePrompt): Promise<boolean> {
    const key = sessionPrompt(prompt);
    const keyed = this.keysOf(label).get(slice) === 'prompt';
    if (key) await this.port.setKeySlice(this.labelRef(label), slice, key);
    else if (keyed) await this.port.removeKeySlice(label, slice);
    this.prompts.set(`${label}:${slice}`, prompt);
    return key !== null || keyed;
  }

  /** A label's boxes and points held on a slice (none where the slice is a mask or "absent" key slice). */
  heldPrompt(label: number, slice: number): SlicePrompt | undefined {
    const kind = this.keysOf(label).get(slice);
    return kind === 'mask' || kind === 'absent' ? undefined : this.prompts.get(`${label}:${slice}`);
  }

  /** Adds a box to the active label's boxes on a slice (the others stay) and selects it. */
  async addBox(slice: number, box: Box): Promise<void> {
    const next = withBox(this.heldPrompt(this.active, slice), box);
    await this.sendPrompt(this.active, slice, next);
    this.selected = { key: `${this.active}:${slice}`, index: next.boxes.length - 1 };
  }

  /** The index of the selected box among a label's boxes on a slice: the clicked one, else the last drawn; -1: none. */
  selectedBox(label: number, slice: number): number {
    const key = `${label}:${slice}`;
    const n = this.heldPrompt(label, slice)?.boxes.length ?? 0;
    if (n === 0) return -1;
    return this.selected?.key === key && this.selected.index < n ? this.selected.index : n - 1;
  }

  /** Selects the active label's box under in-plane voxel `[u, v]` of a slice. */
  selectBoxAt(slice: number, at: [number, number]): void {
    const key = `${this.active}:${slice}`;
    const boxes = this.heldPrompt(this.active, slice)?.boxes ?? [];
    const i = boxAt(boxes, at);
    if (i < 0) {
      this.status('drag to draw a box; click inside a box to select it (Delete removes it)');
      return;
    }
    this.selected = { key, index: i };
    this.renderBoxes();
    this.status(`box ${i + 1} of ${boxes.length} on slice ${slice} selected: Delete removes it`);
  }

  /** Selects the active label's box under a click on the view (CSS pixels of the canvas) on the current slice. */
  selectBoxAtCanvas(x: number, y: number): void {
    const ras = this.layout && this.viewer.voxelAt(x, y);
    if (!this.layout || !ras) return;
    const vox = voxelOfRas(this.layout, ras);
    const [ua, va] = inPlaneAxes(this.axis);
    if (vox[this.axis] === this.currentSlice()) this.selectBoxAt(vox[this.axis], [vox[ua], vox[va]]);
  }

  /** Removes the selected box of the active label on the current slice (its other boxes and points stay). */
  removeBox(): void {
    void this.queue(async () => {
      if (!this.scan || this.label(this.active)?.locked) return;
      const s = this.currentSlice();
      const i = this.selectedBox(this.active, s);
      const held = this.heldPrompt(this.active, s);
      if (i < 0 || !held) {
        this.status('no box of the active label on this slice');
        return;
      }
      const next = withoutBox(held, i);
      await this.sendPrompt(this.active, s, next);
      this.selected = null;
      await this.endAction([this.active]);
    });
  }

  /** A point prompt at the crosshair (positive or negative) on the current slice of the active label. */
  addPoint(negative: boolean): void {
    void this.queue(async () => {
      if (!this.layout || !this.scan || this.label(this.active)?.locked) return;
      const vox = voxelOfRas(this.layout, this.viewer.crosshairRas());
      const s = vox[this.axis];
      const [ua, va] = inPlaneAxes(this.axis);
      const next = withPoint(this.heldPrompt(this.active, s), [vox[ua], vox[va]], negative);
      if (!(await this.sendPrompt(this.active, s, next))) {
        this.status('add a positive point or a box first');
        return;
      }
      await this.endAction([this.active]);
    });
  }

  /** "Absent here": the active label has no voxel on the current slice. */
  markAbsent(): void {
    void this.queue(async () => {
      if (!this.layout || !this.scan) return;
      const s = this.currentSlice();
      await this.setAbsent(this.active, s);
      this.viewer.bitmap.set(this.shown);
      this.viewer.refresh();
      await this.endAction([this.active]);
    });
  }

  /** Marks a label absent on a slice and clears it there in the drawing (the caller shows the drawing). */
  async setAbsent(label: number, slice: number): Promise<void> {
    if (!this.layout || !this.scan) return;
    await this.port.setKeySlice(this.labelRef(label), slice, { absent: true });
    this.prompts.delete(`${label}:${slice}`);
    sliceToRas(this.shown, this.layout, this.axis, slice, new Uint8Array(this.scan.nu * this.scan.nv), label);
  }

  /**
   * Reads a prompts file into the open scan as one edit (one undo step): its labels (names and colours), and each
   * key slice with all its boxes and points, or "absent". The file is checked against the scan before anything
   * is sent.
   */
  openPrompts(name: string, text: string): Promise<void> {
    return this.queue(async () => {
      if (!this.scan || !this.layout) {
        this.status(`${name}: open the scan before its prompts file`);
        return;
      }
      const { labels, slices } = readPromptsFor(text, name, this.scan, BOX_PEN - 1);
      for (const l of labels) {
        const row = this.label(l.value);
        if (row) Object.assign(row, l.name ? { name: l.name } : {}, l.color ? { color: l.color } : {});
        else this.labels.push({ value: l.value, name: l.name ?? `label_${l.value}`, color: l.color ?? defaultColor(l.value), visible: true, locked: false });
      }
      let waiting = 0;
      for (const k of slices) {
        if (k.absent) await this.setAbsent(k.label, k.slice);
        else if (!(await this.sendPrompt(k.label, k.slice, k.prompt))) waiting++;
      }
      this.viewer.bitmap.set(this.shown);
      this.viewer.refresh();
      this.selected = null;
      this.active = labels[0]?.value ?? this.active;
      this.applyTool();
      await this.endAction(labels.map((l) => l.value));
      const boxes = slices.reduce((n, k) => n + k.prompt.boxes.length, 0);
      const wait = waiting ? `; ${waiting} slice(s) with negative points alone wait for a positive point or a box` : '';
      this.status(`${name}: ${slices.length} key slice(s) with ${boxes} box(es) read for ${labels.length} label(s)${wait}; press Propagate`);
    });
  }

  /** Downloads the box, point and "absent" key slices as a prompts file (drawn masks are no prompts: left out). */
  savePrompts(): void {
    if (!this.scan) return;
    const slices: PromptsSlice[] = [];
    let masks = 0;
    for (const l of this.labels) {
      for (const [slice, kind] of this.keysOf(l.value)) {
        const prompt = this.heldPrompt(l.value, slice);
        if (kind === 'mask') masks++;
        else if (kind === 'absent' || prompt) slices.push({ label: l.value, slice, absent: kind === 'absent', prompt: prompt ?? slicePromptOf(undefined) });
      }
    }
    const doc = promptsDocument(this.axis, this.labels.map((l) => ({ value: l.value, name: l.name, color: l.color })), slices);
    const name = `${this.baseName()}-prompts.json`;
    download(`${JSON.stringify(doc, null, 1)}\n`, name);
    this.status(`saved ${name}${masks ? ` (${masks} drawn key slice(s) are masks, not prompts: export the labels for them)` : ''}`);
  }

  removeKeyHere(): void {
    void this.queue(async () => {
      const s = this.currentSlice();
      if (!this.keysOf(this.active).has(s)) return;
      await this.port.removeKeySlice(this.active, s);
      this.prompts.delete(`${this.active}:${s}`);
      await this.endAction([this.active]);
    });
  }

  // ---- propagation -------------------------------------------------------------------------------------------

  propagate(): Promise<void> {
    const t0 = performance.now();
    return this.queue(async () => {
      if (!this.layout || !this.scan) return;
      const pending = await this.port.pending();
      if (pending.length === 0) {
        this.status('nothing to propagate: every label is up to date');
        return;
      }
      document.body.dataset.state = 'propagating';
      this.beforePreview = this.preview ? this.beforePreview : { drawing: this.shown.slice(), confidence: cloneConfidence(this.confidence) };
      const bitmap = this.viewer.bitmap;
      const cleared = new Set<number>();
      const ctl = new AbortController();
      this.running = ctl;
      let first = -1;
      let frame = 0;
      const onUpdate = (u: SliceUpdate) => {
        const layout = this.layout as RasLayout;
        if (!cleared.has(u.label)) {
          cleared.add(u.label);
          this.clearResult(bitmap, u.label);
        }
        sliceToRas(bitmap, layout, this.axis, u.slice, u.mask, u.label);
        confidenceOf(this.confidence, u.label, this.scan?.count ?? 0)[u.slice] = u.source === 'key' ? 1 : u.confidence;
        if (!frame) {
          frame = requestAnimationFrame(() => {
            frame = 0;
            this.viewer.refresh();
            if (first < 0) first = performance.now() - t0;
            this.renderStrip();
            this.status(`propagating: label ${u.label}, slice ${u.slice} (${u.done}/${u.total} labels done)`);
          });
        }
      };
      try {
        await this.port.propagate(onUpdate, { labels: pending, signal: ctl.signal });
      } finally {
        this.running = null;
        if (frame) cancelAnimationFrame(frame);
      }
      this.viewer.refresh();
      if (first < 0) first = performance.now() - t0;
      this.shown = bitmap.slice();
      const rev = await this.port.revision();
      this.snapshots.put(rev.id, this.shown, this.confidence, this.prompts);
      this.preview = true;
      this.viewer.setOpacity(true);
      const sug = await this.port.suggest(1).catch(() => []);
      this.suggested = sug.find((x) => x.label === this.active)?.suggestions[0]?.slice ?? null;
      this.timing = { firstVisibleMs: first, totalMs: performance.now() - t0 };
      this.render();
      this.status(`preview of labels ${pending.join(', ')} in ${(this.timing.totalMs / 1000).toFixed(2)} s: Enter accepts, Esc rejects`);
      document.body.dataset.state = 'preview';
    });
  }

  /** Clears a label's propagated voxels (key slices stay) before its new result is drawn. */
  clearResult(bitmap: Uint8Array, label: number): void {
    if (!this.layout || !this.scan) return;
    const keys = this.keysOf(label);
    const empty = new Uint8Array(this.scan.nu * this.scan.nv);
    for (let s = 0; s < this.scan.count; s++) if (!keys.has(s) || keys.get(s) !== 'mask') sliceToRas(bitmap, this.layout, this.axis, s, empty, label);
    this.confidence.set(label, new Float32Array(this.scan.count).fill(NaN));
  }

  accept(): void {
    if (!this.preview) return;
    this.preview = false;
    this.beforePreview = null;
    this.viewer.setOpacity(false);
    this.status('result accepted; correct any slice and propagate again, or export');
    document.body.dataset.state = 'accepted';
    this.renderStrip();
  }

  /** Discards the preview: the drawing shows the key slices as before the propagation. */
  reject(): void {
    if (this.running) {
      this.running.abort();
      return;
    }
    if (!this.preview || !this.beforePreview) return;
    this.shown = this.beforePreview.drawing.slice();
    this.confidence = cloneConfidence(this.beforePreview.confidence);
    this.viewer.bitmap.set(this.shown);
    this.viewer.refresh();
    this.viewer.setOpacity(false);
    this.preview = false;
    this.beforePreview = null;
    this.status('preview rejected: edit the key slices and propagate again');
    document.body.dataset.state = 'ready';
    this.renderStrip();
  }

  // ---- history -----------------------------------------------------------------------------------------------

  undo(): Promise<void> {
    return this.queue(async () => {
      if (this.done.length < 2) return;
      const target = this.done[this.done.length - 2];
      await this.stepTo(target, () => this.port.undo());
      this.undone.push(this.done.pop() as number);
    });
  }

  redo(): Promise<void> {
    return this.queue(async () => {
      const target = this.undone.at(-1);
      if (target === undefined) return;
      await this.stepTo(target, () => this.port.redo());
      this.done.push(this.undone.pop() as number);
    });
  }

  private async stepTo(target: number, step: () => Promise<Revision | null>): Promise<void> {
    let rev = await this.port.revision();
    while (rev.id !== target) {
      const r = await step();
      if (!r) break;
      rev = r;
    }
    const n = this.shown.length;
    const snap = this.snapshots.get(rev.id, n);
    if (snap) {
      this.shown = snap.drawing;
      this.confidence = snap.confidence;
      this.prompts = snap.prompts;
      this.viewer.bitmap.set(this.shown);
      this.viewer.refresh();
    }
    this.preview = false;
    this.beforePreview = null;
    this.selected = null;
    this.viewer.setOpacity(false);
    await this.refreshKeys(this.labels.map((l) => l.value));
    this.render();
    const pending = await this.port.pending();
    this.status(`at: ${rev.edit}${pending.length ? ' (propagate to bring the result up to date)' : ''}`);
    document.body.dataset.state = 'ready';
  }

  // ---- export ------------------------------------------------------------------------------------------------

  exportLabels(format: ExportFormat): Promise<void> {
    return this.queue(async () => {
      if (!this.scan) return;
      if ((await this.port.pending()).length > 0) {
        this.status('propagating before export…');
        await this.port.propagate(() => undefined);
      }
      const bytes = await this.port.labelsFile(format, this.labels.map((l) => ({ value: l.value, name: l.name, color: l.color })));
      const base = this.baseName();
      download(bytes, `${base}-labels.${format}`);
      this.status(`exported ${base}-labels.${format} (${bytes.length} bytes)`);
    });
  }

  /** One STL surface per label, zipped; the surfaces are made in a worker in the page in both modes. */
  exportMeshes(): Promise<void> {
    return this.queue(async () => {
      if (!this.scan) return;
      if ((await this.port.pending()).length > 0) await this.port.propagate(() => undefined);
      const labels = await this.port.labels();
      const worker = this.port instanceof LocalPort ? this.port : (this.meshWorker ??= new LocalPort(new URL('./worker.js', import.meta.url)));
      const zip = await worker.meshes(labels, this.labels.map((l) => ({ value: l.value, name: l.name })));
      const base = this.baseName();
      download(zip, `${base}-meshes.zip`);
      this.status(`exported ${base}-meshes.zip (${zip.length} bytes)`);
    });
  }

  exportColorTable(): void {
    const text = slicerColorTable(this.labels.map((l) => ({ value: l.value, name: l.name, color: l.color })));
    download(text, `${this.baseName()}-labels.ctbl`);
  }

  /** The scan's name without its image extension: the stem of exported files. */
  baseName(): string {
    return this.fileName.replace(/\.(nii\.gz|nii|nrrd|nhdr|mha|mhd|zip)$/i, '');
  }

  /** The export formats of the port for this scan (DICOM SEG where it was a DICOM series). */
  renderFormats(): void {
    const select = $('format') as HTMLSelectElement;
    const keep = select.value;
    select.replaceChildren(...this.port.formats.map((f) => Object.assign(document.createElement('option'), { value: f, textContent: f === 'dcm' ? 'DICOM SEG' : f })));
    if (this.port.formats.includes(keep as ExportFormat)) select.value = keep;
  }

  // ---- view --------------------------------------------------------------------------------------------------

  setLayout(layout: Layout): void {
    this.viewer.setLayout(layout);
    ($('layout') as HTMLSelectElement).value = layout;
  }

  applyPreset(i: number): void {
    const p = WINDOW_PRESETS[i];
    if (!p || !this.scan) return;
    const [lo, hi] = presetRange(p, this.viewer.voxels());
    this.viewer.setWindow(lo, hi);
    ($('window') as HTMLSelectElement).value = String(i);
    this.showWindow();
  }

  showWindow(): void {
    const [lo, hi] = this.viewer.windowRange();
    ($('wl') as HTMLInputElement).value = `${Math.round((lo + hi) / 2)}/${Math.round(hi - lo)}`;
  }

  applyTool(): void {
    const l = this.label(this.active);
    this.viewer.setTool(this.tool, this.active, this.penSize, l?.locked ?? false);
    for (const b of document.querySelectorAll<HTMLButtonElement>('[data-tool]')) b.classList.toggle('on', b.dataset.tool === this.tool);
  }

  render(): void {
    this.viewer.setColors(this.labels);
    this.renderLabels();
    this.renderStrip();
    this.renderBoxes();
  }

  /** Outlines the box prompts of the visible labels on the current slice (the selected box of the active label marked). */
  renderBoxes(): void {
    if (!this.layout || !this.scan) return;
    const layout = this.layout;
    const s = this.currentSlice();
    const out: BoxOutline[] = [];
    for (const l of this.labels) {
      if (!l.visible) continue;
      const selected = l.value === this.active ? this.selectedBox(l.value, s) : -1;
      this.heldPrompt(l.value, s)?.boxes.forEach((b, i) => out.push({ corners: boxCornersRas(layout, this.axis, s, b), color: l.color, selected: i === selected }));
    }
    this.viewer.setBoxes(out, rasAxisOfVoxelAxis(layout, this.axis));
  }

  renderLabels(): void {
    const list = $('labels');
    list.replaceChildren(
      ...this.labels.map((l) => {
        const row = document.createElement('li');
        row.className = l.value === this.active ? 'active' : '';
        row.dataset.label = String(l.value);
        const keys = this.keysOf(l.value).size;
        row.innerHTML = `<input type="color" value="#${l.color.map((c) => c.toString(16).padStart(2, '0')).join('')}" title="colour"><input class="name" value="" title="name"><span class="count" title="key slices">${keys}</span><label title="visible"><input type="checkbox" class="vis" ${l.visible ? 'checked' : ''}>vis</label><label title="locked"><input type="checkbox" class="lock" ${l.locked ? 'checked' : ''}>lock</label>`;
        (row.querySelector('.name') as HTMLInputElement).value = l.name;
        row.addEventListener('click', (ev) => {
          if ((ev.target as HTMLElement).tagName === 'INPUT') return;
          this.active = l.value;
          this.applyTool();
          this.render();
        });
        row.querySelector('input[type=color]')?.addEventListener('input', (ev) => {
          const hex = (ev.target as HTMLInputElement).value;
          l.color = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as Rgb;
          this.viewer.setColors(this.labels);
          this.renderStrip();
          this.renderBoxes();
        });
        row.querySelector('.name')?.addEventListener('change', (ev) => (l.name = (ev.target as HTMLInputElement).value.trim() || l.name));
        row.querySelector('.vis')?.addEventListener('change', (ev) => {
          l.visible = (ev.target as HTMLInputElement).checked;
          this.viewer.setColors(this.labels);
          this.renderBoxes();
        });
        row.querySelector('.lock')?.addEventListener('change', (ev) => {
          l.locked = (ev.target as HTMLInputElement).checked;
          this.applyTool();
        });
        return row;
      }),
    );
  }

  addLabel(): void {
    const value = Math.max(0, ...this.labels.map((l) => l.value)) + 1;
    if (value >= BOX_PEN) return;
    this.labels.push({ value, name: `label_${value}`, color: defaultColor(value), visible: true, locked: false });
    this.active = value;
    this.applyTool();
    this.render();
  }

  renderStrip(): void {
    if (!this.scan) return;
    const conf = this.confidence.get(this.active) ?? new Float32Array(this.scan.count).fill(NaN);
    drawStrip($('strip') as HTMLCanvasElement, {
      confidence: conf,
      keys: this.keysOf(this.active),
      current: this.currentSlice(),
      suggested: this.suggested,
      color: this.label(this.active)?.color ?? [255, 255, 255],
    });
    $('slice').textContent = `slice ${this.currentSlice() + 1} / ${this.scan.count}`;
  }

  goLeastCertain(): void {
    const conf = this.confidence.get(this.active);
    if (!conf) return;
    const s = leastCertainSlice(conf, new Set(this.keysOf(this.active).keys()), this.currentSlice());
    if (s !== null) this.goToSlice(s);
  }

  // ---- test and automation hooks -----------------------------------------------------------------------------

  /** Resolves when every queued action is done. */
  idle(): Promise<unknown> {
    return this.busy;
  }

  /** CSS pixel position on the canvas of a voxel (x, y, z) of the image, through NiiVue's own transforms. */
  canvasPointOfVoxel(p: Vec3, affineRas: number[]): [number, number] | null {
    const mm: Vec3 = [0, 1, 2].map((r) => affineRas[r * 4] * p[0] + affineRas[r * 4 + 1] * p[1] + affineRas[r * 4 + 2] * p[2] + affineRas[r * 4 + 3]) as Vec3;
    return this.viewer.canvasPointOfMm(mm);
  }

  /** A label's key slices: kind, and the prompt as sent for boxes, points and "absent". */
  keyList(label: number): { slice: number; kind: KeyKind; prompt?: KeySlicePrompt }[] {
    return [...this.keysOf(label)].sort((a, b) => a[0] - b[0]).map(([slice, kind]) => {
      const held = this.prompts.get(`${label}:${slice}`);
      const prompt = kind === 'absent' ? { absent: true as const } : kind === 'prompt' && held ? sessionPrompt(held) : null;
      return prompt ? { slice, kind, prompt } : { slice, kind };
    });
  }

  /** The box outlines on screen (CSS pixels of the view: left, top, right, bottom; null where off screen). */
  boxRects(): ([number, number, number, number] | null)[] {
    return this.viewer.boxRects;
  }

  /** The masks of a label's key slices as the drawing holds them (voxel order of the slice). */
  keyMask(label: number, slice: number): number[] {
    if (!this.layout) return [];
    return Array.from(sliceFromRas(this.shown, this.layout, this.axis, slice, label));
  }
}

/** An error of opening `name`, its message naming the file and its code kept (default UNSUPPORTED_IMAGE). */
function namedError(name: string, err: unknown): Error & { code?: string } {
  const e = err as Error & { code?: string };
  const out = new Error(e.message.includes(name) ? e.message : `${name}: ${e.message}`) as Error & { code?: string };
  out.code = e.code ?? 'UNSUPPORTED_IMAGE';
  return out;
}

/** `f()`, its error named as an error of opening `name`. */
function named<T>(name: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    throw namedError(name, err);
  }
}

function cloneConfidence(c: ConfidenceMap): ConfidenceMap {
  return new Map([...c].map(([k, v]) => [k, v.slice()]));
}

function confidenceOf(c: ConfidenceMap, label: number, count: number): Float32Array {
  let a = c.get(label);
  if (!a) c.set(label, (a = new Float32Array(count).fill(NaN)));
  return a;
}

// ---- wiring ----------------------------------------------------------------------------------------------------

function wire(app: App): void {
  // What fails is shown in the status line by the queue.
  const open = async (what: Promise<Opened | null>) => {
    const got = await what.catch((err: unknown) => void app.fail(err));
    if (got?.kind === 'file' && /\.json$/i.test(got.name)) await app.openPrompts(got.name, new TextDecoder().decode(got.bytes));
    else if (got?.kind === 'file') await app.queue(() => app.open(got.name, got.bytes));
    else if (got) await app.queue(() => app.openFolder(got.name, got.files));
  };
  // Each input is emptied once read, so that picking the same file again (an edited prompts file) reads it again.
  for (const id of ['file', 'folder', 'prompts-file']) {
    const input = $(id) as HTMLInputElement;
    input.addEventListener('change', () => void open(fromInput(input.files)).catch(() => undefined).finally(() => (input.value = '')));
  }
  const view = $('view');
  view.addEventListener('dragover', (ev) => ev.preventDefault());
  view.addEventListener('drop', (ev) => {
    ev.preventDefault();
    void open(fromDrop(ev.dataTransfer)).catch(() => undefined);
  });
  $('propagate').addEventListener('click', () => void app.propagate());
  $('accept').addEventListener('click', () => app.accept());
  $('reject').addEventListener('click', () => app.reject());
  $('undo').addEventListener('click', () => void app.undo());
  $('redo').addEventListener('click', () => void app.redo());
  $('export').addEventListener('click', () => void app.exportLabels(($('format') as HTMLSelectElement).value as ExportFormat));
  $('export-ctbl').addEventListener('click', () => app.exportColorTable());
  $('export-meshes').addEventListener('click', () => void app.exportMeshes());
  $('save-prompts').addEventListener('click', () => app.savePrompts());
  $('remove-box').addEventListener('click', () => app.removeBox());
  $('absent').addEventListener('click', () => app.markAbsent());
  $('unkey').addEventListener('click', () => app.removeKeyHere());
  $('least').addEventListener('click', () => app.goLeastCertain());
  $('suggested').addEventListener('click', () => app.suggested !== null && app.goToSlice(app.suggested));
  $('add-label').addEventListener('click', () => app.addLabel());
  $('layout').addEventListener('change', (ev) => app.setLayout((ev.target as HTMLSelectElement).value as Layout));
  $('window').addEventListener('change', (ev) => app.applyPreset(Number((ev.target as HTMLSelectElement).value)));
  $('wl').addEventListener('change', (ev) => {
    const m = /^\s*(-?[\d.]+)\s*\/\s*([\d.]+)\s*$/.exec((ev.target as HTMLInputElement).value);
    if (m) app.viewer.setWindow(Number(m[1]) - Number(m[2]) / 2, Number(m[1]) + Number(m[2]) / 2);
  });
  $('size').addEventListener('input', (ev) => {
    app.penSize = Number((ev.target as HTMLInputElement).value);
    app.applyTool();
  });
  for (const b of document.querySelectorAll<HTMLButtonElement>('[data-tool]')) {
    b.addEventListener('click', () => {
      app.tool = b.dataset.tool as Tool;
      app.applyTool();
    });
  }
  // A click (no drag) with the box tool selects the box under it.
  const gl = $('gl');
  let down: [number, number] | null = null;
  gl.addEventListener('pointerdown', (ev) => (down = [ev.clientX, ev.clientY]));
  gl.addEventListener('pointerup', (ev) => {
    if (app.tool === 'box' && down && Math.hypot(ev.clientX - down[0], ev.clientY - down[1]) < 3) app.selectBoxAtCanvas(ev.offsetX, ev.offsetY);
    down = null;
  });
  const strip = $('strip') as HTMLCanvasElement;
  strip.addEventListener('click', (ev) => {
    if (!app.scan) return;
    const rect = strip.getBoundingClientRect();
    app.goToSlice(stripSliceAt(ev.clientX - rect.left, rect.width, app.scan.count));
  });
  app.viewer.nv.onDrawingChanged = (action: string) => {
    if (action === 'draw') app.onDrawn();
  };
  app.viewer.onLocation(() => {
    app.renderStrip();
    app.renderBoxes();
    if (app.tool === 'point' || app.tool === 'negative') app.addPoint(app.tool === 'negative');
  });
  document.addEventListener('keydown', (ev) => {
    const target = ev.target as HTMLElement;
    if (target.tagName === 'INPUT' && (target as HTMLInputElement).type !== 'checkbox' && (target as HTMLInputElement).type !== 'range') return;
    const ctrl = ev.ctrlKey || ev.metaKey;
    if (ctrl && ev.key.toLowerCase() === 'z' && !ev.shiftKey) void app.undo();
    else if (ctrl && (ev.key.toLowerCase() === 'y' || (ev.key.toLowerCase() === 'z' && ev.shiftKey))) void app.redo();
    else if (ev.key === 'Enter') app.accept();
    else if (ev.key === 'Escape') app.reject();
    else if (ev.key === 'ArrowUp' || ev.key === 'ArrowRight' || ev.key === 'PageUp') app.goToSlice(app.currentSlice() + 1);
    else if (ev.key === 'ArrowDown' || ev.key === 'ArrowLeft' || ev.key === 'PageDown') app.goToSlice(app.currentSlice() - 1);
    else if (!ctrl && /^[1-6]$/.test(ev.key)) app.applyPreset(Number(ev.key) - 1);
    else if (!ctrl && ev.key.toLowerCase() === 'p') void app.propagate();
    else if (!ctrl && (ev.key === 'Delete' || ev.key === 'Backspace')) app.removeBox();
    else return;
    ev.preventDefault();
    ev.stopPropagation();
  }, { capture: true });
}

async function main(): Promise<void> {
  const app = new App(pageMode());
  (window as unknown as { keyslice: App }).keyslice = app;
  $('mode').textContent = app.mode === 'local' ? 'local: the scan stays in this browser' : `remote: ${location.host}`;
  app.renderFormats();
  ($('window') as HTMLSelectElement).replaceChildren(...WINDOW_PRESETS.map((p, i) => Object.assign(document.createElement('option'), { value: String(i), textContent: `${i + 1} ${p.name}` })));
  app.viewer = await Viewer.create($('gl') as HTMLCanvasElement, $('boxes') as HTMLCanvasElement);
  wire(app);
  app.render();
  document.body.dataset.state = 'empty';
  app.status('open a NIfTI, NRRD or MetaImage file or a DICOM folder (or drop it on the view)');
}

void main().catch((err: unknown) => {
  const el = document.getElementById('status');
  if (el) el.textContent = `the app could not start: ${(err as Error).message}`;
  document.body.dataset.state = 'error';
});
