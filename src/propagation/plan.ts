/**
 * The front planner: which fronts run for one object, in which order, how far and why they end. Pure: key slices
 * and bounds in, plans out; nothing is computed on the image.
 *
 * - beyond the outermost key slices, one front runs outward from each end that holds the object, up to the
 *   image's end, the user's range or the extent another engine's run found;
 * - between two consecutive key slices, a front runs from each end holding the object towards the other; a
 *   front runs only when its gap, cut to the range, still touches its key slice;
 * - fronts never cross a key slice.
 * Fronts run in this order: outward below the first key slice, then each gap from below (its lower front
 * first), then outward above the last key slice.
 */
import type { FrontInfo, StopReason } from './types.js';

export type { FrontInfo } from './types.js';


export interface FrontPlan extends FrontInfo {
  /** Last slice the front may write (inclusive). */
  limit: number;
  /** Why the front ends when it reaches `limit` without stopping earlier. */
  endReason: StopReason;
  /**
   * Between key slices: the last slice the front needs to write (once every slice up to it is written, it ends
   * with `gap-covered`), where the other front decides the rest of the gap alone (see `fuse.ts`). Unset: `limit`.
   */
  cover?: number;
}

/** A gap between two consecutive key slices, cut to the range, with the fronts that fill it. */
export interface GapPlan {
  /** The key slices bounding the gap. */
  a: number;
  b: number;
  /** First and last slice of the gap inside the range. */
  lo: number;
  hi: number;
  /** The fronts from `a` upward and from `b` downward, when they run. */
  up: FrontPlan | null;
  down: FrontPlan | null;
  /** Whether a slice no front reached gets the interpolation prior (both ends hold the same object). */
  priorFallback: boolean;
}

export interface Schedule {
  below: FrontPlan | null;
  gaps: GapPlan[];
  above: FrontPlan | null;
}

export interface ScheduleInput {
  /** Key slices, sorted by index; `present` is false for a slice saying the object is absent. */
  keys: readonly { index: number; present: boolean }[];
  /** Slices in the image. */
  count: number;
  /** The user's slice range (inclusive), default the whole image. */
  range?: [number, number];
  /** Outer bounds for the outward fronts, from the extent engine's run. */
  extent?: [number, number];
  /**
   * Whether the interpolation prior holds the object on slice w (asked once per gap next to an "absent" key
   * slice, at the middle of the gap: there a tapered prior makes the front run between key slices).
   */
  priorHolds(w: number): boolean;
  /** Whether the engine wants the prior on slices no front reached (false: `gapFallback: 'none'`). */
  priorFallback: boolean;
  /**
   * Whether the key slices a and b (both holding the object) show different objects, such as lesions apart in
   * the slice (see `keyMasksApart`): the prior then moves one into the other across the gap, and the slices no
   * front reached stay empty rather than take it (default: never).
   */
  apart?(a: number, b: number): boolean;
}

/** Why an outward front ends at its limit: another engine's extent, the user's range or the image's end. */
function outerReason(limit: number, bound: number, edge: number): StopReason {
  return limit !== bound ? 'extent' : bound !== edge ? 'range' : 'volume-edge';
}

/** The schedule for one object (see the module comment). */
export function planFronts(input: ScheduleInput): Schedule {
  const { keys, count } = input;
  const lo = Math.max(0, input.range?.[0] ?? 0);
  const hi = Math.min(count - 1, input.range?.[1] ?? count - 1);
  const outLo = Math.max(lo, input.extent?.[0] ?? lo);
  const outHi = Math.min(hi, input.extent?.[1] ?? hi);
  const first = keys[0];
  const last = keys[keys.length - 1];
  const below: FrontPlan | null =
    first && first.present && first.index > outLo
      ? { key: first.index, direction: -1, between: false, limit: outLo, endReason: outerReason(outLo, lo, 0) }
      : null;
  const above: FrontPlan | null =
    last && last.present && last.index < outHi
      ? { key: last.index, direction: 1, between: false, limit: outHi, endReason: outerReason(outHi, hi, count - 1) }
      : null;
  const gaps: GapPlan[] = [];
  for (let n = 0; n + 1 < keys.length; n++) {
    const a = keys[n].index;
    const b = keys[n + 1].index;
    if (b - a < 2) continue;
    const ma = keys[n].present;
    const mb = keys[n + 1].present;
    const gLo = Math.max(a + 1, lo);
    const gHi = Math.min(b - 1, hi);
    if (gLo > gHi) continue;
    // A prior between an object key slice and an "absent" one exists where the interpolation tapers the object.
    const tapered = (!ma || !mb) && input.priorHolds(Math.round((gLo + gHi) / 2));
    const up: FrontPlan | null =
      ma && gLo === a + 1
        ? { key: a, direction: 1, between: mb || tapered, limit: gHi, endReason: gHi === b - 1 ? (mb ? 'key-slice' : 'absent') : 'range' }
        : null;
    const down: FrontPlan | null =
      mb && gHi === b - 1
        ? { key: b, direction: -1, between: ma || tapered, limit: gLo, endReason: gLo === a + 1 ? (ma ? 'key-slice' : 'absent') : 'range' }
        : null;
    gaps.push({ a, b, lo: gLo, hi: gHi, up, down, priorFallback: ma && mb && input.priorFallback && !input.apart?.(a, b) });
  }
  return { below, gaps, above };
}

/** Every front of a schedule, in the order they run. */
export function frontsInOrder(s: Schedule): FrontPlan[] {
  const out: FrontPlan[] = [];
  if (s.below) out.push(s.below);
  for (const g of s.gaps) {
    if (g.up) out.push(g.up);
    if (g.down) out.push(g.down);
  }
  if (s.above) out.push(s.above);
  return out;
}
