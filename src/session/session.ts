/**
 * `openSession`: the image set once (slice geometry, intensity window, engine), key slices edited label by
 * label, propagation of what changed, undo and redo. `segment()` is a session with the annotations' key slices
 * and one propagation.
 */
import type { Annotations, KeySlice, LabelAnnotation } from '../annotations/types.js';
import { tissueAreas } from '../analysis/profile.js';
import { intensityWindow, type IntensityWindow } from '../analysis/window.js';
import { anyNonZero, boundingBox2d } from '../morphology/binary.js';
import type { LabelReport, SegmentReport } from '../pipeline/segment.js';
import { createEngine } from '../pipeline/engines.js';
import type { FrontInputs, PriorStore } from '../propagation/controller.js';
import type { KeyMask } from '../interpolation/mci.js';
import type { FrontOutcome, SliceComparisons } from '../propagation/front.js';
import type { PostprocessMemo } from '../propagation/postprocess.js';
import type { FrontPlan } from '../propagation/plan.js';
import { policyOf, type PropagationPolicy } from '../propagation/policy.js';
import { pasteSlice, roiOfLabel, roiSize, type RoiBox } from '../propagation/roi.js';
import type { EngineUsage, KeyDerived, SliceDerived, SliceEngine, SliceSource } from '../propagation/types.js';
import { keyObjects, unseenRisk } from '../suggest/objects.js';
import type { PlanInput } from '../suggest/plan.js';
import { labelSuggestions } from '../suggest/suggest.js';
import { KeysliceError } from '../util/errors.js';
import { defaultSliceAxis, SliceGeometry, withGeometry, type LabelArray, type SliceAxis, type Volume } from '../volume/volume.js';
import { copyKeyMasks, hashBytes, keyMasksKey, keySliceKey, LruCache, sameBytes, sameKeyMasks, sameKeySlice } from './cache.js';
import { EditLog } from './history.js';
import { runLabel, type LabelRun, type LabelRunOptions } from './label-run.js';
import { mergeLabels } from './merge.js';
import {
  annotationOf,
  checkKeySlice,
  copyKeySlice,
  checkLabelValue,
  hasLabel,
  keySliceOf,
  labelAt,
  promptedState,
  withKeySlice,
  withoutKeySlice,
  withoutLabel,
  type LabelState,
  type SessionState,
} from './state.js';
import type { KeySlicePrompt, LabelRef, PropagateOptions, Revision, Session, SessionOptions, SliceUpdate, Suggestion, UpdateSource } from './types.js';

const DEFAULT_HISTORY = 100;
const MIN_HISTORY = 50;
const DEFAULT_CACHE_BYTES = 512 * 2 ** 20;
/** Bytes a kept comparison of slices takes, roughly (its key and a few numbers). */
const COMPARISON_BYTES = 160;

interface Snapshot {
  state: SessionState;
  revision: Revision;
}

interface StoredFront {
  outcome: FrontOutcome;
  keyMask: Uint8Array;
  prior: Uint8Array;
  /** The other key slices it depends on, with their masks (null: absent). */
  others: KeyMask[];
}

const SOURCE: Record<SliceSource, UpdateSource> = { key: 'key', propagated: 'front', fused: 'fused', interpolated: 'prior', none: 'none' };

/** Bytes held by a front's outcome (masks), roughly. */
function outcomeBytes(o: FrontOutcome): number {
  let n = 256;
  for (const s of o.slices.values()) n += s.mask.length + 64;
  return n;
}

/** A signal that aborts when `outer` does or when the returned `abort` is called. */
function linkedSignal(outer: AbortSignal | undefined): { signal: AbortSignal; abort: () => void } {
  const inner = new AbortController();
  if (outer) {
    if (outer.aborted) inner.abort(outer.reason);
    else outer.addEventListener('abort', () => inner.abort(outer.reason), { once: true });
  }
  return { signal: inner.signal, abort: () => inner.abort(new DOMException('the propagation was left before its end', 'AbortError')) };
}

/**
 * A queue that an async generator drains while a producer fills it (the producer starts at the first `next`).
 * When the consumer stops early (`break`), the producer is stopped through `stop` and awaited.
 */
async function* drain<T>(produce: (push: (x: T) => void) => Promise<void>, signal: AbortSignal, stop: () => void): AsyncGenerator<T> {
  const queue: T[] = [];
  let wake: (() => void) | null = null;
  let finished = false;
  let failure: { error: unknown } | null = null;
  const poke = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };
  const settled = produce((x) => {
    queue.push(x);
    poke();
  }).then(
    () => {
      finished = true;
      poke();
    },
    (error: unknown) => {
      failure = { error };
      finished = true;
      poke();
    },
  );
  try {
    for (;;) {
      if (signal.aborted) {
        // Stop here: the producer stops at its next check; wait for it so the session is free again.
        await settled;
        signal.throwIfAborted();
      }
      if (queue.length) {
        yield queue.shift() as T;
        continue;
      }
      if (finished) {
        if (failure) throw (failure as { error: unknown }).error;
        return;
      }
      await new Promise<void>((r) => (wake = r));
    }
  } finally {
    if (!finished) {
      stop();
      await settled;
    }
  }
}

class KeysliceSession implements Session {
  readonly axis: SliceAxis;
  readonly count: number;
  readonly nu: number;
  readonly nv: number;
  private readonly sg: SliceGeometry;
  private readonly window: IntensityWindow;
  private readonly engine: SliceEngine;
  private readonly policy: PropagationPolicy;
  private readonly runOptions: LabelRunOptions;
  private readonly optionsKey: string;
  private readonly log: EditLog<Snapshot>;
  private readonly labelCache: LruCache<LabelRun>;
  private readonly frontCache: LruCache<StoredFront>;
  private readonly priorCache: LruCache<{ near: KeyMask[]; gap: Uint8Array }>;
  private readonly distanceCache: LruCache<{ mask: Uint8Array; sd: Float32Array }>;
  /** The interpolation of gaps between key slices, kept by the key slices each depends on, and the key masks' distance maps. */
  private readonly priors: PriorStore = {
    gap: ({ nu, nv, near, start }, compute) => {
      const key = [nu, nv, start, keyMasksKey(near)].join('|');
      const hit = this.priorCache.get(key, (e) => sameKeyMasks(e.near, near));
      if (hit) return hit.gap;
      const gap = compute();
      this.priorCache.set(key, { near: copyKeyMasks(near), gap }, gap.length + near.length * nu * nv);
      return gap;
    },
    distances: ({ nu, nv, du, dv, mask }, compute) => {
      const key = [nu, nv, du, dv, hashBytes(mask)].join('|');
      const hit = this.distanceCache.get(key, (e) => sameBytes(e.mask, mask));
      if (hit) return hit.sd;
      const sd = compute();
      this.distanceCache.set(key, { mask: mask.slice(), sd }, 5 * mask.length);
      return sd;
    },
  };
  private readonly derivedCache: LruCache<{ mask: Uint8Array; value: unknown }>;
  /** What the engines derive from single key slices, kept by region of interest, key slice and mask. */
  private keyDerived(roi: RoiBox): KeyDerived {
    const cache = this.derivedCache;
    return {
      get<T>({ what, index, mask }: { what: string; index: number; mask: Uint8Array }, compute: () => T, bytes: (value: T) => number): T {
        const key = [`${roi.u0},${roi.v0},${roi.u1},${roi.v1}`, what, index, hashBytes(mask)].join('|');
        const hit = cache.get(key, (e) => sameBytes(e.mask, mask));
        if (hit) return hit.value as T;
        const value = compute();
        cache.set(key, { mask: mask.slice(), value }, bytes(value) + mask.length);
        return value;
      },
    };
  }
  private readonly sliceCache: LruCache<unknown>;
  /**
   * Single slices of the image as the fronts compare them (windowed) and the engines derive from them (a
   * denoised slice), kept by region of interest and slice; only where the session keeps anything (a
   * from-scratch run derives what it needs).
   */
  private sliceDerived(roi: RoiBox): SliceDerived {
    const kept = keptInRoi(this.sliceCache, roi);
    return { get: ({ what, slice }, compute, bytes) => kept(`${what}|${slice}`, compute, bytes) };
  }
  private readonly comparisonCache: LruCache<unknown>;
  /** The fronts' comparisons of slices (they depend on the image alone), kept by region of interest. */
  private comparisons(roi: RoiBox): SliceComparisons {
    const kept = keptInRoi(this.comparisonCache, roi);
    return { get: (key, compute) => kept(key, compute, () => COMPARISON_BYTES) };
  }

  /** The post-processing of each label's last run (see `postprocessStackFrom`). */
  private readonly postprocessed = new Map<number, PostprocessMemo>();
  /** The last result of each label (by value) and the key it was computed for. */
  private readonly results = new Map<number, { key: string; run: LabelRun }>();
  /** The last merge of the runs (see `merged`). */
  private lastMerge: MergedLabels | null = null;
  /** Tissue pixels per slice (see `tissueAreas`), for the suggestions of scattered labels; made on first use. */
  private tissue: number[] | undefined;
  private readonly usage: EngineUsage | undefined;
  private readonly reuse: 'exact' | 'fronts';
  /** `fronts` reuse: each label's region of interest so far (it only grows). */
  private readonly rois = new Map<number, RoiBox>();
  private nextRevision = 1;
  private running = false;
  private closed = false;
  private lastSeconds = 0;

  constructor(
    private readonly image: Volume,
    options: SessionOptions,
  ) {
    this.axis = options.axis ?? defaultSliceAxis(image.spacing);
    this.sg = new SliceGeometry(image, this.axis);
    this.count = this.sg.count;
    this.nu = this.sg.nu;
    this.nv = this.sg.nv;
    if (options.range) {
      const [r0, r1] = options.range;
      if (!(Number.isInteger(r0) && Number.isInteger(r1) && r0 >= 0 && r1 >= r0 && r1 < this.sg.count)) {
        throw new KeysliceError('USAGE', `slice range ${r0}:${r1} is not within 0:${this.sg.count - 1} along axis ${this.axis}`);
      }
    }
    const limit = options.historyLimit ?? DEFAULT_HISTORY;
    if (!Number.isInteger(limit) || limit < MIN_HISTORY) throw new KeysliceError('USAGE', `historyLimit must be a whole number >= ${MIN_HISTORY}, got ${String(limit)}`);
    this.engine = typeof options.engine === 'object' ? options.engine : createEngine(options.engine ?? 'classic');
    this.policy = policyOf(this.engine);
    this.window = options.window ?? intensityWindow(image);
    this.runOptions = {
      range: options.range,
      stopRules: options.stopRules,
      interpolation: options.interpolation,
      postprocess: options.postprocess,
      useExtentEngine: options.useExtentEngine,
    };
    this.optionsKey = JSON.stringify(this.runOptions);
    const bytes = options.cacheBytes ?? DEFAULT_CACHE_BYTES;
    this.labelCache = new LruCache(Math.floor((5 * bytes) / 16));
    this.derivedCache = new LruCache(Math.floor(bytes / 32));
    this.comparisonCache = new LruCache(Math.floor(bytes / 32));
    this.sliceCache = new LruCache(Math.floor(bytes / 16));
    this.frontCache = new LruCache(Math.floor((3 * bytes) / 8));
    this.priorCache = new LruCache(Math.floor(bytes / 8));
    this.distanceCache = new LruCache(Math.floor(bytes / 16));
    this.usage = this.engine.newUsage?.();
    this.reuse = options.reuse ?? 'exact';
    if (this.reuse !== 'exact' && this.reuse !== 'fronts') throw new KeysliceError('USAGE', `reuse must be "exact" or "fronts", got "${String(this.reuse)}"`);
    this.log = new EditLog<Snapshot>({ state: [], revision: { id: 0, edit: 'opened', labels: [] } }, limit);
  }

  private get state(): SessionState {
    return this.log.current.state;
  }

  private alive(): void {
    if (this.closed) throw new KeysliceError('USAGE', 'this session is closed');
  }

  private plane() {
    return { count: this.count, nu: this.nu, nv: this.nv };
  }

  /** Records a new state as an edit; labels whose new state was computed before get that result back. */
  private commit(state: SessionState, edit: string, labels: number[]): Revision {
    const revision: Revision = { id: this.nextRevision++, edit, labels };
    this.log.push({ state, revision });
    this.adopt();
    return revision;
  }

  /** The current state as the engines see it (see `promptedState`), kept for that state alone (the history holds many). */
  private promptedNow: { state: SessionState; prompted: SessionState } | null = null;

  /** The current state with each label's prompts as the engines see them: what other labels say on a slice is its background. */
  private get prompted(): SessionState {
    const state = this.state;
    if (this.promptedNow?.state !== state) this.promptedNow = { state, prompted: promptedState(state) };
    return this.promptedNow.prompted;
  }

  /** Takes every label's cached result for its current key slices (after an edit, undo or redo). */
  private adopt(): void {
    for (const l of this.prompted) {
      const key = this.labelKey(l);
      if (this.results.get(l.value)?.key === key) continue;
      const run = this.labelCache.get(key, (r) => this.sameLabel(r, l));
      if (run) this.results.set(l.value, { key, run });
    }
  }

  /** Each key slice of the states in words (they never change: a key slice is worded once, not at every edit). */
  private readonly keyWords = new WeakMap<KeySlice, string>();

  private labelKey(l: LabelState): string {
    const words = l.keys.map((k) => {
      let w = this.keyWords.get(k);
      if (w === undefined) this.keyWords.set(k, (w = keySliceKey(k)));
      return w;
    });
    return `${l.value}|${l.name ?? ''}|${words.join('/')}|${this.optionsKey}`;
  }

  private sameLabel(run: LabelRun, l: LabelState): boolean {
    const a = run.label.keySlices;
    return run.label.name === l.name && a.length === l.keys.length && a.every((k, i) => sameKeySlice(k, l.keys[i]));
  }

  async setKeySlice(label: LabelRef, slice: number, key: KeySlicePrompt): Promise<Revision> {
    this.alive();
    const value = typeof label === 'number' ? label : label?.value;
    checkLabelValue(value);
    const k = keySliceOf(value, slice, key, this.plane());
    const kind = k.empty ? 'absent' : k.mask ? 'mask' : 'prompt';
    return this.commit(withKeySlice(this.state, label, k), `label ${value}: key slice ${slice} set (${kind})`, [value]);
  }

  async removeKeySlice(label: number, slice: number): Promise<Revision> {
    this.alive();
    return this.commit(withoutKeySlice(this.state, label, slice), `label ${label}: key slice ${slice} removed`, [label]);
  }

  async correct(label: number, slice: number, mask: Uint8Array): Promise<Revision> {
    this.alive();
    labelAt(this.state, label);
    const k = keySliceOf(label, slice, { mask }, this.plane());
    return this.commit(withKeySlice(this.state, label, k), `label ${label}: slice ${slice} corrected`, [label]);
  }

  async removeLabel(label: number): Promise<Revision> {
    this.alive();
    const state = withoutLabel(this.state, label);
    this.results.delete(label);
    this.postprocessed.delete(label);
    return this.commit(state, `label ${label} removed`, [label]);
  }

  /** Sets every label of `annotations` at once, as one edit (the labels' key slices as given). */
  async setAnnotations(annotations: Annotations): Promise<Revision> {
    this.alive();
    if (annotations.axis !== this.axis) throw new KeysliceError('INVALID_ANNOTATION', `the annotations lie along axis ${annotations.axis}, the session's slices along axis ${this.axis}`);
    let state: SessionState = [];
    for (const l of annotations.labels) {
      checkLabelValue(l.value);
      if (hasLabel(state, l.value)) throw new KeysliceError('INVALID_ANNOTATION', `label ${l.value} appears twice`);
      for (const k of l.keySlices) checkKeySlice(l.value, k, this.plane());
      // The session's own copies: the caller's arrays may change later.
      state = [...state, { value: l.value, ...(l.name !== undefined ? { name: l.name } : {}), keys: l.keySlices.map(copyKeySlice) }];
    }
    return this.commit(state, `${annotations.labels.length} label(s) set`, annotations.labels.map((l) => l.value));
  }

  async undo(): Promise<Revision | null> {
    this.alive();
    const s = this.log.undo();
    if (!s) return null;
    this.adopt();
    return s.revision;
  }

  async redo(): Promise<Revision | null> {
    this.alive();
    const s = this.log.redo();
    if (!s) return null;
    this.adopt();
    return s.revision;
  }

  async revision(): Promise<Revision> {
    return this.log.current.revision;
  }

  async pending(): Promise<number[]> {
    return this.stale();
  }

  /** Labels whose key slices changed since their last propagation. */
  private stale(): number[] {
    return this.prompted.filter((l) => this.results.get(l.value)?.key !== this.labelKey(l)).map((l) => l.value);
  }

  async keySlices(label: number): Promise<{ slice: number; kind: 'mask' | 'prompt' | 'absent' }[]> {
    const l = this.state[labelAt(this.state, label)];
    return l.keys
      .map((k) => ({ slice: k.index, kind: (k.empty ? 'absent' : k.mask ? 'mask' : 'prompt') as 'mask' | 'prompt' | 'absent' }))
      .sort((a, b) => a.slice - b.slice);
  }

  /**
   * Answers a front from the cache, or runs and keeps it. With exact reuse, only fronts whose engine names the
   * key slices they depend on (`ObjectSession.dependsOn`) are kept, keyed by those key slices' masks too.
   */
  private async front(which: 'extent' | 'engine', plan: FrontPlan, run: () => Promise<FrontOutcome>, inputs: FrontInputs): Promise<FrontOutcome> {
    const engine = which === 'extent' ? this.policy.extentEngine : this.engine;
    if (!engine || !this.frontCache.keeps || (this.reuse === 'exact' && inputs.dependsOn === null)) return run();
    const keyMask = inputs.keyMasks.get(plan.key) as Uint8Array;
    const area = keyMask.length;
    const first = plan.key + plan.direction;
    const lo = Math.min(first, plan.limit);
    const hi = Math.max(first, plan.limit);
    const prior = plan.between ? priorSpan(inputs.priorOf, lo, hi, area) : new Uint8Array(0);
    const others: KeyMask[] = (inputs.dependsOn ?? []).map((index) => ({ index, mask: inputs.keyMasks.get(index) ?? null }));
    const { roi } = inputs;
    const key = [
      which,
      engine.name,
      `${roi.u0},${roi.v0},${roi.u1},${roi.v1}`,
      `${plan.key}${plan.direction > 0 ? '+' : '-'}${plan.between ? 'b' : 'o'}${plan.limit}${plan.endReason}${plan.cover ?? ''}`,
      hashBytes(keyMask),
      inputs.keyConfidence,
      hashBytes(prior),
      keyMasksKey(others),
      JSON.stringify(inputs.rules),
      inputs.policy.imageGuided,
      inputs.severalObjects,
    ].join('|');
    const hit = this.frontCache.get(key, (s) => sameBytes(s.keyMask, keyMask) && sameBytes(s.prior, prior) && sameKeyMasks(s.others, others));
    if (hit) return hit.outcome;
    const outcome = await run();
    this.frontCache.set(key, { outcome, keyMask: keyMask.slice(), prior: prior.slice(), others: copyKeyMasks(others) }, outcomeBytes(outcome) + 2 * prior.length + (others.length + 1) * area);
    return outcome;
  }

  /** The region of interest of a label: its key slices' (exact reuse), or the union with all before (fronts). */
  private roiFor(value: number, own: RoiBox | null): RoiBox | null {
    if (this.reuse === 'exact' || !own) return own;
    const was = this.rois.get(value);
    const roi = was ? { u0: Math.min(was.u0, own.u0), v0: Math.min(was.v0, own.v0), u1: Math.max(was.u1, own.u1), v1: Math.max(was.v1, own.v1) } : own;
    this.rois.set(value, roi);
    return roi;
  }

  /**
   * The final updates of a label's run (every slice holding the object or visited by the schedule), less those
   * whose mask equals the provisional update already sent for the slice (`sent`: the fronts' masks in the ROI
   * `sentRoi`, which is the run's).
   */
  private *updatesOf(run: LabelRun, cached: boolean, done: number, total: number, sent?: Map<number, Uint8Array>, sentRoi?: RoiBox | null): Generator<SliceUpdate> {
    const { sg } = this;
    const p = run.propagation;
    const records = new Map(run.report.slices.map((s) => [s.slice, s]));
    const sameRoi = !!p && !!sentRoi && p.roi.u0 === sentRoi.u0 && p.roi.v0 === sentRoi.v0 && p.roi.u1 === sentRoi.u1 && p.roi.v1 === sentRoi.v1;
    for (let w = 0; w < sg.count; w++) {
      // Slice by slice from the ROI stack: a slice is made whole only when it is sent.
      const roiSlice = p ? p.mask.subarray(w * p.nu * p.nv, (w + 1) * p.nu * p.nv) : null;
      const r = records.get(w);
      const was = sameRoi ? sent?.get(w) : undefined;
      if (was && roiSlice) {
        if (sameBytes(was, roiSlice)) continue;
      } else if ((!r || r.source === 'none') && !(roiSlice && anyNonZero(roiSlice))) continue;
      const { mask, box } = p && roiSlice ? wholeSlice(roiSlice, p.roi, sg) : { mask: new Uint8Array(sg.area), box: null };
      yield { label: run.label.value, slice: w, source: SOURCE[r?.source ?? 'none'], mask, box, confidence: r?.confidence ?? 0, cached, final: true, done, total };
    }
  }

  propagate(options: PropagateOptions = {}): AsyncIterable<SliceUpdate> {
    this.alive();
    if (this.running) throw new KeysliceError('USAGE', 'a propagation is already running in this session');
    const wanted = options.labels ?? this.stale();
    for (const v of wanted) labelAt(this.state, v);
    const labels = this.prompted.filter((l) => wanted.includes(l.value));
    const withUpdates = options.updates ?? true;
    const { signal, abort } = linkedSignal(options.signal);
    type LabelDone = Parameters<NonNullable<PropagateOptions['onLabel']>>[0];
    const items = drain<SliceUpdate | { labelDone: LabelDone }>(async (push) => {
      // The work starts at the first `next()`: an iterator never read holds nothing.
      if (this.running) throw new KeysliceError('USAGE', 'a propagation is already running in this session');
      this.running = true;
      const t0 = performance.now();
      try {
        for (const [n, l] of labels.entries()) {
          signal.throwIfAborted();
          const key = this.labelKey(l);
          const kept = this.labelCache.get(key, (r) => this.sameLabel(r, l));
          if (kept) {
            this.results.set(l.value, { key, run: kept });
            if (withUpdates) for (const u of this.updatesOf(kept, true, n + 1, labels.length)) push(u);
            push({ labelDone: { done: n + 1, total: labels.length, label: l.value, ...(l.name !== undefined ? { name: l.name } : {}) } });
            continue;
          }
          const annotation = annotationOf(l);
          const roi = this.roiFor(l.value, roiOfLabel(annotation.keySlices, this.sg));
          const sent = new Map<number, Uint8Array>();
          const run = await runLabel(
            {
              image: this.image,
              sg: this.sg,
              window: this.window,
              engine: this.engine,
              policy: this.policy,
              options: this.runOptions,
              ...(this.usage ? { usage: this.usage } : {}),
              signal,
              ...(roi && this.reuse === 'fronts' ? { roi } : {}),
              front: (which, plan, r, inputs) => this.front(which, plan, r, inputs),
              priors: this.priors,
              keyDerived: (box) => this.keyDerived(box),
              comparisons: (box) => this.comparisons(box),
              ...(this.sliceCache.keeps ? { sliceDerived: (box: RoiBox) => this.sliceDerived(box) } : {}),
              postprocessed: { memo: this.postprocessed.get(l.value) ?? null, keep: (m) => (m ? this.postprocessed.set(l.value, m) : this.postprocessed.delete(l.value)) },
              ...(options.onStep ? { onStep: (slice: number) => options.onStep?.({ label: l.value, slice }) } : {}),
              onSlice: (w, s) => {
                if (!roi || !withUpdates) return;
                const { mask, box } = wholeSlice(s.mask, roi, this.sg);
                // The front's own mask (kept by its outcome anyway), not a copy of the whole slice.
                sent.set(w, s.mask);
                push({ label: l.value, slice: w, source: 'front', mask, box, confidence: s.confidence, cached: false, final: false, done: n, total: labels.length });
              },
            },
            annotation,
          );
          this.labelCache.set(key, run, labelRunBytes(run));
          this.results.set(l.value, { key, run });
          if (withUpdates) for (const u of this.updatesOf(run, false, n + 1, labels.length, sent, roi)) push(u);
          push({ labelDone: { done: n + 1, total: labels.length, label: l.value, ...(l.name !== undefined ? { name: l.name } : {}) } });
        }
      } finally {
        this.lastSeconds = (performance.now() - t0) / 1000;
        this.running = false;
      }
    }, signal, abort);
    // A label is announced after its last update has been read (not when it is computed).
    return (async function* () {
      for await (const x of items) {
        if ('labelDone' in x) options.onLabel?.(x.labelDone);
        else yield x;
      }
    })();
  }

  /** The runs of the current labels, in order (a label never propagated counts as empty). */
  private currentRuns(): LabelRun[] {
    return this.state.map((l) => {
      const r = this.results.get(l.value);
      if (r) return r.run;
      return { label: annotationOf(l), propagation: null, report: emptyReport(l, this.engine) };
    });
  }

  /**
   * The labels merged from the current runs. The last merge is kept until a run or label changes, so `labels()`
   * and `report()` after one propagation merge once; the label array is handed out once (its caller owns it).
   */
  private merged(needLabels: boolean): MergedLabels {
    const runs = this.currentRuns();
    const maxLabel = Math.max(0, ...this.state.map((l) => l.value));
    const last = this.lastMerge;
    const same = last && last.maxLabel === maxLabel && last.runs.length === runs.length && last.runs.every((r, i) => r === runs[i]);
    if (last && same && (!needLabels || last.out)) return last;
    const { out, reports } = mergeLabels(this.image, this.sg, runs, maxLabel);
    this.lastMerge = { runs, maxLabel, out, reports };
    return this.lastMerge;
  }

  async labels(): Promise<Volume<LabelArray>> {
    this.alive();
    const m = this.merged(true);
    const out = m.out as LabelArray;
    m.out = null;
    return withGeometry(this.image, out);
  }

  async report(): Promise<SegmentReport> {
    return this.currentReport();
  }

  private currentReport(): SegmentReport {
    this.alive();
    const { reports } = this.merged(false);
    return {
      engine: this.engine.name,
      sliceAxis: this.axis,
      window: this.window,
      range: this.runOptions.range ?? null,
      size: [...this.image.size],
      spacing: [...this.image.spacing],
      labels: reports,
      seconds: this.lastSeconds,
      ...(this.usage ? { engineStats: this.usage } : {}),
    };
  }

  async suggest(budget = 1): Promise<{ label: number; suggestions: Suggestion[] }[]> {
    const { reports, runs } = this.merged(false);
    return this.state.map((l, n) => {
      const a = annotationOf(l);
      return { label: l.value, suggestions: labelSuggestions(a, reports[n], this.sg, budget, this.runOptions.range, this.unseenOf(a, runs[n], reports[n])) };
    });
  }

  /**
   * A label of scattered objects on its key slices (lesions): the risk of objects no key slice touches, anywhere
   * in the tissue (see `PlanInput.unseen`); undefined otherwise.
   */
  private unseenOf(l: LabelAnnotation, run: LabelRun | undefined, report: LabelReport): PlanInput['unseen'] {
    const p = run?.propagation;
    const keys = l.keySlices.filter((k) => !k.empty).map((k) => k.index);
    if (!p || keys.length === 0) return undefined;
    const objects = keyObjects(p.mask, p.nu, p.nv, this.sg.count, keys);
    if (!objects.scattered) return undefined;
    this.tissue ??= tissueAreas(this.image, this.sg, this.window);
    return unseenRisk(objects, report.slices.map((s) => s.area), this.tissue);
  }

  /** Counters of the caches (hits and misses of labels and fronts), for reports and tests. */
  cacheStats(): CacheStats {
    return {
      labelHits: this.labelCache.hits,
      labelMisses: this.labelCache.misses,
      frontHits: this.frontCache.hits,
      frontMisses: this.frontCache.misses,
      keyDerivedHits: this.derivedCache.hits,
      keyDerivedMisses: this.derivedCache.misses,
      comparisonHits: this.comparisonCache.hits,
      comparisonMisses: this.comparisonCache.misses,
      sliceDerivedHits: this.sliceCache.hits,
      sliceDerivedMisses: this.sliceCache.misses,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.labelCache.clear();
    this.frontCache.clear();
    this.priorCache.clear();
    this.distanceCache.clear();
    this.derivedCache.clear();
    this.comparisonCache.clear();
    this.sliceCache.clear();
    this.postprocessed.clear();
    this.results.clear();
    this.lastMerge = null;
  }
}

interface MergedLabels {
  runs: LabelRun[];
  maxLabel: number;
  /** The merged label array until `labels()` hands it out. */
  out: LabelArray | null;
  reports: LabelReport[];
}

/**
 * The prior on slices lo..hi (`area` pixels each) as one array: a view of the stack the slices lie in where
 * they lie one after the other (the controller's prior), else a copy. Read only.
 */
function priorSpan(priorOf: (w: number) => Uint8Array, lo: number, hi: number, area: number): Uint8Array {
  const slices = [];
  for (let w = lo; w <= hi; w++) slices.push(priorOf(w));
  const [first] = slices;
  const n = (hi - lo + 1) * area;
  if (slices.every((s, i) => s.length === area && s.buffer === first.buffer && s.byteOffset === first.byteOffset + i * area)) {
    return new Uint8Array(first.buffer, first.byteOffset, n);
  }
  const out = new Uint8Array(n);
  slices.forEach((s, i) => out.set(s, i * area));
  return out;
}

/** A slice of a ROI stack as a whole slice, and its box in whole-slice coordinates (null: empty). */
function wholeSlice(roiSlice: Uint8Array, roi: RoiBox, sg: SliceGeometry): { mask: Uint8Array; box: [number, number, number, number] | null } {
  const mask = new Uint8Array(sg.area);
  pasteSlice(roiSlice, roi, mask, sg.nu);
  const { nu, nv } = roiSize(roi);
  const b = boundingBox2d(roiSlice, nu, nv);
  return { mask, box: b && [b[0] + roi.u0, b[1] + roi.v0, b[2] + roi.u0, b[3] + roi.v0] };
}

function labelRunBytes(run: LabelRun): number {
  return 1024 + (run.propagation ? run.propagation.mask.length : 0);
}

function emptyReport(l: LabelState, engine: SliceEngine): LabelReport {
  return {
    value: l.value,
    ...(l.name !== undefined ? { name: l.name } : {}),
    engine: engine.name,
    keySlices: l.keys.map((k) => k.index),
    emptyKeySlices: l.keys.filter((k) => k.empty).map((k) => k.index),
    extent: null,
    voxels: 0,
    volumeMl: 0,
    seconds: 0,
    notes: [],
    roi: null,
    fronts: [],
    reusedSlices: 0,
    skippedSlices: 0,
    skipsRejected: 0,
    engineCalls: 0,
    postprocess: {},
    slices: [],
  };
}

/** A session implementation with the extras `segment()` and tools use. */
export type KeysliceSessionHandle = Session & {
  setAnnotations(annotations: Annotations): Promise<Revision>;
  cacheStats(): CacheStats;
};

/**
 * Hits and misses of a session's caches: whole labels, fronts, what engines derive from single key slices, the
 * fronts' comparisons of slices, and single slices of the image (windowed, denoised).
 */
export interface CacheStats {
  labelHits: number;
  labelMisses: number;
  frontHits: number;
  frontMisses: number;
  keyDerivedHits: number;
  keyDerivedMisses: number;
  comparisonHits: number;
  comparisonMisses: number;
  sliceDerivedHits: number;
  sliceDerivedMisses: number;
}

/** Opens a session on `image` (see the module comment). */
export async function openSession(image: Volume, options: SessionOptions = {}): Promise<KeysliceSessionHandle> {
  return new KeysliceSession(image, options);
}

/**
 * A store over `cache` for one region of interest: a value is kept under the region and `key`, made by `compute`
 * where nothing is kept, and counted as `bytes(value)` bytes.
 */
function keptInRoi(cache: LruCache<unknown>, roi: RoiBox): <T>(key: string, compute: () => T, bytes: (value: T) => number) => T {
  const at = `${roi.u0},${roi.v0},${roi.u1},${roi.v1}|`;
  return <T>(key: string, compute: () => T, bytes: (value: T) => number): T => {
    const hit = cache.get(at + key);
    if (hit !== undefined) return hit as T;
    const value = compute();
    cache.set(at + key, value, bytes(value));
    return value;
  };
}
