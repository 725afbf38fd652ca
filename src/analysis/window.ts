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

/** Sorted sample of at most `max` values of `data` (every k-th value). */
function sample(data: ArrayLike<number>, max = 1 << 20): Float64Array {
  const step = Math.max(1, Math.floor(data.length / max));
  const out = new Float64Array(Math.ceil(data.length / step));
  let n = 0;
  for (let i = 0; i < data.length; i += step) out[n++] = data[i];
  return out.subarray(0, n).sort();
}

function quantile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  const x = p * (sorted.length - 1);
  const i = Math.floor(x);
  const f = x - i;
  return i + 1 < sorted.length ? sorted[i] * (1 - f) + sorted[i + 1] * f : sorted[i];
}

/** True when the values look like CT Hounsfield units: air present, nothing outside the HU scale. */
export function looksLikeHu(sorted: Float64Array): boolean {
  if (sorted.length === 0) return false;
  const min = sorted[0];
  const max = sorted[sorted.length - 1];
  return min >= -3100 && quantile(sorted, 0.001) <= -800 && max <= 32767 && quantile(sorted, 0.999) <= 4000;
}

/** The window to use for `image` (see the module comment). */
export function intensityWindow(image: Pick<Volume, 'data'>): IntensityWindow {
  const s = sample(image.data);
  if (looksLikeHu(s)) return { low: CT_SOFT_TISSUE[0], high: CT_SOFT_TISSUE[1], kind: 'ct-soft-tissue' };
  let low = quantile(s, 0.005);
  let high = quantile(s, 0.995);
  if (!(high > low)) {
    low = s.length ? s[0] : 0;
    high = s.length ? s[s.length - 1] : 1;
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
