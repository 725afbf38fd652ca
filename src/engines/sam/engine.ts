/**
 * The SAM engine (`sam`): a single-image prompt model (image encoder + prompt decoder, SAM v1 format) driven
 * slice by slice by the propagation controller.
 * - Key slice: its box and points are decoded, then refined once with the first mask as `mask_input` (a mask
 *   key slice is taken as given by the controller).
 * - Next slice: prompts from the previous result (its box, a point deep inside it, its low-res logits as
 *   `mask_input`); confidence = sqrt(predicted IoU x stability), stability being the share of the pixels above
 *   logit -1 that are also above +1.
 * - A single-image model finds something on every slice, so fronts beyond the outermost key slices are bounded
 *   by a classic-engine run (`extentEngine`, on by default).
 * Zoom: each input holds a crop around the object as last seen; a slice is encoded once per object while the
 * object stays inside its crop, and the model's embedding store may hold it from an earlier run.
 * `SamSession` is also the model half of the hybrid engine (`src/engines/hybrid`).
 */
import type { KeySlice } from '../../annotations/types.js';
import type { SamDecoded, SamEmbedding, SamModel, SamPrompt } from '../../models/sam/model.js';
import { boundingBox2d, countNonZero, fillHoles2d, keepOverlapping } from '../../morphology/binary.js';
import { classicEngine } from '../classic/engine.js';
import type { EngineRun, ObjectSession, PropagationStep, RoiImage, SliceEngine, SliceResult } from '../../propagation/types.js';
import { inputFrame, keyPrompt, zoomCrop, logitsToRoi, maskToLogits, modelInput, roiToMaskInput, type InputFrame, type InputTile, type ZoomOptions } from './frame.js';
import { DEFAULT_MASK_PROMPT, promptFromMask, type MaskPromptOptions } from './prompts.js';
import type { LogitResidual } from './residual.js';

export interface SamEngineOptions {
  /** Feed the previous slice's logits as `mask_input` (default true). */
  maskInput: boolean;
  /** Prompts derived from a mask (box margin, points). */
  prompt: MaskPromptOptions;
  /** Bound the fronts beyond the outermost key slices by a classic-engine run (default true). */
  classicExtent: boolean;
  /**
   * Slices per input side (default 1: one slice per input). 2 encodes the next four slices of a front in one
   * input, each in a quarter: a quarter of the encoder runs at half the resolution (on the bench's spleen the
   * built-in model then lost 0.2 Dice: a speed option, not a default). Only a crop that fits a tile without
   * shrinking (at least one input pixel per ROI pixel) shares an input; a larger one fills the input alone.
   */
  mosaic: number;
  /**
   * With a mosaic: the slices nearer than this to their front's key slice (key slices included) fill an input
   * alone, at the full input resolution; the mosaic starts this many slices from the key slice (default 0: the
   * mosaic everywhere).
   */
  mosaicFrom: number;
  /**
   * Zoom: each input holds a crop around the object as last seen (the prompt's box or the previous mask's box,
   * widened on each side by `relativeMargin` x its size, at least `marginMm`), so the object fills most of the
   * input whatever the ROI; null encodes the whole ROI. A cached encoding is reused only while the object's
   * box stays inside its crop. `snap` (default true) rounds the crop to a ladder of sizes and a grid of centres
   * so that nearby boxes share a crop (and an embedding). Default: 25 %, 5 mm, snapped.
   */
  zoom: ZoomOptions | null;
  /**
   * A correction of the decoder's logits on propagated slices (a trained residual adapter, see
   * `src/models/adapter/residual.ts`); null (default) leaves them as the decoder made them.
   */
  residual: LogitResidual | null;
  /**
   * The box (full-slice pixels, inclusive u0, v0, u1, v1) that the crop of slice w zooms on in place of the object
   * as last seen, or null to keep that (default: none). Boxes fixed per slice give every run on a slice the same
   * encoder input, hence one encoding shared through the model's embedding store (`keyslice train` records its
   * runs so).
   */
  zoomOn: ((w: number) => Box | null) | null;
}

export const DEFAULT_SAM_ENGINE: SamEngineOptions = {
  maskInput: true,
  prompt: DEFAULT_MASK_PROMPT,
  classicExtent: true,
  mosaic: 1,
  mosaicFrom: 0,
  zoom: { relativeMargin: 0.25, marginMm: 5 },
  residual: null,
  zoomOn: null,
};

/** The logit thresholds `SamSession.bias` tries: -8 to 8 in steps of 0.25. */
const BIAS_RANGE = 8;
const BIAS_STEP = 0.25;

/** Model usage of an engine, for reports. */
export interface ModelUsage {
  encoderCalls: number;
  decoderCalls: number;
  encoderSeconds: number;
  decoderSeconds: number;
  /** Slices put into the encoder's inputs (up to mosaic² per call). */
  slicesEncoded: number;
  /** Encodings served from the cache (a slice visited again). */
  cacheHits: number;
  /** Encodings found in the model's embedding store (an earlier run encoded the same input): no encoder run. */
  storeHits: number;
  /** Embeddings the store could not keep (for example a full disk): encoded again when needed. */
  storeFailures: number;
}

/** The components of `mask` that overlap `ref` (else the largest), holes filled. */
function clean(mask: Uint8Array, ref: Uint8Array | null, nu: number, nv: number): Uint8Array {
  const out = keepOverlapping(mask, ref, nu, nv);
  fillHoles2d(out, nu, nv);
  return out;
}

/** A model result on one slice: the mask, its confidence, and the mask logits on the ROI pixels. */
export type ModelSliceResult = SliceResult & { logits: Float32Array };

/** An encoded slice: the embedding of the input it was put in, and where in that input it sits. */
interface Encoded {
  emb: SamEmbedding;
  frame: InputFrame;
}

type Box = [number, number, number, number];

/** Whether two frames map the ROI to the input in the same way. */
function sameFrame(a: InputFrame, b: InputFrame): boolean {
  return a.u0 === b.u0 && a.v0 === b.v0 && a.cu === b.cu && a.cv === b.cv && a.sx === b.sx && a.sy === b.sy && a.ox === b.ox && a.oy === b.oy;
}

/** The SAM engine's state for one object (also the model half of the hybrid engine). */
export class SamSession implements ObjectSession {
  private readonly encoded = new Map<number, { frame: InputFrame; enc: Promise<Encoded> }>();
  /** The tiles of an input (one without a mosaic). */
  private readonly tiles: InputTile[] = [];
  /** Key slices the model drew from a box or points (a mask key slice is given as it is). */
  private readonly drawn = new Set<number>();
  /** Slices whose encoding has been used at least once (a later use is a cache hit). */
  private readonly used = new Set<number>();
  /** The latest model result on each slice: low-res logits, its frame, ROI logits and mask (for the next slice). */
  private readonly last = new Map<number, { lowRes: Float32Array; frame: InputFrame; roi: Float32Array; mask: Uint8Array }>();

  constructor(
    private readonly img: RoiImage,
    private readonly model: SamModel,
    private readonly o: Pick<SamEngineOptions, 'maskInput' | 'prompt' | 'mosaic' | 'zoom'> & Partial<Pick<SamEngineOptions, 'residual' | 'mosaicFrom' | 'zoomOn'>>,
    private readonly usage: ModelUsage,
  ) {
    const tiles = Math.max(1, Math.floor(o.mosaic));
    const side = Math.floor(model.manifest.inputSize / tiles);
    for (let i = 0; i < tiles * tiles; i++) this.tiles.push({ ox: (i % tiles) * side, oy: Math.floor(i / tiles) * side, side });
  }

  /** The crop for an object seen at `around` (the whole ROI without zoom or without a box). */
  private crop(around: Box | null): Box {
    if (!this.o.zoom || !around) return [0, 0, this.img.nu - 1, this.img.nv - 1];
    return zoomCrop(around, this.img, this.o.zoom);
  }

  /** Whether `around` lies inside a frame's crop (a side at the ROI's edge needs no room). */
  private covers(f: InputFrame, around: Box | null): boolean {
    if (!this.o.zoom || !around) return true;
    const { nu, nv } = this.img;
    const [a, b, c, d] = around;
    const u1 = f.u0 + f.cu - 1;
    const v1 = f.v0 + f.cv - 1;
    return (f.u0 === 0 || f.u0 < a) && (f.v0 === 0 || f.v0 < b) && (u1 === nu - 1 || u1 > c) && (v1 === nv - 1 || v1 > d);
  }

  /**
   * The slices a front from `w` visits next in each of `directions` (nearest first, the directions taken in
   * turn), as many as an input holds beside `w`.
   */
  around(w: number, directions: readonly number[]): number[] {
    const out: number[] = [];
    if (!directions.length) return out;
    for (let d = 1; out.length < this.tiles.length - 1; d++) for (const s of directions) out.push(w + d * s);
    return out.slice(0, this.tiles.length - 1);
  }

  /**
   * Input pixels per ROI pixel (the smaller of the two axes) of a mosaic tile holding the crop for an object seen
   * at `around`; the whole input's without a mosaic. Small on a large object: a tile still shows it in detail.
   */
  tileScale(around: Box): number {
    const m = this.model.manifest;
    const f = inputFrame(this.crop(around), this.img.du, this.img.dv, m.inputSize, m.resize, this.tiles[0]);
    return Math.min(f.sx, f.sy);
  }

  /**
   * The tiles for a crop of a slice `distance` slices from its front's key slice: the mosaic's when the crop fits a
   * tile without shrinking (the model sees every ROI pixel at least once) and the slice is not nearer to the key
   * slice than `mosaicFrom`, else the whole input.
   */
  private tilesFor(crop: Box, distance: number): InputTile[] {
    const m = this.model.manifest;
    if (this.tiles.length === 1 || distance < (this.o.mosaicFrom ?? 0)) return [{ ox: 0, oy: 0, side: m.inputSize }];
    const f = inputFrame(crop, this.img.du, this.img.dv, m.inputSize, m.resize, this.tiles[0]);
    return f.sx >= 1 && f.sy >= 1 ? this.tiles : [{ ox: 0, oy: 0, side: m.inputSize }];
  }

  /**
   * The encoding of slice `w` for an object seen at `around`. A new input holds `w` and, with a mosaic, the next
   * slices of `ahead` not yet encoded, each in its own tile (all with the same crop), so one encoder run serves
   * up to mosaic² slices. A cached encoding whose crop no longer holds the object is replaced. `distance`: how
   * far `w` lies from the key slice of the front that asks (0 for a key slice), see `mosaicFrom`.
   */
  private encode(w: number, ahead: readonly number[], seen: Box | null, distance = 0): Promise<Encoded> {
    const fixed = this.o.zoomOn?.(w);
    const [ou, ov] = this.img.origin ?? [0, 0];
    const around: Box | null = fixed ? [fixed[0] - ou, fixed[1] - ov, fixed[2] - ou, fixed[3] - ov] : seen;
    const e = this.encoded.get(w);
    if (e && this.covers(e.frame, around)) {
      if (this.used.has(w)) this.usage.cacheHits++;
      this.used.add(w);
      return e.enc;
    }
    const { nu, nv, du, dv, count } = this.img;
    const m = this.model.manifest;
    const crop = this.crop(around);
    const tiles = this.tilesFor(crop, distance);
    const group = [w];
    for (const a of ahead) {
      if (group.length >= tiles.length) break;
      if (a >= 0 && a < count && !this.encoded.has(a) && !group.includes(a)) group.push(a);
    }
    const frames = group.map((_, i) => inputFrame(crop, du, dv, m.inputSize, m.resize, tiles[i]));
    const input = new Float32Array(3 * m.inputSize * m.inputSize);
    group.forEach((g, i) => modelInput(this.img.windowed(g), nu, nv, frames[i], m.mean, m.std, input));
    const t0 = performance.now();
    const emb = this.model.encode(input).then((x) => {
      if (x.stored) this.usage.storeHits++;
      else {
        if (x.storeError) this.usage.storeFailures++;
        this.usage.encoderCalls++;
        this.usage.slicesEncoded += group.length;
        this.usage.encoderSeconds += (performance.now() - t0) / 1000;
      }
      return x;
    });
    const entries = group.map((_, i) => ({ frame: frames[i], enc: emb.then((x) => ({ emb: x, frame: frames[i] })) }));
    group.forEach((g, i) => this.encoded.set(g, entries[i]));
    this.used.add(w);
    return entries[0].enc;
  }

  /**
   * One decoder run (counted): its output and its mask logits on the ROI pixels. On a propagation step (`step`,
   * prompted from `source`) the residual correction, if any, is added to the decoder's logits first.
   */
  private async decode(enc: Encoded, prompt: SamPrompt, step?: PropagationStep, source?: Uint8Array): Promise<{ out: SamDecoded; roi: Float32Array }> {
    const t0 = performance.now();
    let out = await this.model.decode(enc.emb, prompt);
    this.usage.decoderCalls++;
    this.usage.decoderSeconds += (performance.now() - t0) / 1000;
    const residual = this.o.residual;
    if (residual && step && source) {
      // The previous slice's embedding where it was encoded in the same frame, else this slice's own.
      const prev = this.encoded.get(step.from);
      const previous = prev && sameFrame(prev.frame, enc.frame) ? (await prev.enc).emb : enc.emb;
      const logits = await residual.correct({ img: this.img, step, drawnKey: this.drawn.has(step.key), source, frame: enc.frame, embedding: enc.emb, previous, logits: out.logits, size: out.size });
      out = { ...out, logits };
    }
    return { out, roi: logitsToRoi(out.logits, out.size, enc.frame, this.img.nu, this.img.nv) };
  }

  private async run(w: number, enc: Encoded, prompt: SamPrompt, ref: Uint8Array | null, step?: PropagationStep): Promise<ModelSliceResult> {
    const { nu, nv } = this.img;
    const { out, roi } = await this.decode(enc, prompt, step, ref ?? undefined);
    const raw = new Uint8Array(nu * nv);
    let hi = 0;
    let lo = 0;
    for (let i = 0; i < roi.length; i++) {
      raw[i] = roi[i] > 0 ? 1 : 0;
      if (roi[i] > 1) hi++;
      if (roi[i] > -1) lo++;
    }
    const mask = clean(raw, ref, nu, nv);
    const stability = lo ? hi / lo : 0;
    const confidence = countNonZero(mask) ? Math.sqrt(Math.max(0, Math.min(1, out.iou)) * stability) : 0;
    this.last.set(w, { lowRes: out.logits, frame: enc.frame, roi, mask });
    return { mask, confidence, logits: roi };
  }

  async segmentSlice(key: KeySlice): Promise<ModelSliceResult> {
    const w = key.index;
    this.drawn.add(w);
    // Zoom on the box (points alone do not tell the object's size: the whole ROI).
    const enc = await this.encode(w, this.around(w, [1, -1]), key.box ? [...key.box] : null);
    const { points, box } = keyPrompt(enc.frame, key);
    let ref: Uint8Array | null = null;
    if (key.points.length) {
      ref = new Uint8Array(this.img.nu * this.img.nv);
      for (const [u, v] of key.points) ref[u + this.img.nu * v] = 1;
    }
    const first = await this.run(w, enc, { points, box }, ref);
    // One refinement pass with the first mask as mask_input (SAM's iterative use).
    const again = await this.encode(w, [], null);
    const second = await this.run(w, again, { points, box, maskInput: this.last.get(w)?.lowRes }, ref ?? first.mask);
    if (key.box) {
      // Nothing outside the box.
      const [i0, j0, i1, j1] = key.box;
      for (let v = 0; v < this.img.nv; v++) {
        for (let u = 0; u < this.img.nu; u++) if (u < i0 || u > i1 || v < j0 || v > j1) second.mask[u + this.img.nu * v] = 0;
      }
    }
    if (!countNonZero(second.mask)) {
      this.last.delete(w);
      return first;
    }
    return second;
  }

  /**
   * The model's result on `step.to` with prompts from `source` (default: the previous slice's mask); the
   * previous slice's own logits are the `mask_input` when the source is that slice's model result. `distance`:
   * how far the step lies from its front's key slice for `mosaicFrom` (default: in slices).
   */
  async predict(step: PropagationStep, source: Uint8Array = step.mask, distance = Math.abs(step.to - step.key)): Promise<ModelSliceResult> {
    const { nu, nv, du, dv } = this.img;
    const dir = step.front.direction;
    const enc = await this.encode(step.to, this.around(step.to, [dir]), boundingBox2d(source, nu, nv), distance);
    const prompt = promptFromMask(source, nu, nv, du, dv, enc.frame, this.o.prompt);
    if (!prompt) return { mask: new Uint8Array(nu * nv), confidence: 0, logits: new Float32Array(nu * nv).fill(-20) };
    if (this.o.maskInput) {
      const prev = this.last.get(step.from);
      const M = this.model.maskSize;
      if (prev && prev.mask === source) {
        // The previous slice's own logits: as they are when it sat in the same tile, else resampled.
        prompt.maskInput = sameFrame(prev.frame, enc.frame) ? prev.lowRes : roiToMaskInput(prev.roi, nu, nv, enc.frame, M);
      } else prompt.maskInput = maskToLogits(source, nu, nv, enc.frame, M);
    }
    return this.run(step.to, enc, prompt, source, step);
  }

  /**
   * The model's bias on a slice whose mask is known (a key slice): the logit threshold at which the model,
   * prompted with that mask's box and inner points (no `mask_input`, so the drawing is the model's own), reproduces
   * it best (Dice). Positive when the model draws the object wider than the mask, 0 when it cannot tell (empty
   * mask or prompt). `ahead`: the slices that the fronts starting here visit first (they share the input with a
   * mosaic).
   */
  async bias(w: number, mask: Uint8Array, ahead: readonly number[] = []): Promise<number> {
    const { nu, nv, du, dv } = this.img;
    const box = boundingBox2d(mask, nu, nv);
    if (!box) return 0;
    const enc = await this.encode(w, ahead, box);
    const prompt = promptFromMask(mask, nu, nv, du, dv, enc.frame, this.o.prompt);
    if (!prompt) return 0;
    const { roi } = await this.decode(enc, prompt);
    let best = 0;
    let bestDice = -1;
    const area = countNonZero(mask);
    for (let t = -BIAS_RANGE; t <= BIAS_RANGE + 1e-9; t += BIAS_STEP) {
      let inter = 0;
      let n = 0;
      for (let i = 0; i < roi.length; i++) {
        if (roi[i] <= t) continue;
        n++;
        inter += mask[i];
      }
      const d = (2 * inter) / (n + area);
      // Ties go to the threshold nearest 0.
      if (d > bestDice + 1e-9 || (Math.abs(d - bestDice) <= 1e-9 && Math.abs(t) < Math.abs(best))) {
        bestDice = d;
        best = t;
      }
    }
    return best;
  }

  async propagate(step: PropagationStep): Promise<SliceResult> {
    const r = await this.predict(step);
    return { mask: r.mask, confidence: r.confidence };
  }
}

/** The run's counters as model counters (a fresh set when the run brings none). */
export function usageOf(run: EngineRun | undefined): ModelUsage {
  const u = run?.usage;
  if (!u) return newUsage();
  for (const [k, x] of Object.entries(newUsage())) u[k] ??= x;
  return u as unknown as ModelUsage;
}

/** A new set of model counters. */
export function newUsage(): ModelUsage {
  return { encoderCalls: 0, decoderCalls: 0, encoderSeconds: 0, decoderSeconds: 0, slicesEncoded: 0, cacheHits: 0, storeHits: 0, storeFailures: 0 };
}

/** The `sam` engine on a loaded model; each run counts its model calls in its own {@link ModelUsage}. */
export function samEngine(model: SamModel, options: Partial<SamEngineOptions> = {}): SliceEngine {
  const o: SamEngineOptions = { ...DEFAULT_SAM_ENGINE, ...options, prompt: { ...DEFAULT_SAM_ENGINE.prompt, ...options.prompt } };
  return {
    name: 'sam',
    description: `${model.name}: prompts from the previous slice's mask (box, inner point, logits)`,
    imageGuided: true,
    newUsage: () => ({ ...newUsage() }),
    ...(o.classicExtent ? { extentEngine: classicEngine() } : {}),
    async open(img: RoiImage, run?: EngineRun) {
      return new SamSession(img, model, o, usageOf(run));
    },
  };
}
