/**
 * Intensity models for the graph cut: smoothed histograms of (lightly denoised) image values, one for the
 * object and one for its surroundings, evaluated as costs -log p in nats.
 */

export class IntensityRange {
  constructor(
    readonly low: number,
    readonly high: number,
    readonly bins = 64,
  ) {}

  bin(x: number): number {
    const b = Math.floor(((x - this.low) / (this.high - this.low)) * this.bins);
    return b < 0 ? 0 : b >= this.bins ? this.bins - 1 : b;
  }

  /** Range from the 0.5th to 99.5th percentile of `values`, widened by 10 % each side. */
  static of(values: ArrayLike<number>, bins = 64): IntensityRange {
    return IntensityRange.ofSorted(Float64Array.from(values).sort(), bins);
  }

  /** {@link IntensityRange.of} of values already in the order `Float64Array.prototype.sort` gives. */
  static ofSorted(s: Float64Array, bins = 64): IntensityRange {
    if (s.length === 0) return new IntensityRange(0, 1, bins);
    const q = (p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.round(p * (s.length - 1))))];
    let lo = q(0.005);
    let hi = q(0.995);
    if (!(hi > lo)) {
      lo = s[0];
      hi = s[s.length - 1] > lo ? s[s.length - 1] : lo + 1;
    }
    const pad = 0.1 * (hi - lo);
    return new IntensityRange(lo - pad, hi + pad, bins);
  }
}

/** Gaussian-smoothed histogram with a uniform floor: p = (1 - eps) * h / n + eps / bins. */
export class IntensityModel {
  readonly counts: Float64Array;
  total = 0;
  private cost: Float32Array | null = null;

  constructor(readonly range: IntensityRange) {
    this.counts = new Float64Array(range.bins);
  }

  add(x: number, weight = 1): void {
    this.counts[this.range.bin(x)] += weight;
    this.total += weight;
    this.cost = null;
  }

  /** Adds another model's counts over the same range, each scaled by `weight`. */
  addScaled(other: IntensityModel, weight: number): void {
    for (let b = 0; b < this.counts.length; b++) this.counts[b] += weight * other.counts[b];
    this.total += weight * other.total;
    this.cost = null;
  }

  /** Adds the pixels of `image` where `select` is non-zero. */
  addMasked(image: ArrayLike<number>, select: ArrayLike<number>): void {
    for (let i = 0; i < image.length; i++) if (select[i]) this.add(image[i]);
  }

  /** -log p for every bin. */
  costs(): Float32Array {
    if (this.cost) return this.cost;
    const bins = this.range.bins;
    const sigma = 1;
    const smooth = new Float64Array(bins);
    for (let b = 0; b < bins; b++) {
      let s = 0;
      for (let k = -3; k <= 3; k++) {
        const j = b + k;
        if (j < 0 || j >= bins) continue;
        s += this.counts[j] * Math.exp(-(k * k) / (2 * sigma * sigma));
      }
      smooth[b] = s;
    }
    let total = 0;
    for (let b = 0; b < bins; b++) total += smooth[b];
    const eps = 0.01;
    const out = new Float32Array(bins);
    for (let b = 0; b < bins; b++) {
      const p = (total > 0 ? ((1 - eps) * smooth[b]) / total : 0) + eps / bins;
      out[b] = -Math.log(p);
    }
    this.cost = out;
    return out;
  }

  costOf(x: number): number {
    return this.costs()[this.range.bin(x)];
  }
}

/** Posterior probability of the object for a value, from the two models (equal priors). */
export function posterior(fg: IntensityModel, bg: IntensityModel, x: number): number {
  const cf = fg.costOf(x);
  const cb = bg.costOf(x);
  return 1 / (1 + Math.exp(cf - cb));
}

/**
 * {@link posterior} for each bin of two models on one range (the same value for every intensity in a bin): a
 * table to read per pixel instead of evaluating it; null when the models' ranges differ.
 */
export function posteriorByBin(fg: IntensityModel, bg: IntensityModel): Float64Array | null {
  if (fg.range !== bg.range) return null;
  const cf = fg.costs();
  const cb = bg.costs();
  return Float64Array.from(cf, (c, b) => 1 / (1 + Math.exp(c - cb[b])));
}
