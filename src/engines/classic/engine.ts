/**
 * The classical engine (`classic`): weight-free, image-guided graph cuts.
 * - A box becomes a 2D mask by an iterated graph cut (GrabCut-like): intensity models of the object and its
 *   surroundings are learned from the current estimate (initially the ellipse inscribed in the box) and from a
 *   ring outside the box, the cut is solved inside the box, and both steps repeat. The pull towards the ellipse
 *   is the weakest that keeps the result spanning the (tight) box (`fitBox`).
 * - Points seed the same cut (positive points are fixed object, negative points fixed background). Alone, the
 *   region they point at is grown from the image (`pointRegion`: the clicks' intensity, bounded by edges, the
 *   negative clicks and a reach that follows the clicks' spread) and is the cut's initial estimate.
 * - Propagation from one slice to the next: the previous mask (fused with the interpolation prior between key
 *   slices) is a shape prior; the cut is solved in a band around its boundary with the intensity models learned
 *   on the key slices (the object inside each key mask, its surroundings in a ring around it): a front's models
 *   come from its own key slice, plus one partner key slice where that has too few samples (`front-models.ts`).
 * Confidence: the mean posterior probability of the object over the pixels of the result.
 */
import { keyBoxes, type KeySlice, type LabelAnnotation } from '../../annotations/types.js';
import { ellipseInBox } from '../../annotations/rasterize.js';
import { gaussianBlur2d } from '../../analysis/similarity.js';
import { anyNonZero, boundingBox2d, countNonZero, fewestSpanning, fillHoles2d, keepOverlapping, levelSetCurvature, signedDistance2d, spansBox } from '../../morphology/binary.js';
import type { FrontInfo, KeyDerived, ObjectSession, PropagationStep, RoiImage, SliceDerived, SliceEngine, SliceResult } from '../../propagation/types.js';
import { borrowedPartner, keptFrontModels, partnerKey, type FrontModels, type KeySamples } from './front-models.js';
import { solveCut } from './cut.js';
import { pointRegion } from './point-region.js';
import { IntensityModel, IntensityRange, posterior, posteriorByBin } from './intensity-model.js';
import { blurInWindow, cropSlice, fullWindow, pasteSlice, windowAround, type SliceWindow } from './window.js';
import type { CutAdapter } from '../../models/adapter/model.js';

export interface ClassicOptions {
  /** Boundary term weight (default 1.5). */
  lambda: number;
  /** Band half-width as a fraction of the object's equivalent radius (default 0.3); at least 2 pixels. */
  bandFraction: number;
  /** Shape prior cost (nats) at the band's edge (default 2). */
  shapeWeight: number;
  /** Weight of the interpolation prior against the previous slice's mask between key slices (default 0.5). */
  priorWeight: number;
  /** GrabCut iterations for a box (default 4). */
  iterations: number;
  /** Pull towards the box's inscribed ellipse (nats per half equivalent radius outside/inside it, default 2). */
  boxShapeWeight: number;
  /**
   * Object samples per histogram bin a front's intensity model should have; a key slice with fewer borrows its
   * partner key slice's samples up to that many, weighing at most as much as its own (default 10).
   */
  samplesPerBin: number;
  /** Gaussian sigma (pixels) of the denoising before the intensity models (default 0.7). */
  smoothing: number;
  /**
   * Compensate the boundary term's shrinking of the previous slice's shape (see `CutProblem.curvature`), so that
   * where the image shows no edge the propagated shape keeps its size (default true).
   */
  compensateCurvature: boolean;
  /**
   * A box is taken as tight (the object reaches each of its sides): the key slice is cut with the weakest pull
   * towards the inscribed ellipse (none, a quarter, half, then the full `boxShapeWeight`) whose result still
   * spans the box. Where the image separates the object from its surroundings the image alone draws the shape
   * (a crescent is not forced into an ellipse); where it does not, the pull holds the object to the box. Pieces
   * of the result that are not needed to span the box (a neighbouring structure in its corner) are dropped
   * (default true).
   */
  fitBox: boolean;
  /** How far (fraction of the box's side, at least 1 pixel) a result may stay from a box side and still span it (default 0.1). */
  boxSlack: number;
  /**
   * Points alone: the margin around the region grown from the clicks in which the key slice's cut is solved, as
   * a fraction of the region's equivalent radius, at least 2 pixels (default 0.25) ...
   */
  pointMargin: number;
  /**
   * ... and the margin where the image's edges bounded that region all around (at least 90 % of its border, see
   * `PointRegion.edgeBound`): the object is then well delineated and the region stops inside its border
   * (default 0.5).
   */
  edgeBoundMargin: number;
  /**
   * Solve each propagation step in a window around the previous mask and the prior rather than on the whole
   * slice: the same result, at a cost that follows the object's size instead of the slice's (default true).
   */
  solveInWindow: boolean;
  /**
   * A box's key-slice cut whose confidence (the mean object posterior inside it) is below this is cut again with
   * the object's values on the other key slices joining its model (see `recutKeySlice`). 1 (the default): every
   * box with other key slices near it, unless its first cut is certain everywhere. A box alone can be sure of a
   * wrong cut (the object with a look-alike neighbour it touches); the object's look elsewhere is evidence
   * either way. 0: never.
   */
  recutBelow: number;
  /** A trained adapter whose evidence joins each propagation cut that has no other guide (`src/models/adapter`). */
  adapter?: CutAdapter;
}

export const DEFAULT_CLASSIC: ClassicOptions = {
  lambda: 1.5,
  bandFraction: 0.3,
  shapeWeight: 2,
  priorWeight: 0.5,
  iterations: 4,
  boxShapeWeight: 2,
  samplesPerBin: 10,
  smoothing: 0.7,
  compensateCurvature: true,
  fitBox: true,
  boxSlack: 0.1,
  pointMargin: 0.25,
  edgeBoundMargin: 0.5,
  solveInWindow: true,
  recutBelow: 1,
};

/** The share of a points region's border the image's edges must bound for `edgeBoundMargin` (see `ClassicOptions`). */
const EDGE_BOUND = 0.9;

/**
 * Extra per-pixel evidence for the cut, as logits of the object (for example a model's mask logits): each free
 * pixel pays `weight * softplus(-logit)` nats to be object and `weight * softplus(logit)` to be background,
 * logits clipped to +/- {@link GUIDE_CLIP}.
 */
export interface PixelGuide {
  logits: Float32Array;
  weight: number;
  /**
   * Weigh the term at each pixel by how unsure the cut's own costs are there (1 - |tanh((costBg - costFg) / 2)|:
   * 1 where they tie, near 0 where they differ by several nats), so that it decides only what the image and the
   * shape prior leave open. The hybrid engine's model term does not set it; a trained adapter's does.
   */
  whereUnsure?: boolean;
}

export const GUIDE_CLIP = 6;

function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

/** Adds a guide's costs to the unary terms of the free pixels. */
export function addGuide(guide: PixelGuide | undefined, free: Uint8Array, costFg: Float32Array, costBg: Float32Array): void {
  if (!guide || guide.weight <= 0) return;
  const { logits, weight, whereUnsure } = guide;
  for (let i = 0; i < free.length; i++) {
    if (!free[i]) continue;
    const l = Math.max(-GUIDE_CLIP, Math.min(GUIDE_CLIP, logits[i]));
    const w = whereUnsure ? weight * (1 - Math.abs(Math.tanh((costBg[i] - costFg[i]) / 2))) : weight;
    costFg[i] += w * softplus(-l);
    costBg[i] += w * softplus(l);
  }
}

/** A key slice's cut: its region, surroundings, seeds and initial estimate. */
interface KeyProblem {
  image: Float32Array;
  region: Uint8Array;
  around: Uint8Array;
  free: Uint8Array;
  fixed: Uint8Array;
  seedFg: Uint8Array;
  seedBg: Uint8Array;
  estimate: Uint8Array;
  sdEstimate: Float32Array;
  scale: number;
  pull: number;
  /** The key slice's box, if it has one. */
  box: [number, number, number, number] | null;
}

/** The pixels within `mm` of a mask (its signed distance at most `mm`). */
function dilate(mask: Uint8Array, nu: number, nv: number, du: number, dv: number, mm: number): Uint8Array {
  const sd = signedDistance2d(mask, nu, nv, du, dv);
  return Uint8Array.from(sd, (d) => (d <= mm ? 1 : 0));
}

/** Ring of pixels at signed distance in (inner, outer] mm outside `mask`. */
function ring(sd: Float32Array, inner: number, outer: number): Uint8Array {
  const r = new Uint8Array(sd.length);
  for (let i = 0; i < sd.length; i++) r[i] = sd[i] > inner && sd[i] <= outer ? 1 : 0;
  return r;
}

/** The classic engine's state for one object; `guide` adds a model's evidence to the cuts (the hybrid engine). */
export class ClassicSession implements ObjectSession {
  private readonly smoothCache = new Map<number, Float32Array>();
  /** Samples of each key slice holding the object (see `learn`). */
  private readonly samples = new Map<number, KeySamples>();
  /** Intensity models per front (object, surroundings), made on first use. */
  private readonly models = new Map<string, FrontModels>();
  private adapter: ReturnType<CutAdapter['open']> | undefined;

  constructor(
    private readonly img: RoiImage,
    private readonly o: ClassicOptions,
    private readonly keyDerived?: KeyDerived,
    private readonly sliceDerived?: SliceDerived,
  ) {}

  /** Slice w denoised (see `smoothing`), whole: kept by the caller across runs where it keeps slices. */
  private smooth(w: number): Float32Array {
    let s = this.smoothCache.get(w);
    if (!s) {
      const { nu, nv } = this.img;
      const blur = (): Float32Array => (this.o.smoothing > 0 ? gaussianBlur2d(this.img.raw(w), nu, nv, this.o.smoothing) : this.img.raw(w));
      s = this.sliceDerived ? this.sliceDerived.get({ what: `classic-smooth|${this.o.smoothing}`, slice: w }, blur, (x) => 4 * x.length) : blur();
      this.smoothCache.set(w, s);
    }
    return s;
  }

  /**
   * Slice w denoised, in a window: cut from the whole denoised slice where the caller keeps slices (each is
   * then denoised once per session), else denoised in the window alone; the same values either way.
   */
  private smoothIn(w: number, win: SliceWindow): Float32Array {
    const { nu, nv } = this.img;
    if (this.sliceDerived || this.o.smoothing <= 0) return cropSlice(this.smooth(w), nu, win);
    return blurInWindow(this.img.raw(w), nu, nv, win, this.o.smoothing);
  }

  /** The histograms' range for a key slice's own cut: from that slice alone. */
  private rangeFor(w: number): IntensityRange {
    return IntensityRange.of(this.smooth(w));
  }

  /** Equivalent radius (mm) of a mask. */
  private radiusMm(mask: Uint8Array): number {
    return Math.sqrt((countNonZero(mask) * this.img.du * this.img.dv) / Math.PI);
  }

  private bandMm(mask: Uint8Array): number {
    const px = Math.max(this.img.du, this.img.dv);
    return Math.max(2 * px, this.o.bandFraction * this.radiusMm(mask));
  }

  private confidence(mask: Uint8Array, image: Float32Array, fg: IntensityModel, bg: IntensityModel): number {
    const table = posteriorByBin(fg, bg);
    let s = 0;
    let n = 0;
    for (let i = 0; i < mask.length; i++) {
      if (!mask[i]) continue;
      s += table ? table[fg.range.bin(image[i])] : posterior(fg, bg, image[i]);
      n++;
    }
    return n > 0 ? s / n : 0;
  }

  /** The cut problem of a key slice with a box and/or points (see the module comment). */
  private keyProblem(key: KeySlice): KeyProblem {
    const { nu, nv, du, dv } = this.img;
    const image = this.smooth(key.index);
    const n = nu * nv;
    const free = new Uint8Array(n);
    const fixed = new Uint8Array(n);
    let estimate: Uint8Array;
    let region: Uint8Array;
    if (key.box) {
      region = new Uint8Array(n);
      const [i0, j0, i1, j1] = key.box;
      for (let j = j0; j <= j1; j++) for (let i = i0; i <= i1; i++) region[i + nu * j] = 1;
      estimate = ellipseInBox(nu, nv, key.box);
    } else {
      // Points only: the region the clicks point at, grown from the image (see `pointRegion`), is the initial
      // estimate; the cut is solved in a margin around it. Where the image's edges stopped the flood all around,
      // the flood found the object, short of its border by the rim where the intensity passes from the object's
      // to the surroundings' (the flood stops where it leaves the tolerance): the margin is then wider, so that
      // the cut draws the border across that rim (see `edgeBoundMargin`).
      const grown = pointRegion(image, this.img, key.points, key.negativePoints);
      estimate = grown.region;
      fillHoles2d(estimate, nu, nv);
      const margin = grown.edgeBound >= EDGE_BOUND ? this.o.edgeBoundMargin : this.o.pointMargin;
      region = dilate(estimate, nu, nv, du, dv, Math.max(2 * Math.max(du, dv), margin * this.radiusMm(estimate)));
    }
    for (let i = 0; i < n; i++) free[i] = region[i];
    const seedFg = new Uint8Array(n);
    const seedBg = new Uint8Array(n);
    const discs = (list: [number, number][], into: Uint8Array): void => {
      for (const [ci, cj] of list) {
        for (let j = Math.max(0, cj - 1); j <= Math.min(nv - 1, cj + 1); j++) {
          for (let i = Math.max(0, ci - 1); i <= Math.min(nu - 1, ci + 1); i++) into[i + nu * j] = 1;
        }
      }
    };
    discs(key.points, seedFg);
    discs(key.negativePoints, seedBg);
    // Other labels' drawn pixels are background, whatever a click says (see `KeySlice.excluded`).
    const excluded = key.excluded;
    if (excluded) {
      for (let i = 0; i < n; i++) {
        if (!excluded[i]) continue;
        seedFg[i] = 0;
        seedBg[i] = 1;
      }
    }
    for (let i = 0; i < n; i++) {
      if (seedFg[i] || seedBg[i]) {
        free[i] = 0;
        fixed[i] = seedFg[i];
      }
    }
    // Surroundings: a ring outside the region.
    const sdRegion = signedDistance2d(region, nu, nv, du, dv);
    const outerWidth = Math.max(3 * Math.max(du, dv), 0.25 * this.radiusMm(region));
    return {
      image,
      region,
      around: ring(sdRegion, 0, outerWidth),
      free,
      fixed,
      seedFg,
      seedBg,
      estimate,
      sdEstimate: signedDistance2d(estimate, nu, nv, du, dv),
      scale: Math.max(2 * Math.max(du, dv), 0.5 * this.radiusMm(estimate)),
      pull: this.o.boxShapeWeight,
      box: key.box ?? null,
    };
  }

  /** One graph cut of a key problem with the given intensity models (and a model's evidence); the new mask. */
  private cutKey(p: KeyProblem, fg: IntensityModel, bg: IntensityModel, guide: PixelGuide | undefined): Uint8Array {
    const { nu, nv, du, dv } = this.img;
    const n = nu * nv;
    const costFg = new Float32Array(n);
    const costBg = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      if (!p.free[i]) continue;
      // A weak pull towards the initial estimate (ellipse or discs).
      const d = p.sdEstimate[i] / p.scale;
      costFg[i] = fg.costOf(p.image[i]) + p.pull * Math.max(0, d);
      costBg[i] = bg.costOf(p.image[i]) + p.pull * Math.max(0, -d);
    }
    addGuide(guide, p.free, costFg, costBg);
    const next = solveCut({ nu, nv, du, dv, image: p.image, free: p.free, fixed: p.fixed, costFg, costBg, lambda: this.o.lambda });
    const seeded = countNonZero(p.seedFg) > 0;
    // Every piece a positive click is on stays; with a box, so do the pieces on its initial estimate (with a
    // tight box, the fewest of them that span it).
    let mask = keepOverlapping(next, seeded && !p.box ? p.seedFg : p.estimate, nu, nv);
    if (p.box && this.o.fitBox) mask = fewestSpanning(mask, nu, nv, p.box, this.o.boxSlack);
    if (p.box && seeded) {
      const clicked = keepOverlapping(next, p.seedFg, nu, nv);
      for (let i = 0; i < mask.length; i++) mask[i] |= clicked[i];
    }
    fillHoles2d(mask, nu, nv);
    // A negative click is never in the object (a hole filled around it is opened again).
    for (let i = 0; i < mask.length; i++) if (p.seedBg[i]) mask[i] = 0;
    return mask;
  }

  /**
   * A key slice with a box and/or points (GrabCut-like): the object's and the surroundings' intensity models are
   * learned from the current mask (inside it, and the rest of the region with its ring), the slice is cut with
   * them, and both steps repeat. `guide` (optional) adds a model's evidence.
   */
  async segmentSlice(key: KeySlice, guide?: PixelGuide): Promise<SliceResult> {
    return (await this.segmentBox(key, guide)).result;
  }

  /**
   * `segmentSlice`, and the share of the full ellipse pull the result took: below 1 when the image alone drew an
   * object spanning the box (see `fitBox`), 1 otherwise (and for points or without `fitBox`). `known`: object
   * values from elsewhere that join the object's model (see `recutKeySlice`).
   */
  async segmentBox(key: KeySlice, guide?: PixelGuide, known?: IntensityModel): Promise<{ result: SliceResult; pull: number }> {
    const p = this.keyProblem(key);
    if (!key.box || !this.o.fitBox) return { result: this.grabCut(key, p, guide, known), pull: 1 };
    // The weakest pull towards the inscribed ellipse whose result still spans the box; else the full pull.
    for (const f of [0, 0.25, 0.5]) {
      const result = this.grabCut(key, { ...p, pull: f * p.pull }, guide, known);
      if (spansBox(result.mask, this.img.nu, this.img.nv, key.box, this.o.boxSlack)) return { result, pull: f };
    }
    return { result: this.grabCut(key, p, guide, known), pull: 1 };
  }

  /**
   * A box cut again with the object's values on the other key slices (`others`: drawn masks, or cuts of their
   * prompts) added to the object's model at the weight of the box's own object pixels. A box frames its object
   * loosely: on a small cross-section it holds more surroundings than object, and the model learned inside it
   * alone drifts towards them; the object's look on the other key slices holds it. Null without a box, or where
   * the first cut's confidence reaches `recutBelow`.
   */
  async recutKeySlice(
    key: KeySlice,
    others: readonly { index: number; mask: Uint8Array }[],
    first: SliceResult,
  ): Promise<SliceResult | null> {
    if (!key.box || others.length === 0 || first.confidence >= this.o.recutBelow) return null;
    const known = new IntensityModel(this.rangeFor(key.index));
    for (const o of others) known.addMasked(this.smooth(o.index), o.mask);
    return known.total > 0 ? (await this.segmentBox(key, undefined, known)).result : null;
  }

  private grabCut(key: KeySlice, p: KeyProblem, guide: PixelGuide | undefined, known?: IntensityModel): SliceResult {
    const range = this.rangeFor(key.index);
    let mask = p.estimate;
    let fg = new IntensityModel(range);
    let bg = new IntensityModel(range);
    for (let it = 0; it < this.o.iterations; it++) {
      fg = new IntensityModel(range);
      bg = new IntensityModel(range);
      for (let i = 0; i < p.image.length; i++) {
        if (!p.region[i] && !p.around[i]) continue;
        if ((mask[i] && p.region[i]) || p.seedFg[i]) fg.add(p.image[i]);
        else bg.add(p.image[i]);
      }
      // The other key slices' object values, weighing as much as the box's own object pixels together.
      if (known && fg.total > 0) fg.addScaled(known, fg.total / known.total);
      mask = this.cutKey(p, fg, bg, guide);
      if (countNonZero(mask) === 0) break;
    }
    return { mask, confidence: this.confidence(mask, p.image, fg, bg) };
  }

  /**
   * Keeps each key slice's samples (the object inside its mask, the surroundings in a ring around it, the slice
   * for the histograms' range); a front's models are made from them on first use (see `front-models.ts`).
   */
  learn(keys: { index: number; mask: Uint8Array }[]): void {
    const { du, dv } = this.img;
    this.samples.clear();
    this.models.clear();
    // A key slice's samples depend on its mask, the slice and these settings alone: a caller may keep them.
    const what = `classic-samples|${this.o.smoothing}|${this.o.bandFraction}|${du}|${dv}`;
    for (const k of keys) {
      const compute = (): KeySamples => this.keySamples(k.index, k.mask);
      this.samples.set(k.index, this.keyDerived ? this.keyDerived.get({ what, index: k.index, mask: k.mask }, compute, samplesBytes) : compute());
    }
  }

  /** The samples of one key slice: the object inside its mask, a ring around it, every other pixel of the slice. */
  private keySamples(index: number, mask: Uint8Array): KeySamples {
    const { nu, nv, du, dv } = this.img;
    const image = this.smooth(index);
    const sd = signedDistance2d(mask, nu, nv, du, dv);
    const width = Math.max(4 * Math.max(du, dv), 2 * this.bandMm(mask));
    const inside: number[] = [];
    const around: number[] = [];
    const slice: number[] = [];
    for (let i = 0; i < sd.length; i++) {
      if (mask[i]) inside.push(image[i]);
      else if (sd[i] <= width) around.push(image[i]);
      if (i % 2 === 0) slice.push(image[i]);
    }
    return { index, inside, around, slice };
  }

  /** A front's key slice's samples and its partner's (see `partnerKey`), if any. */
  private samplesOf(front: FrontInfo): { own: KeySamples; partner: KeySamples | null } {
    const own = this.samples.get(front.key);
    if (!own) throw new Error(`classic engine: no samples for key slice ${front.key} (learn() not called)`);
    const p = partnerKey(front, [...this.samples.keys()]);
    return { own, partner: p === null ? null : (this.samples.get(p) ?? null) };
  }

  /** The models a front cuts with: its key slice's samples and, where too few, its partner's. */
  private modelsOf(front: FrontInfo): FrontModels {
    const id = `${front.key}${front.direction > 0 ? '+' : '-'}${front.between ? 'b' : 'o'}`;
    let m = this.models.get(id);
    if (!m) {
      const { own, partner } = this.samplesOf(front);
      m = keptFrontModels(own, partner, this.o.samplesPerBin);
      this.models.set(id, m);
    }
    return m;
  }

  /**
   * The key slices besides its own whose masks a front's result depends on: the partner it borrows from (found
   * without building the models, which a front answered from a cache never needs).
   */
  dependsOn(front: FrontInfo): number[] {
    const { own, partner } = this.samplesOf(front);
    const used = borrowedPartner(own, partner, this.o.samplesPerBin);
    return used ? [used.index] : [];
  }

  /** The confidence of the front's own key mask under the front's models, on its key slice (denoised, whole). */
  keyScore(front: FrontInfo, keyMask: Uint8Array): number {
    const { fg, bg } = this.modelsOf(front);
    return this.confidence(keyMask, this.smooth(front.key), fg, bg);
  }

  /**
   * The part of the slice a propagation step is solved in: the previous mask and the prior with a margin wider
   * than any band they can give (plus the reach of the filters used at the band's pixels). The cut, its
   * contrast and curvature terms and the clean-up are then the same as on the whole slice, at the cost of the
   * object's size rather than the slice's.
   */
  private stepWindow(step: PropagationStep): SliceWindow {
    const { nu, nv, du, dv } = this.img;
    const union = step.prior ? countUnion(step.mask, step.prior, nu, nv) : countNonZero(step.mask);
    const px = Math.max(du, dv);
    const band = Math.max(2 * px, this.o.bandFraction * Math.sqrt((union * du * dv) / Math.PI));
    // Free pixels lie within band + half a pixel of the masks; the curvature's blur reaches 3 pixels and its
    // Laplacian 1 further; the contrast term looks at 8-neighbours.
    const margin = Math.ceil((band + px) / Math.min(du, dv)) + 6;
    return windowAround([step.mask, step.prior ?? undefined], nu, nv, margin);
  }

  async propagate(step: PropagationStep, guide?: PixelGuide): Promise<SliceResult> {
    const { fg, bg } = this.modelsOf(step.front);
    const { du, dv } = this.img;
    const win = this.o.solveInWindow ? this.stepWindow(step) : fullWindow(this.img.nu, this.img.nv);
    const whole = win.nu === this.img.nu && win.nv === this.img.nv;
    const crop = <T extends Uint8Array | Float32Array>(a: T): T => (whole ? a : cropSlice(a, this.img.nu, win));
    const image = whole ? this.smooth(step.to) : this.smoothIn(step.to, win);
    const { nu, nv } = win;
    const n = nu * nv;
    const prev = crop(step.mask);
    const prior = step.prior ? crop(step.prior) : undefined;
    const sd = signedDistance2d(prev, nu, nv, du, dv);
    if (prior && anyNonZero(prior)) {
      const sp = signedDistance2d(prior, nu, nv, du, dv);
      const a = this.o.priorWeight;
      for (let i = 0; i < n; i++) sd[i] = (1 - a) * sd[i] + a * sp[i];
    }
    const shape = new Uint8Array(n);
    for (let i = 0; i < n; i++) shape[i] = sd[i] <= 0 ? 1 : 0;
    const band = this.bandMm(anyNonZero(shape) ? shape : prev);
    const free = new Uint8Array(n);
    const fixed = new Uint8Array(n);
    const costFg = new Float32Array(n);
    const costBg = new Float32Array(n);
    const k = this.o.shapeWeight / band;
    // The models' costs by bin, each pixel's bin found once where both models share a range.
    const fgCosts = fg.costs();
    const bgCosts = fg.range === bg.range ? bg.costs() : null;
    for (let i = 0; i < n; i++) {
      const d = sd[i];
      if (d < -band) fixed[i] = 1;
      else if (d > band) fixed[i] = 0;
      else {
        free[i] = 1;
        const b = fg.range.bin(image[i]);
        costFg[i] = fgCosts[b] + k * Math.max(0, d);
        costBg[i] = (bgCosts ? bgCosts[b] : bg.costOf(image[i])) + k * Math.max(0, -d);
      }
    }
    this.adapter ??= this.o.adapter?.open(this.img);
    const g = guide ?? (await this.adapter?.guide(step)) ?? undefined;
    addGuide(g && { ...g, logits: crop(g.logits) }, free, costFg, costBg);
    // The cut reads the curvature at its free pixels alone.
    const curvature = this.o.compensateCurvature && step.prior ? levelSetCurvature(sd, nu, nv, du, dv, free) : undefined;
    let mask = solveCut({ nu, nv, du, dv, image, free, fixed, costFg, costBg, lambda: this.o.lambda, curvature });
    mask = keepOverlapping(mask, shape, nu, nv);
    fillHoles2d(mask, nu, nv);
    const confidence = this.confidence(mask, image, fg, bg);
    return { mask: whole ? mask : pasteSlice(mask, win, this.img.nu, this.img.nv), confidence };
  }
}

/** Bytes held by a key slice's samples (numbers in arrays), roughly. */
function samplesBytes(s: KeySamples): number {
  return 64 + 8 * (s.inside.length + s.around.length + s.slice.length);
}

/** Pixels set in either of two 2D masks (counted inside their joint bounding box). */
function countUnion(a: Uint8Array, b: Uint8Array, nu: number, nv: number): number {
  const ba = boundingBox2d(a, nu, nv);
  const bb = boundingBox2d(b, nu, nv);
  if (!ba || !bb) return countNonZero(ba ? a : b);
  let c = 0;
  for (let v = Math.min(ba[1], bb[1]); v <= Math.max(ba[3], bb[3]); v++) {
    const end = v * nu + Math.max(ba[2], bb[2]);
    for (let i = v * nu + Math.min(ba[0], bb[0]); i <= end; i++) if (a[i] || b[i]) c++;
  }
  return c;
}

/**
 * Notes on a label's prompts: key slices with a single click and nothing else. One click says where the object is
 * but not how large it is; its size is then read from the image near the click, which can stop short of a large
 * organ or spill over tissue of nearly a faint lesion's brightness.
 */
export function singleClickNotes(label: LabelAnnotation): string[] {
  const single = label.keySlices.filter((k) => !k.empty && !k.mask && keyBoxes(k).length === 0 && k.points.length === 1);
  if (single.length === 0) return [];
  const slices = single.map((k) => k.index).join(', ');
  return [
    `${single.length} key slice(s) with a single click (slice ${slices}): one click says where the object is, not how large it is, ` +
      'so its size is read from the image near the click; where the result stops short or spills over, spread 2-3 clicks over the object, ' +
      'add a negative click on what spilled, or draw a box',
  ];
}

export function classicEngine(options: Partial<ClassicOptions> = {}): SliceEngine {
  const o = { ...DEFAULT_CLASSIC, ...options };
  return {
    name: 'classic',
    description: 'weight-free graph cuts: GrabCut-like from boxes and points, band-limited cut with shape prior between slices',
    promptNotes: singleClickNotes,
    async open(img, run) {
      return new ClassicSession(img, o, run?.keyDerived, run?.sliceDerived);
    },
  };
}
