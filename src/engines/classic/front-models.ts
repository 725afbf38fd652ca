/**
 * The intensity models a propagation front of the classic engine cuts with, learned from its own key slice and,
 * where that slice has too few object pixels for a histogram, from one partner key slice, weighing at most as
 * much as the own one: the far end of the front's gap (a front between key slices) or the nearest key slice
 * behind it (an outward front). A front's models therefore depend on at most two key slices, so an edit of one
 * key slice leaves the models of fronts elsewhere unchanged (an interactive session reuses those fronts).
 */
import type { FrontInfo } from '../../propagation/types.js';
import { IntensityModel, IntensityRange } from './intensity-model.js';

/** What a key slice contributes to intensity models. */
export interface KeySamples {
  index: number;
  /** Values inside the key mask (the object). */
  inside: ArrayLike<number>;
  /** Values in a ring around the key mask (its surroundings). */
  around: ArrayLike<number>;
  /** Values spread over the whole slice (the range of the histograms). */
  slice: ArrayLike<number>;
}

export interface FrontModels {
  fg: IntensityModel;
  bg: IntensityModel;
  /** The partner key slice whose samples were borrowed, or null. */
  partner: number | null;
}

/**
 * The key slice a front may borrow samples from: for a front between key slices, the nearest key slice holding
 * the object in its direction; for an outward front (or where there is none), the nearest one behind it.
 * `keys`: indices of the key slices holding the object.
 */
export function partnerKey(front: FrontInfo, keys: readonly number[]): number | null {
  const ahead = (d: number): number | null => {
    let best: number | null = null;
    for (const k of keys) {
      if (k === front.key || Math.sign(k - front.key) !== d) continue;
      if (best === null || Math.abs(k - front.key) < Math.abs(best - front.key)) best = k;
    }
    return best;
  };
  return (front.between ? ahead(front.direction) : null) ?? ahead(-front.direction);
}

/**
 * Weight of the partner's samples: enough to bring the object's samples to `target` (samples per bin times
 * bins), but never weighing more than the own key slice's samples, at most 1; 0 when the own key slice has
 * enough. The front cuts next to its own key slice; the partner lies further along the object (or on another
 * lesion of the label), where the object may look different: it fills the histogram out, it does not replace
 * it. A key slice without object samples of its own takes the partner's up to `target`.
 */
export function partnerWeight(ownInside: number, partnerInside: number, target: number): number {
  if (ownInside >= target || partnerInside <= 0) return 0;
  const lacking = target - ownInside;
  return Math.min(1, (ownInside > 0 ? Math.min(lacking, ownInside) : lacking) / partnerInside);
}

/** The partner's samples a front's models borrow (see {@link partnerWeight}), or null when none are borrowed. */
export function borrowedPartner(own: KeySamples, partner: KeySamples | null, samplesPerBin: number, bins = 64): KeySamples | null {
  return partner && partnerWeight(own.inside.length, partner.inside.length, samplesPerBin * bins) > 0 ? partner : null;
}

/** Models made before, by the samples they were made from (a caller that keeps samples across runs shares them). */
const made = new WeakMap<KeySamples, Map<KeySamples | null, Map<string, FrontModels>>>();

/**
 * {@link frontModels}, made once for the same samples (the same objects: samples a caller keeps across runs,
 * see `KeyDerived`). The models are shared: read only.
 */
export function keptFrontModels(own: KeySamples, partner: KeySamples | null, samplesPerBin: number, bins = 64): FrontModels {
  let byPartner = made.get(own);
  if (!byPartner) made.set(own, (byPartner = new Map()));
  let bySettings = byPartner.get(partner);
  if (!bySettings) byPartner.set(partner, (bySettings = new Map()));
  const settings = `${samplesPerBin}|${bins}`;
  let m = bySettings.get(settings);
  if (!m) bySettings.set(settings, (m = frontModels(own, partner, samplesPerBin, bins)));
  return m;
}

/** Object and surroundings models of a front from its key slice's samples and, weighted, its partner's. */
export function frontModels(own: KeySamples, partner: KeySamples | null, samplesPerBin: number, bins = 64): FrontModels {
  const used = borrowedPartner(own, partner, samplesPerBin, bins);
  const weight = used ? partnerWeight(own.inside.length, used.inside.length, samplesPerBin * bins) : 0;
  const range = IntensityRange.ofSorted(used ? mergeSorted(sortedSlice(own), sortedSlice(used)) : sortedSlice(own), bins);
  const fg = new IntensityModel(range);
  const bg = new IntensityModel(range);
  for (let i = 0; i < own.inside.length; i++) fg.add(own.inside[i]);
  for (let i = 0; i < own.around.length; i++) bg.add(own.around[i]);
  if (used) {
    for (let i = 0; i < used.inside.length; i++) fg.add(used.inside[i], weight);
    for (let i = 0; i < used.around.length; i++) bg.add(used.around[i], weight);
  }
  return { fg, bg, partner: used ? used.index : null };
}

/** Each key slice's `slice` samples in order, sorted once (the same objects: samples a caller keeps across runs). */
const sortedSlices = new WeakMap<KeySamples, Float64Array>();

/** A key slice's `slice` samples sorted (as `Float64Array.prototype.sort` orders them). Shared: read only. */
export function sortedSlice(s: KeySamples): Float64Array {
  let sorted = sortedSlices.get(s);
  if (!sorted) sortedSlices.set(s, (sorted = Float64Array.from(s.slice).sort()));
  return sorted;
}

/** The number of values of a sorted array before its NaNs (sorting puts them last). */
function beforeNaN(a: Float64Array): number {
  let n = a.length;
  while (n > 0 && Number.isNaN(a[n - 1])) n--;
  return n;
}

/** Two sorted arrays as one: the same values in the same order as sorting their concatenation (-0 before 0, NaN last). */
export function mergeSorted(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length + b.length);
  const na = beforeNaN(a);
  const nb = beforeNaN(b);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < na && j < nb) {
    const x = a[i];
    const y = b[j];
    // Equal values are the same number, except -0 and 0.
    if (x < y || (x === y && (x !== 0 || !Object.is(y, -0) || Object.is(x, -0)))) {
      out[k++] = x;
      i++;
    } else {
      out[k++] = y;
      j++;
    }
  }
  while (i < na) out[k++] = a[i++];
  while (j < nb) out[k++] = b[j++];
  out.fill(NaN, k);
  return out;
}
