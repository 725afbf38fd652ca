/**
 * The propagation controller: from the key slices of one object to a mask on every slice, with any engine.
 *
 * Schedule, for one object:
 * 1. every key slice with a prompt is segmented (a drawn mask is taken as given; boxes whose cut found nothing
 *    stand for the object by their inscribed ellipses) and never changed after;
 * 2. between two key slices that hold the object, a front runs from each end towards the other; where both
 *    reached a slice their masks are fused, weighted by distance, with the interpolation prior (shape-based
 *    interpolation of the key masks, or ITK morphological contour interpolation for engines that ask for it)
 *    as the third vote; a slice no front reached gets the prior (unless the two key slices show different
 *    objects: lesions apart in the slice, see `keyMasksApart`); the fronts themselves are guided by the
 *    interpolation of their gap's two key slices alone (see `frontGuide`), or by nothing where these show
 *    different objects (lesions apart in the slice, see `keyMasksApart`);
 * 3. between a key slice holding the object and one saying "absent", a single front runs and stops before the
 *    "absent" slice;
 * 4. beyond the outermost key slices, fronts run outward until they stop by themselves (nothing found, area
 *    collapse, low confidence, similarity break) or meet the image's end, the user's range or the `extent`
 *    another engine's run found (model engines);
 * 5. no front ever crosses a key slice: a front that stopped inside a gap leaves the rest to the front coming
 *    from the other end.
 * Neighbouring slices that are near-duplicates (SSIM above a threshold) reuse the neighbour's mask.
 *
 * The parts: `plan.ts` plans the fronts (pure), `front.ts` runs one front with an explicit state record,
 * `stop.ts` decides where a front stops (pure), `fuse.ts` fuses the two fronts of a gap (pure); the switches
 * an engine asks for come in a {@link PropagationPolicy}.
 */
import { fillBox, promptMask } from '../annotations/rasterize.js';
import { keyBoxes, perBoxKeySlices, type KeySlice, type LabelAnnotation } from '../annotations/types.js';
import type { IntensityWindow } from '../analysis/window.js';
import { interpolateKeyMasks, stackKeyMasks, type KeyMask } from '../interpolation/mci.js';
import { gapKeys, interpolateGap } from '../interpolation/shape.js';
import { anyNonZero, countNonZero, signedDistance2d } from '../morphology/binary.js';
import type { SliceGeometry, Volume } from '../volume/volume.js';
import { keyTip, runFront, type FrontOutcome, type FrontSlice, type SliceComparisons } from './front.js';
import { decidingFront, fuseSlice } from './fuse.js';
import { planFronts, type FrontPlan, type GapPlan, type Schedule } from './plan.js';
import { policyOf, type PropagationPolicy } from './policy.js';
import { cropKeySlice, pasteSlice, roiImage, roiOfLabel, roiSize, type RoiBox } from './roi.js';
import { DEFAULT_STOP_RULES, type StopRules } from './rules.js';
import { foundNothingBesideKey } from './stop.js';
import { apartReach, holdsObjectsApart, keyMasksApart, partsNear } from './apart.js';
import type { EngineUsage, FrontReport, Interpolation, KeyDerived, ObjectSession, RoiImage, SliceDerived, SliceEngine, SliceReport, SliceResult, SliceSource, StopReason } from './types.js';

export { DEFAULT_STOP_RULES, type StopRules } from './rules.js';

export interface PropagationOptions {
  /** Inclusive slice range [first, last] outside which nothing is propagated (key slices are kept anyway). */
  range?: [number, number];
  /**
   * Outer bounds [first, last] for the fronts beyond the outermost key slices, found by another engine's run
   * (see `SliceEngine.extentEngine`): an outward front stops there with reason `extent`.
   */
  extent?: [number, number];
  stopRules?: Partial<StopRules>;
  /** How the prior between key slices is interpolated (default: the policy's, else the engine's, else `shape`). */
  interpolation?: Interpolation;
  /** The region of interest to work in (default: from the key slices, see `roiOfKeySlices`). */
  roi?: RoiBox;
  /** Overrides of the switches the engine asks for (see {@link policyOf}). */
  policy?: Partial<PropagationPolicy>;
  /**
   * Runs a planned front (default: runs it). A caller keeping results across runs answers from its cache
   * here; `run` runs the front on the engine.
   */
  front?: (plan: FrontPlan, run: () => Promise<FrontOutcome>, inputs: FrontInputs) => Promise<FrontOutcome>;
  /** Called after each slice the engine propagates to, with its index (for progress). */
  onStep?: (slice: number) => void;
  /** The counters the engine adds its work to (default: a fresh set from the engine's `newUsage`). */
  usage?: EngineUsage;
  /** Stops the run between engine calls (the promise rejects with the signal's reason). */
  signal?: AbortSignal;
  /** Hears each slice a front keeps (ROI coordinates). */
  onSlice?: (w: number, s: FrontSlice, plan: FrontPlan) => void;
  /** Keeps the shape interpolation of gaps across runs (a session). */
  priors?: PriorStore;
  /** Keeps what the engine derives from single key slices across runs (a session; see `KeyDerived`). */
  keyDerived?: (roi: RoiBox) => KeyDerived;
  /** Keeps the fronts' comparisons of slices across runs on the same image (a session; see `SliceComparisons`). */
  comparisons?: (roi: RoiBox) => SliceComparisons;
  /** Keeps what the engine derives from single slices of the image across runs (a session; see `SliceDerived`). */
  sliceDerived?: (roi: RoiBox) => SliceDerived;
}

/** What a front's outcome depends on besides its plan (for a caller that keeps outcomes). */
export interface FrontInputs {
  roi: RoiBox;
  /** Key slices in ROI coordinates, sorted, with their masks (null: absent). */
  keyMasks: Map<number, Uint8Array | null>;
  keyConfidence: number;
  /** The prior guiding the fronts between key slices on slice w (see {@link frontGuide}). */
  priorOf(w: number): Uint8Array;
  rules: StopRules;
  policy: PropagationPolicy;
  /**
   * The other key slices whose masks the front's outcome depends on (see `ObjectSession.dependsOn`); null:
   * every key slice of the object.
   */
  dependsOn: number[] | null;
  /** Whether a key slice of the object shows several objects apart (see `FrontContext.severalObjects`). */
  severalObjects: boolean;
}

export interface ObjectPropagation {
  /** ROI used, in full-slice coordinates. */
  roi: RoiBox;
  /** ROI stack `mask[u + nu * (v + nv * w)]` (ROI nu, nv; all slices). */
  mask: Uint8Array;
  nu: number;
  nv: number;
  /** Key slices (index → mask), ROI coordinates; null = absent. */
  keyMasks: Map<number, Uint8Array | null>;
  slices: SliceReport[];
  fronts: FrontReport[];
  /** Slices that reused a neighbour's mask instead of running the engine. */
  reused: number;
  /** Slices skipped (filled by interpolation inside a two-slice step), and two-slice steps tried but not kept. */
  skipped: number;
  skipsRejected: number;
  engineCalls: number;
}

/**
 * The mask of every key slice: a drawn mask as given, a prompt segmented by the engine (see `orPromptMask`);
 * null = absent. Slices are `nu` pixels wide.
 */
export async function keySliceMasks(
  session: ObjectSession,
  keys: readonly KeySlice[],
  g: Pick<RoiImage, 'nu' | 'nv' | 'du' | 'dv'>,
): Promise<{ masks: Map<number, Uint8Array | null>; confidence: Map<number, number>; engineCalls: number }> {
  const { nu, nv } = g;
  const masks = new Map<number, Uint8Array | null>();
  const confidence = new Map<number, number>();
  const prompted: KeySlice[] = [];
  let engineCalls = 0;
  for (const k of keys) {
    if (k.empty) masks.set(k.index, null);
    else if (k.mask) {
      masks.set(k.index, k.mask);
      confidence.set(k.index, 1);
    } else prompted.push(k);
  }
  const keep = (k: KeySlice, results: SliceResult[]): void => {
    const r = withoutExcluded(orPromptMask(results.length === 1 ? results[0] : unionOfResults(results), k, nu), k);
    masks.set(k.index, r.mask);
    confidence.set(k.index, r.confidence);
  };
  // The first cut of each prompted key slice, one per box (see `perBoxKeySlices`).
  const firstCuts: SliceResult[][] = [];
  for (const k of prompted) {
    const results: SliceResult[] = [];
    for (const part of perBoxKeySlices(k)) {
      results.push(await session.segmentSlice(part));
      engineCalls++;
    }
    firstCuts.push(results);
    keep(k, results);
  }
  // Boxes cut again with what the other key slices show of the same object (see `ObjectSession.recutKeySlice`):
  // the parts of their masks near the box (see `partsNear`); lesions far apart are other objects, whose look may
  // differ.
  const recut = session.recutKeySlice?.bind(session);
  if (recut) {
    const first = [...masks].flatMap(([index, mask]) => (mask && anyNonZero(mask) ? [{ index, mask }] : []));
    for (const [n, k] of prompted.entries()) {
      if (keyBoxes(k).length === 0 || !first.some((o) => o.index !== k.index)) continue;
      const again: SliceResult[] = [];
      for (const [i, part] of perBoxKeySlices(k).entries()) {
        const near = part.box ? partsNear(fillBox(new Uint8Array(nu * nv), nu, nv, part.box), g) : null;
        const others = near
          ? first.flatMap((o) => {
              const mask = o.index === k.index ? null : near(o.mask);
              return mask ? [{ index: o.index, mask }] : [];
            })
          : [];
        const r = others.length > 0 ? await recut(part, others, firstCuts[n][i]) : null;
        if (r) engineCalls++;
        again.push(r ?? firstCuts[n][i]);
      }
      keep(k, again);
    }
  }
  return { masks, confidence, engineCalls };
}

/**
 * A box says the object is inside it: where the engine's cut of a key slice with boxes found nothing at all (a
 * small object that the surroundings outweigh), the boxes' inscribed ellipses stand for it (minus the negative
 * clicks, see `promptMask`), with confidence 0: a guess the image did not confirm. Other results as they are.
 */
export function orPromptMask(r: SliceResult, k: KeySlice, nu: number): SliceResult {
  if (keyBoxes(k).length === 0 || r.mask.some((x) => x)) return r;
  const mask = promptMask(k, nu, r.mask.length / nu);
  return mask ? { mask, confidence: 0 } : r;
}

/** A key slice's cut without the pixels it excludes (other labels' drawn masks there; the same result where none). */
export function withoutExcluded(r: SliceResult, k: Pick<KeySlice, 'excluded'>): SliceResult {
  const x = k.excluded;
  if (!x || !r.mask.some((v, i) => v && x[i])) return r;
  return { ...r, mask: Uint8Array.from(r.mask, (v, i) => (x[i] ? 0 : v)) };
}

/** Several cuts of one slice (one per box) as one: the union of their masks, confidence weighted by area. */
function unionOfResults(results: readonly SliceResult[]): SliceResult {
  const mask = new Uint8Array(results[0].mask.length);
  let weighted = 0;
  let area = 0;
  for (const r of results) {
    for (let i = 0; i < mask.length; i++) mask[i] |= r.mask[i];
    const a = countNonZero(r.mask);
    weighted += a * r.confidence;
    area += a;
  }
  return { mask, confidence: area > 0 ? weighted / area : Math.min(...results.map((r) => r.confidence)) };
}

/**
 * The interpolation prior of the key masks over the ROI stack. `reach` (shape interpolation): `neighbours`
 * (default) interpolates each gap with the key slices next to it (the spline's tangents), `gap` with the gap's
 * two key slices alone (see {@link frontGuide}); a gap with no neighbouring key slice then is copied from `same`
 * (the `neighbours` prior of the same key slices) where given.
 */
export async function interpolationPrior(
  img: Pick<RoiImage, 'nu' | 'nv' | 'count' | 'du' | 'dv'>,
  keyMasks: Map<number, Uint8Array | null>,
  interpolation: Interpolation,
  store?: PriorStore,
  reach: 'neighbours' | 'gap' = 'neighbours',
  same?: Uint8Array,
): Promise<Uint8Array> {
  const { nu, nv, count } = img;
  const keyList = [...keyMasks].map(([index, mask]) => ({ index, mask })).sort((a, b) => a.index - b.index);
  if (interpolation === 'mci') return await interpolateKeyMasks({ nu, nv, count }, keyList);
  // Gap by gap: each depends on the key slices near it only, so a caller can keep it across edits.
  const out = stackKeyMasks({ nu, nv, count }, keyList);
  const spacing = { du: img.du, dv: img.dv };
  const kept = store?.distances?.bind(store);
  const distances = kept ? (mask: Uint8Array) => kept({ nu, nv, ...spacing, mask }, () => signedDistance2d(mask, nu, nv, spacing.du, spacing.dv)) : undefined;
  for (let i = 0; i + 1 < keyList.length; i++) {
    if (keyList[i + 1].index - keyList[i].index < 2) continue;
    // No guide for the fronts between key masks apart in the slice: they show different objects (lesions), not
    // one shape changing into the other, so the gap's fronts follow the image alone.
    if (reach === 'gap' && keyMasksApart(keyList[i].mask, keyList[i + 1].mask, { nu, nv, ...spacing })) continue;
    const near = reach === 'gap' ? keyList.slice(i, i + 2) : gapKeys(keyList, i);
    const from = (keyList[i].index + 1) * nu * nv;
    if (same && near.length === gapKeys(keyList, i).length) {
      // No neighbour beyond the gap's own two key slices: the gap interpolates the same key slices either way.
      out.set(same.subarray(from, keyList[i + 1].index * nu * nv), from);
      continue;
    }
    const compute = (): Uint8Array => interpolateGap(nu, nv, near, near.indexOf(keyList[i]), spacing, distances);
    const gap = store ? store.gap({ nu, nv, near, start: keyList[i].index }, compute) : compute();
    out.set(gap, from);
  }
  return out;
}

/** A front's own stops between key slices: nothing of the object on the next slice, nothing sure, or a collapse. */
const SELF_STOPS: ReadonlySet<StopReason> = new Set<StopReason>(['object-ended', 'low-confidence', 'area-collapse']);

/**
 * The longest stretch (in widths of the larger key mask) that the prior bridges between two key slices where both
 * fronts stopped by themselves (default 2): an object unseen over a longer run than twice its width, with its
 * sections on both sides, is more likely two objects (lesions of one label far apart along the axis, near in the
 * slice) than one tube no front could follow.
 */
export const BRIDGE_WIDTHS = 2;

/**
 * The tips of a gap left empty (both fronts ended there by themselves, see `assembleObject`): a front that found
 * nothing of the object on the slice next to its own key slice (`object-ended` on its first step) leaves the key
 * mask's core there (`keyTip`, confidence 0), as an outward front does (see `endsOnKeyTip`): an object seldom
 * ends on the slice a user draws it on. Where both tips fall on one slice (key slices two apart), it holds both.
 */
export function gapTips(
  g: Pick<GapPlan, 'a' | 'b' | 'lo' | 'hi' | 'up' | 'down'>,
  px: Pick<RoiImage, 'nu' | 'nv' | 'du' | 'dv'>,
  keyMasks: Map<number, Uint8Array | null>,
  reportOf: (p: FrontPlan | null) => FrontReport | undefined,
  share: number,
): Map<number, { tip: FrontSlice; from: number }> {
  const tips = new Map<number, { tip: FrontSlice; from: number }>();
  for (const [plan, key, w] of [[g.up, g.a, g.a + 1], [g.down, g.b, g.b - 1]] as const) {
    const r = reportOf(plan);
    const m = keyMasks.get(key);
    if (!r || !foundNothingBesideKey(r.last ?? r.from, r.from, r.stop) || w < g.lo || w > g.hi || !m) continue;
    const tip = keyTip(m, px, share);
    if (!tip) continue;
    const other = tips.get(w);
    if (other) for (let i = 0; i < tip.length; i++) tip[i] |= other.tip.mask[i];
    tips.set(w, { tip: { mask: tip, confidence: 0, reused: false, note: 'key tip' }, from: other ? other.from : key });
  }
  return tips;
}

/** Length (mm along the slice axis) of the slices of a gap that neither front reached. */
function unseenSpan(g: { lo: number; hi: number }, fa: Map<number, unknown>, fb: Map<number, unknown>, dw: number): number {
  let n = 0;
  for (let w = g.lo; w <= g.hi; w++) if (!fa.has(w) && !fb.has(w)) n++;
  return n * dw;
}

/** Width (mm) of the larger key mask of a gap: twice its equivalent radius (see `apartReach`). */
function keyWidth(keyMasks: Map<number, Uint8Array | null>, g: { a: number; b: number }, px: { du: number; dv: number }): number {
  const area = (w: number): number => {
    const m = keyMasks.get(w);
    return m ? countNonZero(m) : 0;
  };
  return 2 * apartReach(area(g.a), area(g.b), px);
}

/**
 * The prior that guides the fronts between key slices: with shape interpolation, each gap interpolated from its
 * two key slices alone, so that a front depends on the key slices of its own gap (and the engine's partner, see
 * `ObjectSession.dependsOn`) and an edit leaves the fronts of other gaps as they were; the fusion of a gap's
 * fronts and the slices no front reached take the full prior (`prior`, through the neighbouring key slices).
 * With ITK contour interpolation (a whole-stack method), the prior itself.
 */
export async function frontGuide(
  img: Pick<RoiImage, 'nu' | 'nv' | 'count' | 'du' | 'dv'>,
  keyMasks: Map<number, Uint8Array | null>,
  interpolation: Interpolation,
  prior: Uint8Array,
  store?: PriorStore,
): Promise<Uint8Array> {
  return interpolation === 'mci' ? prior : await interpolationPrior(img, keyMasks, interpolation, store, 'gap', prior);
}

/**
 * Keeps the interpolation of gaps between key slices across runs: `gap` answers the gap after key slice `start`
 * (slices of `nu x nv` pixels), whose interpolation depends on the key slices `near` only, from what it kept, or
 * computes and keeps it.
 */
export interface PriorStore {
  gap(which: { nu: number; nv: number; near: KeyMask[]; start: number }, compute: () => Uint8Array): Uint8Array;
  /**
   * The signed distance map of a key mask over a whole slice of `nu x nv` pixels of `du x dv` mm, from what it
   * kept, or computed and kept (optional: gaps interpolated again after an edit then measure the key masks
   * they share with other gaps once).
   */
  distances?(which: { nu: number; nv: number; du: number; dv: number; mask: Uint8Array }, compute: () => Float32Array): Float32Array;
}

interface SliceRecord {
  source: SliceSource;
  from: number[];
  confidence: number;
  reused?: boolean;
  skipped?: boolean;
}

/**
 * The ROI stack and per-slice records from the key masks, the schedule and the fronts' outcomes (by plan):
 * key slices as they are, front slices as written, the two fronts of a gap fused where both reached a slice,
 * the prior where neither did (when the gap asks for it). `tipShare`: an image-guided engine's fronts; in a gap
 * left empty (see `gapTips`), a front that found nothing next to its key slice leaves that share of the key
 * mask's core there.
 */
export function assembleObject(
  dims: { nu: number; nv: number; count: number; du: number; dv: number; dw: number },
  keys: readonly KeySlice[],
  keyMasks: Map<number, Uint8Array | null>,
  keyConfidence: Map<number, number>,
  schedule: Schedule,
  outcomes: Map<FrontPlan, FrontOutcome>,
  priorOf: (w: number) => Uint8Array,
  priorVote: number,
  tipShare?: number,
): { mask: Uint8Array; slices: SliceReport[] } {
  const { nu, nv, count } = dims;
  const area = nu * nv;
  const mask = new Uint8Array(area * count);
  const records = new Map<number, SliceRecord>();
  const write = (w: number, m: Uint8Array): void => mask.set(m.subarray(0, area), w * area);
  for (const k of keys) {
    const m = keyMasks.get(k.index);
    if (m) write(k.index, m);
    records.set(k.index, { source: 'key', from: [k.index], confidence: m ? (keyConfidence.get(k.index) ?? 1) : 1 });
  }
  const take = (w: number, s: FrontSlice, from: number): void => {
    write(w, s.mask);
    records.set(w, {
      source: 'propagated',
      from: [from],
      confidence: s.confidence,
      ...(s.reused ? { reused: true } : {}),
      ...(s.skipped ? { skipped: true } : {}),
    });
  };
  const none = new Map<number, FrontSlice>();
  const slicesOf = (p: FrontPlan | null): Map<number, FrontSlice> => (p ? (outcomes.get(p)?.slices ?? none) : none);
  for (const [w, s] of slicesOf(schedule.below)) take(w, s, schedule.below?.key as number);
  const reportOf = (p: FrontPlan | null): FrontReport | undefined => (p ? outcomes.get(p)?.report : undefined);
  const stopOf = (p: FrontPlan | null): StopReason | undefined => reportOf(p)?.stop;
  const selfStopped = (p: FrontPlan | null): boolean => {
    const stop = stopOf(p);
    return stop !== undefined && SELF_STOPS.has(stop);
  };
  for (const g of schedule.gaps) {
    const fa = slicesOf(g.up);
    const fb = slicesOf(g.down);
    // Both fronts found the object ending, nothing of it on their next slices (lesions of one label above and
    // below, not one object): the slices between them are empty, not bridged by the prior. So too where both
    // stopped by themselves (for doubt as well) and the prior would bridge more than `BRIDGE_WIDTHS` times the
    // key masks' width that no front saw.
    const bothEnded =
      (stopOf(g.up) === 'object-ended' && stopOf(g.down) === 'object-ended') ||
      (selfStopped(g.up) && selfStopped(g.down) && unseenSpan(g, fa, fb, dims.dw) > BRIDGE_WIDTHS * keyWidth(keyMasks, g, dims));
    const fallback = g.priorFallback && !bothEnded;
    const tips = bothEnded && tipShare !== undefined ? gapTips(g, dims, keyMasks, reportOf, tipShare) : null;
    for (let w = g.lo; w <= g.hi; w++) {
      const sa = fa.get(w);
      const sb = fb.get(w);
      const tip = tips?.get(w);
      if (tip && !sa && !sb) take(w, tip.tip, tip.from);
      else if (sa && sb) {
        const f = fuseSlice(sa, sb, priorOf(w), (w - g.a) / (g.b - g.a), priorVote);
        write(w, f.mask);
        records.set(w, { source: 'fused', from: [g.a, g.b], confidence: f.confidence });
      } else if (sa) take(w, sa, g.a);
      else if (sb) take(w, sb, g.b);
      else if (fallback) {
        write(w, priorOf(w));
        records.set(w, { source: 'interpolated', from: [g.a, g.b], confidence: 0 });
      }
    }
  }
  for (const [w, s] of slicesOf(schedule.above)) take(w, s, schedule.above?.key as number);
  const slices: SliceReport[] = [];
  for (let w = 0; w < count; w++) {
    const r = records.get(w);
    slices.push({
      slice: w,
      source: r?.source ?? 'none',
      from: r?.from ?? [],
      confidence: Math.round((r?.confidence ?? 0) * 1000) / 1000,
      area: countNonZero(mask.subarray(w * area, (w + 1) * area)),
      ...(r?.reused ? { reused: true } : {}),
      ...(r?.skipped ? { skipped: true } : {}),
    });
  }
  return { mask, slices };
}

/**
 * Runs the schedule for one object. Returns the ROI stack of masks and the per-slice and per-front reports.
 * Key slices with a mask prompt are taken as given; others are segmented by the engine.
 */
export async function propagateObject(
  image: Volume,
  sg: SliceGeometry,
  label: LabelAnnotation,
  engine: SliceEngine,
  window: IntensityWindow,
  options: PropagationOptions = {},
): Promise<ObjectPropagation | null> {
  const rules: StopRules = { ...DEFAULT_STOP_RULES, ...options.stopRules };
  const policy = policyOf(engine, { ...options.policy, ...(options.interpolation ? { interpolation: options.interpolation } : {}) });
  const own = roiOfLabel(label.keySlices, sg);
  if (!own) return null;
  const roi = options.roi ?? own;
  const sliceDerived = options.sliceDerived?.(roi);
  const img = roiImage(image, sg, roi, window, sliceDerived);
  const { nu, nv } = roiSize(roi);
  const area = nu * nv;
  const count = sg.count;
  const keys: KeySlice[] = [...label.keySlices].sort((a, b) => a.index - b.index).map((k) => cropKeySlice(k, sg, roi));
  const usage = options.usage ?? engine.newUsage?.() ?? {};
  const session: ObjectSession = await engine.open(img, {
    usage,
    ...(options.keyDerived ? { keyDerived: options.keyDerived(roi) } : {}),
    ...(sliceDerived ? { sliceDerived } : {}),
  });
  try {
    const { masks: keyMasks, confidence: keyConfidence, engineCalls: keyCalls } = await keySliceMasks(session, keys, img);
    const objectKeys = keys.filter((k) => keyMasks.get(k.index));
    if (objectKeys.length === 0) return emptyResult(roi, nu, nv, count, keyMasks, keyCalls);
    await session.learn?.(objectKeys.map((k) => ({ index: k.index, mask: keyMasks.get(k.index) as Uint8Array })));
    const prior = await interpolationPrior(img, keyMasks, policy.interpolation, options.priors);
    const priorOf = (w: number): Uint8Array => prior.subarray(w * area, (w + 1) * area);
    const guide = await frontGuide(img, keyMasks, policy.interpolation, prior, options.priors);
    const guideOf = (w: number): Uint8Array => guide.subarray(w * area, (w + 1) * area);
    const schedule = planFronts({
      keys: keys.map((k) => ({ index: k.index, present: !!keyMasks.get(k.index) })),
      count,
      ...(options.range ? { range: options.range } : {}),
      ...(options.extent ? { extent: options.extent } : {}),
      priorHolds: (w) => anyNonZero(guideOf(w)),
      priorFallback: policy.gapFallback !== 'none',
      apart: (a, b) => keyMasksApart(keyMasks.get(a) ?? null, keyMasks.get(b) ?? null, img),
    });
    // A label whose key slices show objects apart (lesions): each image-guided front leaves a tip of every one it
    // loses (see `FrontContext.severalObjects`).
    const severalObjects = policy.imageGuided && objectKeys.some((k) => holdsObjectsApart(keyMasks.get(k.index) as Uint8Array, img));
    const outcomes = new Map<FrontPlan, FrontOutcome>();
    const fronts: FrontReport[] = [];
    let engineCalls = keyCalls;
    let reused = 0;
    let skipped = 0;
    let skipsRejected = 0;
    const comparisons = options.comparisons?.(roi);
    const runPlan = async (plan: FrontPlan): Promise<FrontOutcome> => {
      const run = (): Promise<FrontOutcome> =>
        runFront(
          {
            img,
            session,
            rules,
            imageGuided: policy.imageGuided,
            severalObjects,
            keyMask: keyMasks.get(plan.key) as Uint8Array,
            keyConfidence: keyConfidence.get(plan.key) ?? 1,
            priorOf: guideOf,
            ...(options.onStep ? { onStep: options.onStep } : {}),
            ...(options.signal ? { signal: options.signal } : {}),
            ...(options.onSlice ? { onSlice: (w: number, s: FrontSlice) => options.onSlice?.(w, s, plan) } : {}),
            ...(comparisons ? { comparisons } : {}),
          },
          plan,
        );
      options.signal?.throwIfAborted();
      const dependsOn = session.dependsOn?.(plan) ?? (engine.frontsIndependent ? [] : null);
      const inputs: FrontInputs = { roi, keyMasks, keyConfidence: keyConfidence.get(plan.key) ?? 1, priorOf: guideOf, rules, policy, dependsOn, severalObjects };
      return await (options.front ? options.front(plan, run, inputs) : run());
    };
    const keep = (plan: FrontPlan, o: FrontOutcome): void => {
      outcomes.set(plan, o);
      fronts.push(o.report);
      engineCalls += o.engineCalls;
      reused += o.reused;
      skipped += o.skipped;
      skipsRejected += o.skipsRejected;
    };
    if (schedule.below) keep(schedule.below, await runPlan(schedule.below));
    for (const g of schedule.gaps) {
      // An engine that keeps what a front commits runs each front once, to its end.
      if (!g.up || !g.down || session.commit) {
        for (const plan of [g.up, g.down]) if (plan) keep(plan, await runPlan(plan));
        continue;
      }
      // Each front runs as far as its mask takes part in the fusion; the front from b also covers whatever the
      // front from a did not reach, and should the front from b stop short of where a's stopped, a's runs again
      // to meet it. The fused masks are those of two fronts run to the ends of the gap.
      const covers = gapCovers(g, rules.priorVote);
      let up = await runPlan({ ...g.up, cover: covers.up });
      const upLast = up.report.last ?? g.a;
      const down = await runPlan({ ...g.down, cover: Math.min(covers.down, upLast + 1) });
      const downLast = down.report.last ?? g.b;
      if (up.report.stop === 'gap-covered' && downLast - 1 > upLast) {
        engineCalls += up.engineCalls;
        up = await runPlan({ ...g.up, cover: downLast - 1 });
      }
      keep(g.up, up);
      keep(g.down, down);
    }
    if (schedule.above) keep(schedule.above, await runPlan(schedule.above));
    const { mask, slices } = assembleObject({ nu, nv, count, du: img.du, dv: img.dv, dw: img.dw }, keys, keyMasks, keyConfidence, schedule, outcomes, priorOf, rules.priorVote, policy.imageGuided ? rules.tipRatio : undefined);
    return { roi, mask, nu, nv, keyMasks, slices, fronts, reused, skipped, skipsRejected, engineCalls };
  } finally {
    session.close?.();
  }
}

/**
 * The slices each front of a gap must write: the front from a up to `up` (beyond it the front from b decides the
 * fused mask alone, see `decidingFront`), the front from b down to `down`.
 */
export function gapCovers(g: Pick<GapPlan, 'a' | 'b' | 'lo' | 'hi'>, priorVote: number): { up: number; down: number } {
  let up = g.lo - 1;
  let down = g.hi + 1;
  for (let w = g.hi; w >= g.lo; w--) if (decidingFront((w - g.a) / (g.b - g.a), priorVote) !== 'a') down = w;
  for (let w = g.lo; w <= g.hi; w++) if (decidingFront((w - g.a) / (g.b - g.a), priorVote) !== 'b') up = w;
  return { up, down };
}

function emptyResult(
  roi: RoiBox,
  nu: number,
  nv: number,
  count: number,
  keyMasks: Map<number, Uint8Array | null>,
  engineCalls: number,
): ObjectPropagation {
  const slices: SliceReport[] = [];
  for (let w = 0; w < count; w++) {
    slices.push({ slice: w, source: keyMasks.has(w) ? 'key' : 'none', from: keyMasks.has(w) ? [w] : [], confidence: 1, area: 0 });
  }
  return { roi, mask: new Uint8Array(nu * nv * count), nu, nv, keyMasks, slices, fronts: [], reused: 0, skipped: 0, skipsRejected: 0, engineCalls };
}

/** Pastes an object's ROI stack into a full stack (`out[u + nu * (v + nv * w)]` over whole slices). */
export function pasteObject(p: ObjectPropagation, sg: SliceGeometry, out: Uint8Array): void {
  const area = p.nu * p.nv;
  const full = sg.area;
  for (let w = 0; w < sg.count; w++) {
    pasteSlice(p.mask.subarray(w * area, (w + 1) * area), p.roi, out.subarray(w * full, (w + 1) * full), sg.nu);
  }
}
