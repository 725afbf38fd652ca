/**
 * One label's propagation as `segment()` has always done it: the extent engine's run (model engines), the
 * controller's run with the engine, the 3D post-processing; and the label's report before merging. Results of
 * fronts may come from a cache (see `cache.ts`); nothing here depends on what ran before.
 */
import type { LabelAnnotation } from '../annotations/types.js';
import type { IntensityWindow } from '../analysis/window.js';
import { anyNonZero } from '../morphology/binary.js';
import type { LabelReport } from '../pipeline/segment.js';
import { propagateObject, type FrontInputs, type ObjectPropagation, type PriorStore, type PropagationOptions } from '../propagation/controller.js';
import type { FrontOutcome, FrontSlice, SliceComparisons } from '../propagation/front.js';
import type { FrontPlan } from '../propagation/plan.js';
import type { PropagationPolicy } from '../propagation/policy.js';
import { postprocessStack, postprocessStackFrom, type PostprocessMemo, type PostprocessOptions, type PostprocessReport } from '../propagation/postprocess.js';
import type { RoiBox } from '../propagation/roi.js';
import type { EngineUsage, KeyDerived, SliceDerived, SliceEngine } from '../propagation/types.js';
import type { SliceGeometry, Volume } from '../volume/volume.js';

export interface LabelRunOptions {
  range?: [number, number];
  stopRules?: PropagationOptions['stopRules'];
  interpolation?: PropagationOptions['interpolation'];
  postprocess?: PostprocessOptions;
  useExtentEngine?: boolean;
}

export interface LabelRunContext {
  image: Volume;
  sg: SliceGeometry;
  window: IntensityWindow;
  engine: SliceEngine;
  policy: PropagationPolicy;
  options: LabelRunOptions;
  usage?: EngineUsage;
  signal?: AbortSignal;
  /** The region of interest (default: from the key slices). */
  roi?: RoiBox;
  /** Answers a planned front from a cache, or runs it (see `PropagationOptions.front`); `which` tells the run. */
  front?: (which: 'extent' | 'engine', plan: FrontPlan, run: () => Promise<FrontOutcome>, inputs: FrontInputs) => Promise<FrontOutcome>;
  /** Keeps the interpolation of gaps across runs. */
  priors?: PriorStore;
  /** Keeps what the engines derive from single key slices across runs. */
  keyDerived?: (roi: RoiBox) => KeyDerived;
  /** Keeps the fronts' comparisons of slices across runs. */
  comparisons?: (roi: RoiBox) => SliceComparisons;
  /** Keeps what the engines derive from single slices of the image across runs. */
  sliceDerived?: (roi: RoiBox) => SliceDerived;
  /**
   * The post-processing of this label's last run, to clean only the slices whose neighbourhood changed (see
   * `postprocessStackFrom`); `keep` hears the new one.
   */
  postprocessed?: { memo: PostprocessMemo | null; keep(memo: PostprocessMemo | null): void };
  /** Called after each engine call of the engine's run, with its slice (progress). */
  onStep?: (slice: number) => void;
  /** Hears each slice a front of the engine's run keeps (ROI coordinates of `roi`). */
  onSlice?: (w: number, s: FrontSlice, plan: FrontPlan) => void;
}

/** A label's result: its ROI stack after post-processing (null: no key slice says where it is) and report. */
export interface LabelRun {
  label: LabelAnnotation;
  propagation: ObjectPropagation | null;
  report: LabelReport;
}

/** First and last slice of a stack (`count` slices of `area` pixels) holding any pixel, or null. */
export function stackExtent(mask: Uint8Array, area: number, count: number): [number, number] | null {
  let first = -1;
  let last = -1;
  for (let w = 0; w < count; w++) {
    const s = mask.subarray(w * area, (w + 1) * area);
    if (anyNonZero(s)) {
      if (first < 0) first = w;
      last = w;
    }
  }
  return first < 0 ? null : [first, last];
}

/** Runs one label (see the module comment). */
export async function runLabel(ctx: LabelRunContext, label: LabelAnnotation): Promise<LabelRun> {
  const { image, sg, window, engine, options } = ctx;
  const tl = performance.now();
  let extentRun: LabelReport['extentRun'];
  const extentEngine = ctx.policy.extentEngine;
  const common: PropagationOptions = {
    ...(ctx.roi ? { roi: ctx.roi } : {}),
    range: options.range,
    stopRules: options.stopRules,
    interpolation: options.interpolation,
    ...(ctx.signal ? { signal: ctx.signal } : {}),
    ...(ctx.priors ? { priors: ctx.priors } : {}),
    ...(ctx.keyDerived ? { keyDerived: ctx.keyDerived } : {}),
    ...(ctx.comparisons ? { comparisons: ctx.comparisons } : {}),
    ...(ctx.sliceDerived ? { sliceDerived: ctx.sliceDerived } : {}),
  };
  if (extentEngine && options.useExtentEngine !== false) {
    const te = performance.now();
    const front = ctx.front;
    const q = await propagateObject(image, sg, label, extentEngine, window, {
      ...common,
      ...(front ? { front: (plan: FrontPlan, run: () => Promise<FrontOutcome>, inputs: FrontInputs) => front('extent', plan, run, inputs) } : {}),
    });
    let extent: [number, number] | null = null;
    if (q) {
      postprocessStack(q.mask, q.nu, q.nv, sg.count, new Set(q.keyMasks.keys()), options.postprocess);
      extent = stackExtent(q.mask, q.nu * q.nv, sg.count);
    }
    extentRun = { engine: extentEngine.name, extent, seconds: (performance.now() - te) / 1000 };
  }
  const front = ctx.front;
  const p = await propagateObject(image, sg, label, engine, window, {
    ...common,
    policy: ctx.policy,
    ...(extentRun?.extent ? { extent: extentRun.extent } : {}),
    ...(ctx.usage ? { usage: ctx.usage } : {}),
    ...(front ? { front: (plan: FrontPlan, run: () => Promise<FrontOutcome>, inputs: FrontInputs) => front('engine', plan, run, inputs) } : {}),
    ...(ctx.onSlice ? { onSlice: ctx.onSlice } : {}),
    ...(ctx.onStep ? { onStep: ctx.onStep } : {}),
  });
  let postprocess: PostprocessReport = {};
  if (p) {
    // Without a memo this is the whole clean-up (the same voxels and report as `postprocessStack`).
    const r = postprocessStackFrom({ mask: p.mask, nu: p.nu, nv: p.nv, nw: sg.count }, new Set(p.keyMasks.keys()), options.postprocess, ctx.postprocessed?.memo ?? null);
    ctx.postprocessed?.keep(r.memo);
    postprocess = r.report;
  }
  const report: LabelReport = {
    value: label.value,
    ...(label.name !== undefined ? { name: label.name } : {}),
    engine: engine.name,
    keySlices: label.keySlices.map((k) => k.index),
    emptyKeySlices: label.keySlices.filter((k) => k.empty).map((k) => k.index),
    extent: null,
    voxels: 0,
    volumeMl: 0,
    seconds: (performance.now() - tl) / 1000,
    notes: engine.promptNotes?.(label) ?? [],
    roi: p ? [p.roi.u0, p.roi.v0, p.roi.u1, p.roi.v1] : null,
    fronts: p?.fronts ?? [],
    ...(extentRun ? { extentRun } : {}),
    reusedSlices: p?.reused ?? 0,
    skippedSlices: p?.skipped ?? 0,
    skipsRejected: p?.skipsRejected ?? 0,
    engineCalls: p?.engineCalls ?? 0,
    postprocess,
    slices: p?.slices ?? [],
  };
  return { label, propagation: p, report };
}
