/**
 * The hybrid engine (`hybrid`, the default when `--model` names a model): the classic engine's graph cuts with a
 * single-image model's mask logits as one more term of each cut.
 * - Key slice with a box: where the image alone draws an object spanning the box (the classic cut needed less
 *   than the full ellipse pull), that cut is the key mask; else, and for points, the model decodes the prompts
 *   and its logits join GrabCut's intensity terms.
 * - Beyond the outermost key slices the model is prompted with the previous slice's mask; the cut weighs its
 *   logits against the image's intensity models and the shape prior, so where the model is unsure (logits near
 *   0) the prior and the image decide.
 * - Between key slices the model, when given a weight there (`betweenWeight`), is prompted with the
 *   interpolation of the key masks (the shape prior) and refines it the same way.
 * - The classic engine's own rules bound the object: fronts beyond the outermost key slices also stop where a
 *   classic-engine run ends (`extentEngine`).
 * - With a gate (`gate`), a step beyond the outermost key slices is first cut without the model, and that cut
 *   stands where the classic engine is sure of it and it keeps the previous slice's shape (see `gate.ts`): the
 *   model is encoded only on the slices the image leaves open.
 * - With a mosaic (`sam.mosaic`), an object's first `fullInputs` encoder inputs (its outermost key slices and the
 *   first slices of each outward front; fewer for a large object, see `largeObject`) are full-size and the rest of
 *   each front shares tiled inputs.
 */
import type { KeySlice } from '../../annotations/types.js';
import type { SamModel } from '../../models/sam/model.js';
import type { EngineRun, ObjectSession, PropagationStep, RoiImage, SliceEngine, SliceResult } from '../../propagation/types.js';
import { ClassicSession, classicEngine, DEFAULT_CLASSIC, type ClassicOptions } from '../classic/engine.js';
import { DEFAULT_SAM_ENGINE, newUsage, SamSession, usageOf, type SamEngineOptions } from '../sam/engine.js';
import { cutStands, type ModelGate } from './gate.js';
import { boundingBox2d } from '../../morphology/binary.js';

/** A large object's budget of full-size inputs with a mosaic (see `HybridOptions.largeObject`). */
const LARGE_FULL_INPUTS = 2;

export interface HybridOptions {
  /**
   * Weight of the model's logits in each cut beyond the outermost key slices, nats per softplus unit, times the
   * model's confidence (default 0.3).
   */
  modelWeight: number;
  /**
   * The same between two key slices, where the interpolation prior guides the cut (default 0: there the built-in
   * model pulled the cut away from the truth on the bench; a stronger model may earn a weight).
   */
  betweenWeight: number;
  classic: Partial<ClassicOptions>;
  /**
   * The model half's options, over the `sam` engine's defaults (and `mosaicFrom` 3 here, for fronts between key
   * slices when `betweenWeight` asks the model there). `mosaic: 3` is the speed setting: up to nine slices of a
   * front share one encoder input where the object's crop fits a ninth of it without shrinking, once the object's
   * budget of full-size inputs is spent (`fullInputs`, `largeObject`). Off in this function's defaults (one slice
   * per input, as adapters are trained); the engine by name (`createEngine('hybrid', ...)`: command line, server,
   * bench) sets 3, see `defaultSamMosaic`. See the README for its cost and Dice on the bench.
   */
  sam: Partial<Pick<SamEngineOptions, 'maskInput' | 'prompt' | 'mosaic' | 'mosaicFrom' | 'zoom' | 'residual' | 'zoomOn'>>;
  /** Bound the fronts beyond the outermost key slices by a classic-engine run (default true). */
  classicExtent: boolean;
  /**
   * Measure the model's bias on the outermost key slices (`SamSession.bias`: the logit threshold at which it
   * reproduces the key mask from that mask's box and inner points) and take it off its logits on the fronts that
   * start there (default true). Costs one decoder run per outermost key slice, and its encoding for a mask key
   * slice. Measured when a front from that key slice first asks the model.
   */
  calibrate: boolean;
  /**
   * Ask the model beyond the outermost key slices only where the classic cut is unsure (see {@link ModelGate});
   * null (default) asks it on every slice there.
   */
  gate: ModelGate | null;
  /**
   * With a mosaic (`sam.mosaic` > 1): a budget of full-size encoder inputs per object (default 6; Infinity leaves
   * it to `sam.mosaicFrom`). The outermost key slices take one each; the rest is shared evenly between the
   * outward fronts, each front's share going to the first slices on which it asks the model, and beyond its share
   * a front's slices share mosaic inputs. A short object keeps a full input on every slice; a long one spends
   * the budget near its key slices and tiles the rest.
   */
  fullInputs: number;
  /**
   * With a mosaic: the budget of full-size inputs of a large object. Where a mosaic tile would show the crop around
   * each outermost key slice's object at no more than `scale` input pixels per image pixel (the object spans
   * enough image pixels that a tile still resolves each of them in detail), the object's budget is `fullInputs`
   * here in place of the general one; a small object, which a tile blows up from few image pixels, keeps that.
   * Default: scale 4, 2 full-size inputs (the outermost key slices; with one key slice, it and the first slice of
   * one front). On the bench the spleen CT (164 pixels across its crop: 2 input pixels per image pixel in a 3 x 3
   * tile) is large; the hippocampus, spinal cord and MS lesions (10-16) are not. Null: one budget for every object.
   */
  largeObject: { scale: number; fullInputs: number } | null;
}

export const DEFAULT_HYBRID: HybridOptions = { modelWeight: 0.3, betweenWeight: 0, classic: {}, sam: { mosaicFrom: 3 }, classicExtent: true, calibrate: true, gate: null, fullInputs: 6, largeObject: { scale: 4, fullInputs: LARGE_FULL_INPUTS } };

class HybridSession implements ObjectSession {
  /** The model's logit bias on each outermost key slice (see `calibrate`), measured on first use. */
  private readonly offsets = new Map<number, Promise<number>>();
  /** The outermost key slices, with their masks and the directions their outward fronts go. */
  private readonly outermost = new Map<number, { mask: Uint8Array; directions: number[] }>();
  /** Full-size inputs not yet shared out (see `fullInputs`), the fronts yet to take a share, and each one's rest. */
  private fullLeft = 0;
  private readonly waiting = new Set<string>();
  private readonly shares = new Map<string, number>();

  constructor(
    private readonly classic: ClassicSession,
    private readonly model: SamSession,
    private readonly img: RoiImage,
    private readonly o: Pick<HybridOptions, 'modelWeight' | 'betweenWeight' | 'calibrate' | 'gate' | 'fullInputs' | 'largeObject'>,
  ) {}

  /** Whether an outward step's slice gets a full-size input: while its front's share of `fullInputs` lasts. */
  private fullInput(step: PropagationStep): boolean {
    const id = `${step.key}${step.front.direction}`;
    let share = this.shares.get(id);
    if (share === undefined) {
      share = this.waiting.has(id) ? Math.floor(this.fullLeft / this.waiting.size) : 0;
      this.waiting.delete(id);
      this.fullLeft -= share;
    }
    this.shares.set(id, Math.max(0, share - 1));
    return share > 0;
  }

  async segmentSlice(key: KeySlice): Promise<SliceResult> {
    if (key.box) {
      // Where the image alone draws an object spanning the box, it is taken as it is.
      const plain = await this.classic.segmentBox(key);
      if (plain.pull < 1) return plain.result;
    }
    const m = await this.model.segmentSlice(key);
    return this.classic.segmentSlice(key, { logits: m.logits, weight: this.o.modelWeight * m.confidence });
  }

  async learn(keys: { index: number; mask: Uint8Array }[]): Promise<void> {
    this.classic.learn(keys);
    this.offsets.clear();
    this.outermost.clear();
    this.waiting.clear();
    this.shares.clear();
    if (!keys.length) return;
    // The outermost key slices, where the outward fronts start (both ways from a single key slice).
    const sorted = [...keys].sort((a, b) => a.index - b.index);
    const first = sorted[0].index;
    const last = sorted[sorted.length - 1].index;
    for (const k of new Set([sorted[0], sorted[sorted.length - 1]])) {
      const directions = [...(k.index === first ? [-1] : []), ...(k.index === last ? [1] : [])];
      this.outermost.set(k.index, { mask: k.mask, directions });
      for (const d of directions) if (k.index + d >= 0 && k.index + d < this.img.count) this.waiting.add(`${k.index}${d}`);
    }
    this.fullLeft = this.budget() - this.outermost.size;
  }

  /** The object's budget of full-size inputs: `largeObject`'s where every outermost key slice shows a large object. */
  private budget(): number {
    const large = this.o.largeObject;
    if (!large) return this.o.fullInputs;
    const { nu, nv } = this.img;
    for (const { mask } of this.outermost.values()) {
      const box = boundingBox2d(mask, nu, nv);
      if (!box || this.model.tileScale(box) > large.scale) return this.o.fullInputs;
    }
    return large.fullInputs;
  }

  /** The model's bias on key slice `key` (0 where it is not measured). */
  private offset(key: number): Promise<number> {
    let o = this.offsets.get(key);
    const k = this.o.calibrate ? this.outermost.get(key) : undefined;
    if (!o && k) {
      // The slices that the outward fronts from here visit first (both ways from a single key slice).
      o = this.model.bias(key, k.mask, this.model.around(key, k.directions));
      this.offsets.set(key, o);
    }
    return o ?? Promise.resolve(0);
  }

  async propagate(step: PropagationStep): Promise<SliceResult> {
    // Between key slices the model is prompted with the prior, where the prior holds the object.
    const between = step.front.between && !!step.prior && step.prior.some((x) => x);
    const weight = between ? this.o.betweenWeight : this.o.modelWeight;
    if (weight <= 0) return this.classic.propagate(step);
    if (this.o.gate && !between) {
      const plain = await this.classic.propagate(step);
      if (cutStands(plain, step.mask, this.o.gate)) return plain;
    }
    const offset = await this.offset(step.key);
    // Within the budget of full-size inputs, distance 0 keeps the input whole; beyond it the mosaic takes over.
    const distance = Number.isFinite(this.o.fullInputs) && !between ? (this.fullInput(step) ? 0 : Infinity) : undefined;
    const m = await this.model.predict(step, between ? (step.prior as Uint8Array) : step.mask, distance);
    const logits = offset ? m.logits.map((x) => x - offset) : m.logits;
    return this.classic.propagate(step, { logits, weight: weight * m.confidence });
  }
}

/** The hybrid engine on a loaded model; each run counts its model calls in its own usage record. */
export function hybridEngine(model: SamModel, options: Partial<HybridOptions> = {}): SliceEngine {
  const o: HybridOptions = { ...DEFAULT_HYBRID, ...options };
  const classic: ClassicOptions = { ...DEFAULT_CLASSIC, ...o.classic };
  const sam = { ...DEFAULT_SAM_ENGINE, ...DEFAULT_HYBRID.sam, ...o.sam, prompt: { ...DEFAULT_SAM_ENGINE.prompt, ...o.sam.prompt } };
  return {
    name: 'hybrid',
    description: `classic graph cuts with ${model.name}'s mask logits as a term of each cut; the model is prompted with the interpolated key masks between key slices`,
    imageGuided: true,
    newUsage: () => ({ ...newUsage() }),
    ...(o.classicExtent ? { extentEngine: classicEngine(o.classic) } : {}),
    async open(img: RoiImage, run?: EngineRun) {
      return new HybridSession(new ClassicSession(img, classic), new SamSession(img, model, sam, usageOf(run)), img, o);
    },
  };
}
