/**
 * The SAM-family engines (`sam`, `hybrid`): a single-image prompt model (image encoder + prompt decoder, SAM v1
 * format) driven slice by slice by the propagation controller.
 * - Key slice: its box and points are decoded (a mask key slice is taken as given by the controller).
 * - Next slice: prompts from the previous result (its box with a margin, a point deep inside it, its low-res
 *   logits as `mask_input`); confidence = predicted IoU x stability of the mask (the share of the pixels above
 *   logit -1 that are also above +1).
 * - `hybrid`: between key slices the prompts come from the interpolation of the key masks instead, the model
 *   refines them, and the prior is kept where the model is unsure (|logit| < 1) or disagrees with it as a whole.
 * Each ROI slice is encoded at most once per object (the ROI, a crop around the object, is the zoom).
 */
import type { KeySlice } from '../../annotations/types.js';
import type { SamEmbedding, SamModel, SamPoint, SamPrompt } from '../../models/sam/model.js';
import { countNonZero, fillHoles2d, keepOverlapping } from '../../morphology/binary.js';
import type { ObjectSession, PropagationStep, RoiImage, SliceEngine, SliceResult } from '../../propagation/types.js';
import { inputFrame, logitsToRoi, maskToLogits, modelInput, toInput, type InputFrame } from './frame.js';
import { DEFAULT_MASK_PROMPT, promptFromMask, type MaskPromptOptions } from './prompts.js';

export interface SamEngineOptions {
  /** Between key slices, prompt from the interpolation prior and fall back to it (default false: `sam`). */
  hybrid: boolean;
  /** Feed the previous slice's logits as `mask_input` (default true). */
  maskInput: boolean;
  /** Prompts derived from a mask (box margin, points). */
  prompt: MaskPromptOptions;
  /** Hybrid: below this IoU between the model's mask and the prior, the prior is kept (default 0.5). */
  minPriorAgreement: number;
}

export const DEFAULT_SAM_ENGINE: SamEngineOptions = {
  hybrid: false,
  maskInput: true,
  prompt: DEFAULT_MASK_PROMPT,
  minPriorAgreement: 0.5,
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

function iou(a: Uint8Array, b: Uint8Array): number {
  let inter = 0;
  let uni = 0;
  for (let i = 0; i < a.length; i++) {
    inter += a[i] & b[i];
    uni += a[i] | b[i];
  }
  return uni ? inter / uni : 1;
}

/** The components of `mask` that overlap `ref` (else the largest), holes filled. */
function clean(mask: Uint8Array, ref: Uint8Array | null, nu: number, nv: number): Uint8Array {
  const out = keepOverlapping(mask, ref, nu, nv);
  fillHoles2d(out, nu, nv);
  return out;
}

class SamSession implements ObjectSession {
  private readonly frame: InputFrame;
  private readonly embeddings = new Map<number, Promise<SamEmbedding>>();
  /** Low-res logits of the latest model result on each slice (mask_input for the next one). */
  private readonly logits = new Map<number, Float32Array>();

  constructor(
    private readonly img: RoiImage,
    private readonly model: SamModel,
    private readonly o: SamEngineOptions,
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

  private async run(w: number, prompt: SamPrompt, ref: Uint8Array | null): Promise<SliceResult & { logits: Float32Array }> {
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

  async segmentSlice(key: KeySlice): Promise<SliceResult> {
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
    return countNonZero(second.mask) ? second : first;
  }

  async propagate(step: PropagationStep): Promise<SliceResult> {
    const { nu, nv, du, dv } = this.img;
    const prior = this.o.hybrid && step.prior && step.prior.some((x) => x) ? step.prior : null;
    const source = prior ?? step.mask;
    const prompt = promptFromMask(source, nu, nv, du, dv, this.frame, this.o.prompt);
    if (!prompt) return { mask: new Uint8Array(nu * nv), confidence: 0 };
    if (this.o.maskInput) {
      const prev = prior ? null : this.logits.get(step.from);
      prompt.maskInput = prev ?? maskToLogits(source, nu, nv, this.frame, this.model.maskSize);
    }
    const r = await this.run(step.to, prompt, source);
    if (!prior) return { mask: r.mask, confidence: r.confidence };
    // Hybrid: the prior where the model is unsure, all of it where the model disagrees.
    if (iou(r.mask, prior) < this.o.minPriorAgreement) return { mask: prior.slice(), confidence: r.confidence };
    const mask = new Uint8Array(nu * nv);
    for (let i = 0; i < mask.length; i++) mask[i] = Math.abs(r.logits[i]) < 1 ? prior[i] : r.mask[i];
    return { mask: clean(mask, prior, nu, nv), confidence: r.confidence };
  }
}

/** A SAM-family engine on a loaded model; `stats()` counts model calls over every object it has segmented. */
export function samEngine(model: SamModel, options: Partial<SamEngineOptions> = {}): SliceEngine {
  const o: SamEngineOptions = { ...DEFAULT_SAM_ENGINE, ...options, prompt: { ...DEFAULT_SAM_ENGINE.prompt, ...options.prompt } };
  const usage: ModelUsage = { encoderCalls: 0, decoderCalls: 0, encoderSeconds: 0, decoderSeconds: 0, cacheHits: 0 };
  return {
    name: o.hybrid ? 'hybrid' : 'sam',
    description: o.hybrid
      ? `${model.name}: prompts from the interpolated key masks between key slices, from the previous slice beyond them`
      : `${model.name}: prompts from the previous slice's mask (box, inner point, logits)`,
    imageGuided: true,
    stats: () => ({ ...usage }),
    async open(img: RoiImage) {
      return new SamSession(img, model, o, usage);
    },
  };
}
