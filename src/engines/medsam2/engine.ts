/**
 * The MedSAM2 engine (`medsam2`): a SAM2-family video model (MedSAM2, SAM2.1) driven by the propagation
 * controller, every key slice a conditioning frame and every front a tracking pass, as SAM2's `track_step`:
 * - a key slice with a box or points is decoded from its prompts on its features plus `no_mem_embed`, several
 *   candidate masks for at most one point (the best by predicted IoU), one otherwise (the best candidate when the
 *   single mask is unstable); its memory is encoded from the binarised mask;
 * - a key slice with a drawn mask is taken as given: its memory comes from the mask itself (logits +/-10), its
 *   object pointer from the decoder prompted with the mask (`mask_downsample` of it as `mask_input`);
 * - a slice of a front attends to the memory bank of `memory.ts` (every conditioning memory, up to six recent
 *   ones of the pass, up to sixteen object pointers), is decoded with no prompt (several candidates, the best by
 *   predicted IoU), and its memory is encoded from sigmoid(logits) x 20 - 10;
 * - an object score <= 0 says the object is absent: the mask is empty, the pointer is `no_obj_ptr`, and the
 *   front ends there (`object-ended`). Confidence: the chosen mask's predicted IoU (0 when absent).
 * The input is the object's region of interest, resized to the model's S x S ("stretch" as MedSAM2, or keeping
 * the aspect); each slice is encoded once per object.
 */
import type { KeySlice } from '../../annotations/types.js';
import type { Sam2Decoded, Sam2Features, Sam2Memory, Sam2Model, Tensor4 } from '../../models/sam2/model.js';
import { boundingBox2d, countNonZero, fillHoles2d, keepOverlapping } from '../../morphology/binary.js';
import type { EngineRun, FrontInfo, ObjectSession, PropagationStep, RoiImage, SliceEngine, SliceResult } from '../../propagation/types.js';
import { bilinear } from '../../util/bilinear.js';
import { classicEngine } from '../classic/engine.js';
import { boxToInput, inputFrame, keyPrompt, logitsToRoi, modelInput, pointsToInput, roiToMaskInput, type InputFrame } from '../sam/frame.js';
import { deepestPoints } from '../sam/prompts.js';
import { memoryBank, sinePositionEncoding, type MemoryRef, type PointerRef } from './memory.js';

/** SAM2's score of a missing object's mask logits. */
export const NO_OBJ_SCORE = -1024;

export interface Medsam2Options {
  /** Bound the fronts beyond the outermost key slices by a classic-engine run (default false: the object score ends them). */
  classicExtent: boolean;
  /** Hears what the engine did on each slice (memories, pointers, chosen mask): for tests and inspection. */
  trace?: (e: Medsam2Trace) => void;
}

export const DEFAULT_MEDSAM2: Medsam2Options = { classicExtent: false };

/** One slice's record: which prompt path, which candidate, the object score and the memory bank used. */
export interface Medsam2Trace {
  slice: number;
  kind: 'key-prompt' | 'key-mask' | 'track';
  /** The pass (key slice and direction) of a tracked slice. */
  pass?: { key: number; dir: 1 | -1 };
  /** Candidate masks the decoder returned, whether several were compared, and the one chosen (index). */
  candidates: number;
  multimask: boolean;
  chosen: number;
  objectScore: number;
  present: boolean;
  /** How mask_for_mem was made. */
  maskForMem: 'binarised' | 'sigmoid';
  /** How a drawn key mask prompted the decoder for its pointer: as mask_input, or by its box and deepest point. */
  maskPrompt?: 'mask-input' | 'box';
  memories?: MemoryRef[];
  pointers?: PointerRef[];
  /** The tensors given to memory attention: each memory's positional encoding with its temporal encoding added, the pointers, their encodings (M per pointer). */
  memoryPos?: Float32Array[];
  pointerValues?: Float32Array[];
  pointerPos?: Float32Array;
  /** The pointer stored for this slice (after gating on the object score). */
  pointer: Float32Array;
}

export interface Medsam2Usage {
  encoderCalls: number;
  decoderCalls: number;
  memoryEncoderCalls: number;
  memoryAttentionCalls: number;
  seconds: number;
}

interface Stored {
  memory: Sam2Memory;
  pointer: Float32Array;
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** Bilinear upsampling (align_corners = false) of a `side` x `side` grid to `size` x `size`. */
function upsample(src: Float32Array, side: number, size: number): Float32Array {
  const out = new Float32Array(size * size);
  const k = side / size;
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) out[x + size * y] = bilinear(src, side, side, (x + 0.5) * k - 0.5, (y + 0.5) * k - 0.5, 0);
  return out;
}

/** SAM2's stability score of mask logits: area above +delta over area above -delta (1 when both are empty). */
export function stability(logits: Float32Array, delta: number): number {
  let inter = 0;
  let union = 0;
  for (const x of logits) {
    if (x > delta) inter++;
    if (x > -delta) union++;
  }
  return union > 0 ? inter / union : 1;
}

/**
 * Which candidate to keep, as SAM2: with several candidates compared (`multimask`), the best predicted IoU among
 * the multimask outputs (indices 1-3 of four, or all of three); otherwise the single mask (index 0), or with
 * dynamic stability the best multimask candidate when the single one is unstable. Returns the mask index and the
 * pointer index (the single-mask token unless multimask).
 */
export function chooseCandidate(
  d: Pick<Sam2Decoded, 'masks' | 'iou' | 'pointers'>,
  multimask: boolean,
  dynamic: { on: boolean; delta: number; threshold: number },
): { mask: number; pointer: number } {
  const n = d.masks.length;
  const first = n === 4 ? 1 : 0;
  const best = (): number => {
    let b = first;
    for (let i = first + 1; i < n; i++) if (d.iou[i] > d.iou[b]) b = i;
    return b;
  };
  const ptr = (i: number): number => (d.pointers.length === n ? i : 0);
  if (n === 1) return { mask: 0, pointer: 0 };
  if (multimask) {
    const b = best();
    return { mask: b, pointer: ptr(b) };
  }
  if (n === 4 && dynamic.on && stability(d.masks[0], dynamic.delta) < dynamic.threshold) return { mask: best(), pointer: 0 };
  return { mask: n === 4 ? 0 : best(), pointer: 0 };
}

export class Medsam2Session implements ObjectSession {
  private readonly frame: InputFrame;
  private readonly features = new Map<number, Promise<Sam2Features>>();
  /** Conditioning memories (key slices holding the object). */
  private readonly conditioning = new Map<number, Stored>();
  /** Each pass's memories (the slices of a front the controller kept), by "key:direction". */
  private readonly passes = new Map<string, Map<number, Stored>>();
  /** The memory and pointer of the last prediction, stored in its pass only when the controller keeps the step. */
  private pending: { step: PropagationStep; stored: Stored } | null = null;

  constructor(
    private readonly img: RoiImage,
    private readonly model: Sam2Model,
    private readonly o: Medsam2Options,
    private readonly usage: Medsam2Usage,
  ) {
    const m = model.manifest;
    this.frame = inputFrame([0, 0, img.nu - 1, img.nv - 1], img.du, img.dv, m.inputSize, m.resize);
  }

  private async timed<T>(f: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await f();
    } finally {
      this.usage.seconds += (performance.now() - t0) / 1000;
    }
  }

  private encode(w: number): Promise<Sam2Features> {
    let f = this.features.get(w);
    if (!f) {
      const m = this.model.manifest;
      const input = modelInput(this.img.windowed(w), this.img.nu, this.img.nv, this.frame, m.mean, m.std);
      f = this.timed(() => this.model.encodeImage(input));
      this.usage.encoderCalls++;
      this.features.set(w, f);
    }
    return f;
  }

  /** Features plus no_mem_embed (a frame decoded without memory). */
  private withNoMem(f: Sam2Features): Tensor4 {
    const [, c, h, w] = f.pixFeat.dims;
    const hw = h * w;
    const e = this.model.constants.noMemEmbed;
    const data = f.pixFeat.data.slice();
    for (let ch = 0; ch < c; ch++) for (let i = 0; i < hw; i++) data[ch * hw + i] += e[ch];
    return { data, dims: f.pixFeat.dims };
  }

  private async decode(embed: Tensor4, f: Sam2Features, prompt: Parameters<Sam2Model['decode']>[2]): Promise<Sam2Decoded> {
    this.usage.decoderCalls++;
    return this.timed(() => this.model.decode(embed, f, prompt));
  }

  private async memorise(f: Sam2Features, maskForMem: Float32Array, score: number): Promise<Sam2Memory> {
    this.usage.memoryEncoderCalls++;
    return this.timed(() => this.model.encodeMemory(f.pixFeat, maskForMem, score));
  }

  /** mask_for_mem from mask logits at S x S: binarised (x20-10) or sigmoid(logits) x 20 - 10. */
  private maskForMem(hi: Float32Array, binarise: boolean): Float32Array {
    const { maskForMemScale: a, maskForMemBias: b } = this.model.settings;
    return Float32Array.from(hi, (x) => (binarise ? (x > 0 ? 1 : 0) : sigmoid(x)) * a + b);
  }

  /** The chosen candidate as a result: gated by the object score, its ROI mask, memory and pointer. */
  private async settle(
    w: number,
    f: Sam2Features,
    d: Sam2Decoded,
    multimask: boolean,
    binarise: boolean,
    ref: Uint8Array | null,
  ): Promise<{ result: SliceResult; stored: Stored; trace: Omit<Medsam2Trace, 'slice' | 'kind'> }> {
    const s = this.model.settings;
    const pick = chooseCandidate(d, multimask, { on: s.dynamicStability, delta: s.stabilityDelta, threshold: s.stabilityThreshold });
    let low = d.masks[pick.mask];
    const score = d.objectScore ?? (low.some((x) => x > 0) ? 1 : -1);
    const present = score > 0;
    if (!present) low = new Float32Array(low.length).fill(NO_OBJ_SCORE);
    const pointer = present ? d.pointers[pick.pointer] : this.model.constants.noObjPtr;
    const S = this.model.inputSize;
    const memory = await this.memorise(f, this.maskForMem(upsample(low, d.size, S), binarise), score);
    const { nu, nv } = this.img;
    const roi = logitsToRoi(low, d.size, this.frame, nu, nv);
    const mask = keepOverlapping(Uint8Array.from(roi, (x) => (x > 0 ? 1 : 0)), ref, nu, nv);
    fillHoles2d(mask, nu, nv);
    const iou = Math.max(0, Math.min(1, d.iou[pick.mask] ?? 1));
    const note = present ? undefined : `object score ${score.toFixed(2)} <= 0: absent`;
    return {
      result: { mask, confidence: present && countNonZero(mask) ? iou : 0, ...(note ? { note } : {}) },
      stored: { memory, pointer },
      trace: { candidates: d.masks.length, multimask, chosen: pick.mask, objectScore: score, present, maskForMem: binarise ? 'binarised' : 'sigmoid', pointer },
    };
  }

  async segmentSlice(key: KeySlice): Promise<SliceResult> {
    const w = key.index;
    const f = await this.encode(w);
    const { nu, nv } = this.img;
    const { points, box } = keyPrompt(this.frame, key);
    const d = await this.decode(this.withNoMem(f), f, { points, box });
    const nPoints = points.length + (box ? 2 : 0);
    let ref: Uint8Array | null = null;
    if (key.points.length) {
      ref = new Uint8Array(nu * nv);
      for (const [u, v] of key.points) ref[u + nu * v] = 1;
    }
    const { result, stored, trace } = await this.settle(w, f, d, nPoints <= this.model.settings.multimaskMaxPoints, this.model.settings.binarizeMaskFromPrompts, ref);
    if (key.box) {
      const [i0, j0, i1, j1] = key.box;
      for (let v = 0; v < nv; v++) for (let u = 0; u < nu; u++) if (u < i0 || u > i1 || v < j0 || v > j1) result.mask[u + nu * v] = 0;
    }
    if (countNonZero(result.mask)) this.conditioning.set(w, stored);
    this.o.trace?.({ slice: w, kind: 'key-prompt', ...trace });
    return result;
  }

  /** A drawn key mask as a conditioning frame: memory from the mask, pointer from the decoder prompted with it. */
  private async fromMask(w: number, mask: Uint8Array): Promise<void> {
    const f = await this.encode(w);
    const { nu, nv, du, dv } = this.img;
    const S = this.model.inputSize;
    const maskS = Float32Array.from(roiToMaskInput(Float32Array.from(mask, (x) => (x ? 1 : -1)), nu, nv, this.frame, S, -1), (x) => (x > 0 ? 1 : 0));
    const present = maskS.some((x) => x > 0);
    const { maskForMemScale: a, maskForMemBias: b } = this.model.settings;
    const score = a * (present ? 1 : 0) + b;
    let pointer = this.model.constants.noObjPtr;
    let d: Sam2Decoded | null = null;
    const maskPrompt = this.model.takesMaskPrompts ? 'mask-input' : 'box';
    if (present) {
      const embed = this.withNoMem(f);
      if (maskPrompt === 'mask-input') {
        d = await this.decode(embed, f, { points: [], maskInput: await this.model.maskDownsample(maskS) });
      } else {
        // No mask prompt in this export: the mask's box and its deepest point instead.
        const box = boxToInput(this.frame, boundingBox2d(mask, nu, nv) as [number, number, number, number]);
        d = await this.decode(embed, f, { points: pointsToInput(this.frame, deepestPoints(mask, nu, nv, du, dv, 1), 1), box });
      }
      pointer = d.pointers[0];
    }
    // The mask as output: logits +/-10 at S x S, memory from their sigmoid (not binarised).
    const hi = Float32Array.from(maskS, (x) => x * a + b);
    const memory = await this.memorise(f, this.maskForMem(hi, false), score);
    this.conditioning.set(w, { memory, pointer });
    this.o.trace?.({
      slice: w,
      kind: 'key-mask',
      candidates: d?.masks.length ?? 0,
      multimask: false,
      chosen: 0,
      objectScore: score,
      present,
      maskForMem: 'sigmoid',
      maskPrompt,
      pointer,
    });
  }

  async learn(keys: { index: number; mask: Uint8Array }[]): Promise<void> {
    for (const k of keys) if (!this.conditioning.has(k.index)) await this.fromMask(k.index, k.mask);
  }

  /** The memories of a front's pass; `fresh`: the front starts (again) from its key slice, with a new pass. */
  private passOf(front: FrontInfo, fresh: boolean): Map<number, Stored> {
    const passKey = `${front.key}:${front.direction}`;
    let pass = this.passes.get(passKey);
    if (!pass || fresh) {
      pass = new Map();
      this.passes.set(passKey, pass);
    }
    return pass;
  }

  async propagate(step: PropagationStep): Promise<SliceResult> {
    const w = step.to;
    const dir = step.front.direction;
    const pass = this.passOf(step.front, step.from === step.front.key);
    const f = await this.encode(w);
    const s = this.model.settings;
    const bank = memoryBank(
      { slice: w, dir, conditioning: [...this.conditioning.keys()], pass: new Set(pass.keys()), count: this.img.count },
      { numMaskmem: s.numMaskmem, maxObjPtrs: s.maxObjPtrs, maxConditioningFrames: s.maxConditioningFrames },
    );
    const entry = (slice: number, cond: boolean): Stored => (cond ? this.conditioning.get(slice) : pass.get(slice)) as Stored;
    const memoryPos: Float32Array[] = [];
    const memories = bank.memories.map((r) => {
      const e = entry(r.slice, r.conditioning);
      const t = this.model.temporalEncoding(r.tposIndex);
      const pos = e.memory.pos.slice();
      for (let i = 0; i < pos.length; i++) pos[i] += t[i % t.length];
      memoryPos.push(pos);
      return { features: e.memory.features, pos };
    });
    const pointerValues = bank.pointers.map((r) => entry(r.slice, r.conditioning).pointer);
    const c = this.model.constants.noObjPtr.length;
    const memDim = memories[0]?.features.dims[1] ?? c;
    const sines = sinePositionEncoding(
      bank.pointers.map((r) => r.position / bank.positionScale),
      this.model.projectsPointerPositions ? c : memDim,
    );
    const pointerPos = await this.timed(() => this.model.pointerEncoding(sines, bank.pointers.length, memDim));
    this.usage.memoryAttentionCalls++;
    const embed = await this.timed(() => this.model.attend(f, memories, pointerValues, pointerPos));
    const d = await this.decode(embed, f, { points: [] });
    const { result, stored, trace } = await this.settle(w, f, d, s.multimaskForTracking && s.multimaskMaxPoints >= 0, false, step.mask);
    this.pending = { step, stored };
    this.o.trace?.({ slice: w, kind: 'track', pass: { key: step.front.key, dir }, ...trace, memories: bank.memories, pointers: bank.pointers, memoryPos, pointerValues, pointerPos });
    return result;
  }

  /** The controller kept the step: its memory joins the pass (SAM2 stores a tracked frame's output only then). */
  commit(step: PropagationStep): void {
    if (this.pending?.step !== step) throw new Error(`medsam2: commit of slice ${step.to} without its prediction`);
    const pass = this.passOf(step.front, false);
    pass.set(step.to, this.pending.stored);
    this.pending = null;
    // Memories further back than any pointer or memory reaches are not needed again.
    const s = this.model.settings;
    const reach = Math.max(s.numMaskmem, s.maxObjPtrs);
    for (const old of pass.keys()) if (Math.abs(old - step.to) > reach) pass.delete(old);
  }
}

function newMedsam2Usage(): Medsam2Usage {
  return { encoderCalls: 0, decoderCalls: 0, memoryEncoderCalls: 0, memoryAttentionCalls: 0, seconds: 0 };
}

/** The `medsam2` engine on a loaded SAM2-family model. */
export function medsam2Engine(model: Sam2Model, options: Partial<Medsam2Options> = {}): SliceEngine {
  const o: Medsam2Options = { ...DEFAULT_MEDSAM2, ...options };
  return {
    name: 'medsam2',
    description: `${model.name}: SAM2-style memory of every key slice and the recent slices of each front`,
    imageGuided: true,
    newUsage: () => ({ ...newMedsam2Usage() }),
    ...(o.classicExtent ? { extentEngine: classicEngine() } : {}),
    async open(img: RoiImage, run?: EngineRun) {
      const u = run?.usage ?? {};
      for (const [k, x] of Object.entries(newMedsam2Usage())) u[k] ??= x;
      return new Medsam2Session(img, model, o, u as unknown as Medsam2Usage);
    },
  };
}
