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
 * Each ROI slice is encoded at most once per object (the ROI, a crop around the object, is the zoom).
 * `SamSession` is also the model half of the hybrid engine (`src/engines/hybrid`).
 */
import type { KeySlice } from '../../annotations/types.js';
import type { SamEmbedding, SamModel, SamPoint, SamPrompt } from '../../models/sam/model.js';
import { countNonZero, fillHoles2d, keepOverlapping } from '../../morphology/binary.js';
import { classicEngine } from '../classic/engine.js';
import type { ObjectSession, PropagationStep, RoiImage, SliceEngine, SliceResult } from '../../propagation/types.js';
import { inputFrame, logitsToRoi, maskToLogits, modelInput, toInput, type InputFrame } from './frame.js';
import { DEFAULT_MASK_PROMPT, promptFromMask, type MaskPromptOptions } from './prompts.js';

export interface SamEngineOptions {
  /** Feed the previous slice's logits as `mask_input` (default true). */
  maskInput: boolean;
  /** Prompts derived from a mask (box margin, points). */
  prompt: MaskPromptOptions;
  /** Bound the fronts beyond the outermost key slices by a classic-engine run (default true). */
  classicExtent: boolean;
}

export const DEFAULT_SAM_ENGINE: SamEngineOptions = {
  maskInput: true,
  prompt: DEFAULT_MASK_PROMPT,
  classicExtent: true,
};

/** Model usage of an engine, for reports. */
export interface ModelUsage {
  encoderCalls: number;
  decoderCalls: number;
  encoderSeconds: number;
  decoderSeconds: number;
  /** Encodings served from the cache (a slice visited again). */
  cacheHits: number;
}

/** The components of `mask` that overlap `ref` (else the largest), holes filled. */
function clean(mask: Uint8Array, ref: Uint8Array | null, nu: number, nv: number): Uint8Array {
  const out = keepOverlapping(mask, ref, nu, nv);
  fillHoles2d(out, nu, nv);
  return out;
}

/** A model result on one slice: the mask, its confidence, and the mask logits on the ROI pixels. */
export type ModelSliceResult = SliceResult & { logits: Float32Array };

/** The SAM engine's state for one object (also the model half of the hybrid engine). */
export class SamSession implements ObjectSession {
  private readonly frame: InputFrame;
  private readonly embeddings = new Map<number, Promise<SamEmbedding>>();
  /** Low-res logits of the latest model result on each slice (mask_input for the next one), and its mask. */
  private readonly logits = new Map<number, Float32Array>();
  private readonly results = new Map<number, Uint8Array>();

  constructor(
    private readonly img: RoiImage,
    private readonly model: SamModel,
    private readonly o: Pick<SamEngineOptions, 'maskInput' | 'prompt'>,
    private readonly usage: ModelUsage,
  ) {
    const m = model.manifest;
    this.frame = inputFrame([0, 0, img.nu - 1, img.nv - 1], img.du, img.dv, m.inputSize, m.resize);
  }

  private embed(w: number): Promise<SamEmbedding> {
    let e = this.embeddings.get(w);
    if (e) {
      this.usage.cacheHits++;
      return e;
    }
    const m = this.model.manifest;
    const t0 = performance.now();
    e = this.model.encode(modelInput(this.img.windowed(w), this.img.nu, this.img.nv, this.frame, m.mean, m.std)).then((x) => {
      this.usage.encoderCalls++;
      this.usage.encoderSeconds += (performance.now() - t0) / 1000;
      return x;
    });
    this.embeddings.set(w, e);
    return e;
  }

  private async run(w: number, prompt: SamPrompt, ref: Uint8Array | null): Promise<ModelSliceResult> {
    const { nu, nv } = this.img;
    const emb = await this.embed(w);
    const t0 = performance.now();
    const out = await this.model.decode(emb, prompt);
    this.usage.decoderCalls++;
    this.usage.decoderSeconds += (performance.now() - t0) / 1000;
    const roi = logitsToRoi(out.logits, out.size, this.frame, nu, nv);
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
    this.logits.set(w, out.logits);
    return { mask, confidence, logits: roi };
  }

  private pointsOf(list: readonly (readonly [number, number])[], label: 0 | 1): SamPoint[] {
    return list.map(([u, v]) => {
      const [x, y] = toInput(this.frame, u, v);
      return { x, y, label };
    });
  }

  async segmentSlice(key: KeySlice): Promise<ModelSliceResult> {
    const points = [...this.pointsOf(key.points, 1), ...this.pointsOf(key.negativePoints, 0)];
    let box: [number, number, number, number] | undefined;
    let ref: Uint8Array | null = null;
    if (key.box) {
      const [i0, j0, i1, j1] = key.box;
      const [x0, y0] = toInput(this.frame, i0 - 0.5, j0 - 0.5);
      const [x1, y1] = toInput(this.frame, i1 + 0.5, j1 + 0.5);
      box = [x0, y0, x1, y1];
    }
    if (key.points.length) {
      ref = new Uint8Array(this.img.nu * this.img.nv);
      for (const [u, v] of key.points) ref[u + this.img.nu * v] = 1;
    }
    const first = await this.run(key.index, { points, box }, ref);
    // One refinement pass with the first mask as mask_input (SAM's iterative use).
    const second = await this.run(key.index, { points, box, maskInput: this.logits.get(key.index) }, ref ?? first.mask);
    if (key.box) {
      // Nothing outside the box.
      const [i0, j0, i1, j1] = key.box;
      for (let v = 0; v < this.img.nv; v++) {
        for (let u = 0; u < this.img.nu; u++) if (u < i0 || u > i1 || v < j0 || v > j1) second.mask[u + this.img.nu * v] = 0;
      }
    }
    if (!countNonZero(second.mask)) return first;
    this.results.set(key.index, second.mask);
    return second;
  }

  /**
   * The model's result on `step.to` with prompts from `source` (default: the previous slice's mask); the
   * previous slice's own logits are the `mask_input` when the source is that slice's model result.
   */
  async predict(step: PropagationStep, source: Uint8Array = step.mask): Promise<ModelSliceResult> {
    const { nu, nv, du, dv } = this.img;
    const prompt = promptFromMask(source, nu, nv, du, dv, this.frame, this.o.prompt);
    if (!prompt) return { mask: new Uint8Array(nu * nv), confidence: 0, logits: new Float32Array(nu * nv).fill(-20) };
    if (this.o.maskInput) {
      const own = source === step.mask && this.results.get(step.from) === step.mask;
      prompt.maskInput = (own ? this.logits.get(step.from) : undefined) ?? maskToLogits(source, nu, nv, this.frame, this.model.maskSize);
    }
    const r = await this.run(step.to, prompt, source);
    this.results.set(step.to, r.mask);
    return r;
  }

  async propagate(step: PropagationStep): Promise<SliceResult> {
    const r = await this.predict(step);
    return { mask: r.mask, confidence: r.confidence };
  }
}

/** A new set of model counters. */
export function newUsage(): ModelUsage {
  return { encoderCalls: 0, decoderCalls: 0, encoderSeconds: 0, decoderSeconds: 0, cacheHits: 0 };
}

/** The `sam` engine on a loaded model; `stats()` counts model calls over every object it has segmented. */
export function samEngine(model: SamModel, options: Partial<SamEngineOptions> = {}): SliceEngine {
  const o: SamEngineOptions = { ...DEFAULT_SAM_ENGINE, ...options, prompt: { ...DEFAULT_SAM_ENGINE.prompt, ...options.prompt } };
  const usage = newUsage();
  return {
    name: 'sam',
    description: `${model.name}: prompts from the previous slice's mask (box, inner point, logits)`,
    imageGuided: true,
    stats: () => ({ ...usage }),
    ...(o.classicExtent ? { extentEngine: classicEngine() } : {}),
    async open(img: RoiImage) {
      return new SamSession(img, model, o, usage);
    },
  };
}
