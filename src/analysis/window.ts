/**
 * Display window of an image, chosen from the data so that an unknown CT or MR gets a sensible one:
 * - CT in Hounsfield units (air near -1000 present, values within the HU range): a soft-tissue window,
 *   level 40 HU, width 400 HU;
 * - anything else: the 0.5th to 99.5th percentile of the voxel values.
 */
import type { Volume } from '../volume/volume.js';

export interface IntensityWindow {
  low: number;
  high: number;
  /** How it was chosen: detected CT, percentiles, a named CT preset, or given as LOW:HIGH. */
  kind: 'ct-soft-tissue' | 'percentile' | 'preset' | 'manual';
  /** The preset's name, for `preset`. */
  name?: string;
}

/** CT window presets, Hounsfield units (level, width). */
export const CT_WINDOW_PRESETS: Readonly<Record<string, { level: number; width: number }>> = {
  abdomen: { level: 40, width: 400 },
  lung: { level: -600, width: 1500 },
  brain: { level: 40, width: 80 },
  mediastinum: { level: 50, width: 350 },
  bone: { level: 400, width: 1800 },
};

/** The window of a named CT preset, or null for an unknown name. */
export function presetWindow(name: string): IntensityWindow | null {
  const p = CT_WINDOW_PRESETS[name];
  return p ? { low: p.level - p.width / 2, high: p.level + p.width / 2, kind: 'preset', name } : null;
}

/** Soft-tissue CT window, HU. */
export const CT_SOFT_TISSUE: readonly [number, number] = [-160, 240];

/** Every k-th value of `data`, at most `max` of them, in no particular order. */
function sample(data: ArrayLike<number>, max = 1 << 20): Float64Array {
  const step = Math.max(1, Math.floor(data.length / max));
  const out = new Float64Array(Math.ceil(data.length / step));
  let n = 0;
  for (let i = 0; i < data.length; i += step) out[n++] = data[i];
  return out.subarray(0, n);
}

/**
 * Values of a sample at given ranks of its ascending order (NaN last, as `Float64Array.prototype.sort` orders
 * them) without sorting it: each rank is selected in place (Hoare's selection, average linear time) within the
 * stretch between the ranks already found, so a few quantiles cost about two passes instead of a sort.
 */
export class OrderStatistics {
  /** Number of values that are not NaN (they come first). */
  private readonly finite: number;
  /** Ranks whose value is final, ascending: everything before such a rank is <= it, everything after >=. */
  private readonly fixed: number[] = [];

  /** Takes over `values` (reorders it). */
  constructor(private readonly values: Float64Array) {
    let n = 0;
    for (let i = 0; i < values.length; i++) {
      const x = values[i];
      if (Number.isNaN(x)) continue;
      values[i] = values[n];
      values[n++] = x;
    }
    this.finite = n;
  }

  get length(): number {
    return this.values.length;
  }

  /** The value at `rank` (0-based) of the ascending order. */
  at(rank: number): number {
    const a = this.values;
    if (rank >= this.finite) return NaN;
    let pos = 0;
    while (pos < this.fixed.length && this.fixed[pos] < rank) pos++;
    if (this.fixed[pos] === rank) return a[rank];
    let lo = pos > 0 ? this.fixed[pos - 1] + 1 : 0;
    let hi = pos < this.fixed.length ? this.fixed[pos] - 1 : this.finite - 1;
    while (hi > lo) {
      const mid = (lo + hi) >> 1;
      // Median of three as the pivot.
      if (a[mid] < a[lo]) swap(a, mid, lo);
      if (a[hi] < a[lo]) swap(a, hi, lo);
      if (a[hi] < a[mid]) swap(a, hi, mid);
      const pivot = a[mid];
      let i = lo;
      let j = hi;
      while (i <= j) {
        while (a[i] < pivot) i++;
        while (a[j] > pivot) j--;
        if (i <= j) swap(a, i++, j--);
      }
      if (rank <= j) hi = j;
      else if (rank >= i) lo = i;
      else break;
    }
    this.fixed.splice(pos, 0, rank);
    return a[rank];
  }
}

function swap(a: Float64Array, i: number, j: number): void {
  const t = a[i];
  a[i] = a[j];
  a[j] = t;
}

/** The p-quantile, linear between neighbouring ranks. */
function quantile(s: OrderStatistics, p: number): number {
  if (s.length === 0) return 0;
  const x = p * (s.length - 1);
  const i = Math.floor(x);
  const f = x - i;
  return i + 1 < s.length ? s.at(i) * (1 - f) + s.at(i + 1) * f : s.at(i);
}

/** True when the values look like CT Hounsfield units: air present, nothing outside the HU scale. */
export function looksLikeHu(s: OrderStatistics): boolean {
  if (s.length === 0) return false;
  const min = s.at(0);
  const max = s.at(s.length - 1);
  return min >= -3100 && quantile(s, 0.001) <= -800 && max <= 32767 && quantile(s, 0.999) <= 4000;
}

/** The window to use for `image` (see the module comment). */
export function intensityWindow(image: Pick<Volume, 'data'>): IntensityWindow {
  const s = new OrderStatistics(sample(image.data));
  if (looksLikeHu(s)) return { low: CT_SOFT_TISSUE[0], high: CT_SOFT_TISSUE[1], kind: 'ct-soft-tissue' };
  let low = quantile(s, 0.005);
  let high = quantile(s, 0.995);
  if (!(high > low)) {
    low = s.length ? s.at(0) : 0;
    high = s.length ? s.at(s.length - 1) : 1;
    if (!(high > low)) high = low + 1;
  }
  return { low, high, kind: 'percentile' };
}

/** Maps values to [0, 1] through the window (clipped). */
export function applyWindow(values: ArrayLike<number>, win: IntensityWindow, out = new Float32Array(values.length)): Float32Array {
  const scale = 1 / (win.high - win.low);
  for (let i = 0; i < values.length; i++) {
    const x = (values[i] - win.low) * scale;
    out[i] = x < 0 ? 0 : x > 1 ? 1 : x;
  }
  return out;
}
