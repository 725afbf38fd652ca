/**
 * Review helpers of the annotation app: the colour of a slice's confidence in the strip along the slice axis,
 * the least certain propagated slice, and intensity windows (CT presets in HU, MR by percentiles).
 */

/** Strip colour of a confidence in [0, 1]: red (0) through amber to green (1); grey where there is none. */
export function confidenceColor(c: number): string {
  if (!Number.isFinite(c)) return 'rgb(60,60,60)';
  const x = Math.max(0, Math.min(1, c));
  const r = Math.round(x < 0.5 ? 220 : 220 - (x - 0.5) * 2 * 170);
  const g = Math.round(x < 0.5 ? 60 + x * 2 * 140 : 200);
  return `rgb(${r},${g},60)`;
}

/**
 * The propagated slice (not a key slice) of lowest confidence, the one nearest `from` among equals; null when
 * no slice holds a propagated result.
 */
export function leastCertainSlice(confidence: Float32Array, keys: ReadonlySet<number>, from = 0): number | null {
  let best: number | null = null;
  for (let s = 0; s < confidence.length; s++) {
    const c = confidence[s];
    if (!Number.isFinite(c) || keys.has(s)) continue;
    if (best === null || c < confidence[best] || (c === confidence[best] && Math.abs(s - from) < Math.abs(best - from))) best = s;
  }
  return best;
}

export interface WindowPreset {
  name: string;
  /** Window centre and width in the image's units, or percentiles of its voxels. */
  center?: number;
  width?: number;
  percentiles?: [number, number];
}

/** Presets on the number keys 1..6, as radiology viewers have them. */
export const WINDOW_PRESETS: readonly WindowPreset[] = [
  { name: 'CT soft tissue', center: 40, width: 400 },
  { name: 'CT lung', center: -600, width: 1500 },
  { name: 'CT bone', center: 400, width: 1800 },
  { name: 'CT brain', center: 40, width: 80 },
  { name: 'MR 1-99 %', percentiles: [1, 99] },
  { name: 'MR 0.5-99.5 %', percentiles: [0.5, 99.5] },
];

/** Values at the given percentiles (0..100) of a sample of up to `samples` voxels, spread evenly. */
export function percentiles(data: ArrayLike<number>, ps: readonly number[], samples = 200_000): number[] {
  const step = Math.max(1, Math.floor(data.length / samples));
  const v: number[] = [];
  for (let i = 0; i < data.length; i += step) if (Number.isFinite(data[i])) v.push(data[i]);
  v.sort((a, b) => a - b);
  if (v.length === 0) return ps.map(() => 0);
  return ps.map((p) => v[Math.min(v.length - 1, Math.max(0, Math.round((p / 100) * (v.length - 1))))]);
}

/** The [min, max] display range of a preset on an image. */
export function presetRange(preset: WindowPreset, data: ArrayLike<number>): [number, number] {
  if (preset.percentiles) {
    const [lo, hi] = percentiles(data, preset.percentiles);
    return [lo, hi > lo ? hi : lo + 1];
  }
  const c = preset.center ?? 0;
  const w = Math.max(1, preset.width ?? 1);
  return [c - w / 2, c + w / 2];
}
