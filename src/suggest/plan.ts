/**
 * Which slice to annotate next, from a propagation result: a pure function of the key slices and the per-slice
 * report (`keyslice suggest` runs the segmentation first, then this).
 *
 * The risk of a slice holding the predicted object is its predicted area times its distance (mm) to the nearest
 * key slice holding the object, doubled beyond the outermost key slices (one key slice supports them, and where
 * the object ends is a guess), and grown by the engine's doubt (how far its confidence there falls below its
 * median confidence for the object, relative to it). Where a front stopped by itself (not at a key slice, an
 * "absent" slice, the range or the image's end), the slice beyond its last one counts too, with the area of that
 * last slice: the object may go on.
 * The next key slice is the one whose annotation is expected to remove the most risk. Between key slices the
 * object is taken to be there: its annotation removes its own risk and that of the slices it becomes the nearest
 * key slice for. Beyond the outermost key slices the answer may be "absent", which removes the risk of every
 * predicted slice from there outward; the chance of "present" is taken to fall linearly from 1 at the key slice
 * to 0 past the predicted end, so a long doubtful run is cut near its middle (a bisection for the object's end)
 * rather than probed at its far end. The next k are chosen one after the other, each counted as annotated
 * (present) for the next.
 * A label of several separate objects (lesions; see `PlanInput.unseen`) may hold more objects than its key
 * slices touch, which no front can find: every slice of the search range that nothing covers carries the risk of
 * an unseen object of the label's typical cross-section (weighed by the slice's tissue), so the plan also spreads
 * the key slices over the tissue (an empty answer there says nothing of the slices beyond it: no bisection).
 * Every suggestion says why: the largest gap between key slices, the object's likely end, far from any key
 * slice, an unexplored part of a scattered label, low confidence, or a break in slice similarity where a front
 * stopped.
 */
import type { FrontReport, SliceReport } from '../propagation/types.js';

export type SuggestionReason = 'largest-gap' | 'gap' | 'likely-end' | 'far-from-keys' | 'unexplored' | 'low-confidence' | 'similarity-break' | 'start';

export interface Suggestion {
  /** 0-based slice index along the slice axis. */
  slice: number;
  reason: SuggestionReason;
  /** One sentence for a person. */
  detail: string;
  /** Risk removed by annotating this slice (predicted pixels x mm). */
  gain: number;
}

export interface PlanInput {
  count: number;
  /** Slice spacing, mm. */
  sliceSpacingMm: number;
  /** Key slices holding the object, and those saying it is absent. */
  objectKeys: number[];
  absentKeys: number[];
  /** Per-slice records of the label (area in pixels, confidence in [0, 1]). */
  slices: SliceReport[];
  fronts: FrontReport[];
  /** Slices outside this range are never suggested (default: the whole volume). */
  range?: [number, number];
  /**
   * A label of scattered objects (lesions): how many its key slices touch, and on each slice the cross-section
   * (pixels) of the objects no key slice touches that may lie there (the label's mean cross-section, weighed by
   * the slice's share of tissue). Absent: the label is one object and only its predicted slices carry risk.
   */
  unseen?: { objects: number; areas: readonly number[] };
}

/** Front stops that are the front's own decision (the object may go on beyond them). */
const SOFT_STOPS = new Set(['object-ended', 'area-collapse', 'area-regrowth', 'confidence-regrowth', 'low-confidence', 'similarity-break', 'extent', 'other-label']);

interface Risky {
  slice: number;
  area: number;
  doubt: number;
  /** An unexplored slice of a scattered label (no predicted object there). */
  unseen?: boolean;
}

function risk(slices: Risky[], keys: number[], mm: number): number {
  const sorted = [...keys].sort((a, b) => a - b);
  let total = 0;
  for (const s of slices) {
    let below = -Infinity;
    let above = Infinity;
    for (const k of sorted) {
      if (k === s.slice) {
        below = above = k;
        break;
      }
      if (k < s.slice) below = k;
      else if (k > s.slice) {
        above = k;
        break;
      }
    }
    if (below === s.slice) continue;
    const between = Number.isFinite(below) && Number.isFinite(above);
    const d = Math.min(s.slice - below, above - s.slice) * mm;
    // An unseen object's risk is the same on both sides of the key slices: no end is guessed there.
    total += s.area * d * (between || s.unseen ? 1 : 2) * (1 + s.doubt);
  }
  return total;
}

/** Expected risk removed by annotating slice `w` (see the module comment). */
function expectedGain(risky: Risky[], keys: number[], w: number, base: number, mm: number, scattered: boolean): number {
  const present = base - risk(risky, [...keys, w], mm);
  if (scattered) return present;
  const below = keys.filter((k) => k < w).reduce((a, b) => Math.max(a, b), -Infinity);
  const above = keys.filter((k) => k > w).reduce((a, b) => Math.min(a, b), Infinity);
  if (Number.isFinite(below) && Number.isFinite(above)) return present;
  const key = Number.isFinite(below) ? below : above;
  const dir = Number.isFinite(below) ? 1 : -1;
  let length = 1;
  for (const x of risky) if ((x.slice - key) * dir > 0) length = Math.max(length, Math.abs(x.slice - key));
  const p = 1 - Math.abs(w - key) / (length + 1);
  const absent = base - risk(risky.filter((x) => (x.slice - w) * dir < 0), keys, mm);
  return p * present + (1 - p) * absent;
}

/** The next `budget` slices to annotate, best first. */
export function planNextSlices(input: PlanInput, budget: number): Suggestion[] {
  const { count, sliceSpacingMm: mm } = input;
  const lo = input.range?.[0] ?? 0;
  const hi = input.range?.[1] ?? count - 1;
  const taken = new Set([...input.objectKeys, ...input.absentKeys]);
  const bySlice = new Map(input.slices.map((s) => [s.slice, s]));
  // Doubt: how far a slice's confidence falls below the object's typical (median) confidence, relative to it.
  const confs = input.slices.filter((s) => s.area > 0 && s.source !== 'key').map((s) => s.confidence).sort((a, b) => a - b);
  const typical = confs.length ? confs[confs.length >> 1] : 1;
  const risky: Risky[] = [];
  for (const s of input.slices) {
    if (s.area > 0 && !taken.has(s.slice)) {
      risky.push({ slice: s.slice, area: s.area, doubt: typical > 0 ? Math.max(0, typical - s.confidence) / typical : 0 });
    }
  }
  // Beyond a front that stopped by itself, the object may go on.
  const beyond = new Map<number, FrontReport>();
  for (const f of input.fronts) {
    if (!SOFT_STOPS.has(f.stop)) continue;
    const last = f.last ?? f.from;
    const next = last + f.direction;
    if (next < lo || next > hi || taken.has(next)) continue;
    const area = bySlice.get(last)?.area ?? 0;
    if (area > 0 && !risky.some((r) => r.slice === next)) {
      risky.push({ slice: next, area, doubt: 1 });
      beyond.set(next, f);
    }
  }
  // A scattered label: the slices nothing covers may hold objects no key slice touches.
  const unexplored = new Set<number>();
  if (input.unseen) {
    const predicted = new Set(risky.map((r) => r.slice));
    for (let w = lo; w <= hi; w++) {
      const area = input.unseen.areas[w] ?? 0;
      if (area > 0 && !taken.has(w) && !predicted.has(w)) {
        risky.push({ slice: w, area, doubt: 0, unseen: true });
        unexplored.add(w);
      }
    }
  }
  // For a scattered label an "absent" key slice covers its neighbours too: an object there would have shown.
  const keys = input.unseen ? [...input.objectKeys, ...input.absentKeys] : [...input.objectKeys];
  const out: Suggestion[] = [];
  for (let n = 0; n < budget; n++) {
    const base = risk(risky, keys, mm);
    let best: { slice: number; gain: number } | null = null;
    for (const r of risky) {
      if (keys.includes(r.slice) || r.slice < lo || r.slice > hi) continue;
      const gain = expectedGain(risky, keys, r.slice, base, mm, input.unseen !== undefined);
      if (!best || gain > best.gain) best = { slice: r.slice, gain };
    }
    if (!best || best.gain <= 0) break;
    out.push({ ...best, ...(unexplored.has(best.slice) ? explainUnseen(best.slice, keys, input, mm) : explain(best.slice, keys, input, beyond, mm)) });
    keys.push(best.slice);
  }
  return out;
}

/** Why an unexplored slice of a scattered label is asked. */
function explainUnseen(w: number, keys: number[], input: PlanInput, mm: number): { reason: SuggestionReason; detail: string } {
  const nearest = keys.reduce((a, k) => (Math.abs(k - w) < Math.abs(a - w) ? k : a), keys[0] ?? w);
  const n = input.unseen?.objects ?? 0;
  return {
    reason: 'unexplored',
    detail: `the label is ${n} separate objects on its key slices, and objects no key slice touches are not found: slice ${w} is ${(Math.abs(w - nearest) * mm).toFixed(1)} mm from key slice ${nearest}`,
  };
}

function explain(
  w: number,
  keys: number[],
  input: PlanInput,
  beyond: Map<number, FrontReport>,
  mm: number,
): { reason: SuggestionReason; detail: string } {
  const sorted = [...keys].sort((a, b) => a - b);
  const below = sorted.filter((k) => k < w).pop();
  const above = sorted.find((k) => k > w);
  const f = beyond.get(w);
  if (f) {
    if (f.stop === 'similarity-break') {
      return { reason: 'similarity-break', detail: `the front from key slice ${f.from} stopped at a break in slice similarity (${f.detail ?? ''}); is the object on slice ${w}?` };
    }
    return { reason: 'likely-end', detail: `the front from key slice ${f.from} stopped after slice ${f.last ?? f.from} (${f.stop}); is the object on slice ${w}?` };
  }
  const ends = input.fronts.filter((x) => SOFT_STOPS.has(x.stop) && x.last === w);
  if (ends.length) {
    return { reason: 'likely-end', detail: `the object's predicted end: the front from key slice ${ends[0].from} stopped here (${ends[0].stop})` };
  }
  const conf = input.slices.find((s) => s.slice === w)?.confidence ?? 1;
  const confs = input.slices.filter((s) => s.area > 0 && s.source !== 'key').map((s) => s.confidence).sort((a, b) => a - b);
  if (confs.length >= 3 && conf <= confs[0] && conf < confs[confs.length >> 1]) {
    return { reason: 'low-confidence', detail: `the lowest propagation confidence of the object (${conf.toFixed(2)})` };
  }
  if (below !== undefined && above !== undefined) {
    let widest = 0;
    for (let i = 0; i + 1 < sorted.length; i++) widest = Math.max(widest, sorted[i + 1] - sorted[i]);
    return {
      reason: above - below >= widest ? 'largest-gap' : 'gap',
      detail: `inside the ${((above - below) * mm).toFixed(1)} mm between key slices ${below} and ${above}`,
    };
  }
  const k = below ?? above;
  return { reason: 'far-from-keys', detail: `${(Math.abs(w - (k ?? w)) * mm).toFixed(1)} mm beyond key slice ${k}, the nearest annotation` };
}
