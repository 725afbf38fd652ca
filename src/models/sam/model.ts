/**
 * A SAM v1-format model (image encoder + prompt decoder) on onnxruntime: loading with the manifest checked
 * against the graphs' real inputs and outputs, `encode` of one preprocessed image and `decode` of prompts.
 * Coordinates are in the model's input frame: pixels of the S x S input, (0, 0) the top-left pixel's centre.
 */
import { KeysliceError } from '../../util/errors.js';
import { floatData, type GraphSession, type GraphValueInfo, type OnnxRuntime } from '../onnx/runtime.js';
import type { EmbeddingStore } from './embedding-store.js';
import { embeddingKey } from './embedding-store.js';
import { SAM_DEFAULT_TENSORS, type SamManifest } from './manifest.js';

/** An image embedding: C x h x w floats. */
export interface SamEmbedding {
  data: Float32Array;
  dims: [number, number, number, number];
  /** Set when the embedding could not be kept in the embedding store (the store's message): the run goes on. */
  storeError?: string;
  /** Set when the embedding came from an embedding store instead of an encoder run. */
  stored?: boolean;
}

/** A prompt point in the input frame; label 1 = object, 0 = background. */
export interface SamPoint {
  x: number;
  y: number;
  label: 0 | 1;
}

export interface SamPrompt {
  points: SamPoint[];
  /** Box corners (x0, y0, x1, y1) in the input frame. */
  box?: [number, number, number, number];
  /** Logits of a previous low-resolution mask (`maskSize` squared), fed as `mask_input`. */
  maskInput?: Float32Array | null;
}

export interface SamDecoded {
  /** Mask logits on a `size` x `size` grid covering the S x S input (pixel centres aligned). */
  logits: Float32Array;
  size: number;
  /** The decoder's predicted IoU of the chosen mask. */
  iou: number;
}

/**
 * Prompt points as the SAM decoders take them: the points (label 1 object, 0 background) then the box's two
 * corners (labels 2 and 3), coordinates flattened x, y.
 */
export function pointPrompt(points: readonly SamPoint[], box?: readonly [number, number, number, number]): { coords: number[]; labels: number[] } {
  const coords: number[] = [];
  const labels: number[] = [];
  for (const p of points) {
    coords.push(p.x, p.y);
    labels.push(p.label);
  }
  if (box) {
    coords.push(box[0], box[1], box[2], box[3]);
    labels.push(2, 3);
  }
  return { coords, labels };
}

function shapeText(shape: readonly (number | string)[] | undefined): string {
  return shape ? `[${shape.join(',')}]` : '[?]';
}

function numeric(d: number | string | undefined): d is number {
  return typeof d === 'number' && d > 0;
}

/** An embedding store and the key prefix of this model's encoder in it. */
export interface EmbeddingSlot {
  store: EmbeddingStore;
  id: string;
}

export class SamModel {
  /** Side of the decoder's mask input and low-resolution output (4 x the embedding's side). */
  readonly maskSize: number;
  private constructor(
    readonly manifest: Readonly<SamManifest>,
    private readonly runtime: OnnxRuntime,
    private readonly encoder: GraphSession,
    private readonly decoder: GraphSession,
    maskSize: number,
    /**
     * Where embeddings are kept for reuse (none by default), keyed by `id` and the encoder input; `id` must change
     * whenever the encoder's weights do (the Node loader uses a hash of the encoder file). Fixed at load.
     */
    readonly store: Readonly<EmbeddingSlot> | null,
  ) {
    this.maskSize = maskSize;
  }

  get name(): string {
    return this.manifest.name;
  }

  /**
   * Loads both graphs and checks them against the manifest; `file` names the manifest in errors. The graphs are
   * read from the manifest's paths (Node) or URLs (onnxruntime-web), or taken from `graphs` when given.
   */
  static async load(
    manifest: SamManifest,
    runtime: OnnxRuntime,
    file: string,
    graphs?: { encoder: Uint8Array; decoder: Uint8Array },
    store: EmbeddingSlot | null = null,
  ): Promise<SamModel> {
    const open = async (which: 'encoder' | 'decoder'): Promise<GraphSession> => {
      try {
        return await runtime.load(graphs?.[which] ?? manifest[which]);
      } catch (e) {
        throw new KeysliceError('INVALID_MODEL', `the ${which} graph could not be loaded: ${(e as Error).message}`, manifest[which], { cause: e });
      }
    };
    const encoder = await open('encoder');
    const decoder = await open('decoder');
    const { maskSize, tensors } = checkGraphs(manifest, encoder, decoder, file);
    // The model keeps its own copy of the manifest, with the tensor names the graphs have; nothing changes it after.
    const own: SamManifest = { ...manifest, tensors: Object.freeze(tensors) };
    return new SamModel(Object.freeze(own), runtime, encoder, decoder, maskSize, store ? Object.freeze({ ...store }) : null);
  }

  /** The same model (the same loaded graphs) keeping its embeddings in `store` (null: none). */
  withStore(store: EmbeddingSlot | null): SamModel {
    return new SamModel(this.manifest, this.runtime, this.encoder, this.decoder, this.maskSize, store ? Object.freeze({ ...store }) : null);
  }

  /**
   * The embedding of a preprocessed image (3 x S x S floats, channel-major): from the embedding store when it
   * holds this input (`stored` set), else an encoder run (then kept in the store).
   */
  async encode(image: Float32Array): Promise<SamEmbedding> {
    const S = this.manifest.inputSize;
    if (image.length !== 3 * S * S) throw new Error(`encoder input must be 3 x ${S} x ${S} floats, got ${image.length}`);
    if (!this.store) return this.runEncoder(image);
    const { store, id } = this.store;
    const key = await embeddingKey(id, image);
    const kept = await store.get(key);
    if (kept) return { data: kept.data, dims: kept.dims, stored: true };
    const emb = await this.runEncoder(image);
    try {
      await store.set(key, emb);
    } catch (e) {
      return { ...emb, storeError: (e as Error).message };
    }
    return emb;
  }

  private async runEncoder(image: Float32Array): Promise<SamEmbedding> {
    const S = this.manifest.inputSize;
    const out = await this.encoder.run({ [this.manifest.tensors.image]: this.runtime.float32(image, [1, 3, S, S]) });
    const t = out[this.manifest.tensors.embeddings];
    const data = floatData(t, `encoder output "${this.manifest.tensors.embeddings}"`);
    const d = t.dims;
    if (d.length !== 4 || d[0] !== 1) throw new Error(`encoder output "${this.manifest.tensors.embeddings}" is [${d.join(',')}], expected [1,C,h,w]`);
    return { data, dims: [d[0], d[1], d[2], d[3]] };
  }

  /** Runs the decoder on an embedding and prompts. */
  async decode(emb: SamEmbedding, prompt: SamPrompt): Promise<SamDecoded> {
    const t = this.manifest.tensors;
    const S = this.manifest.inputSize;
    const { coords, labels } = pointPrompt(prompt.points, prompt.box);
    if (!prompt.box) {
      // No box: one padding point, as the SAM decoder export expects.
      coords.push(0, 0);
      labels.push(-1);
    }
    const n = labels.length;
    const M = this.maskSize;
    const feeds: Record<string, ReturnType<OnnxRuntime['float32']>> = {
      [t.imageEmbeddings]: this.runtime.float32(emb.data, emb.dims),
      [t.pointCoords]: this.runtime.float32(Float32Array.from(coords), [1, n, 2]),
      [t.pointLabels]: this.runtime.float32(Float32Array.from(labels), [1, n]),
    };
    const hasMask = !!prompt.maskInput;
    if (t.maskInput) feeds[t.maskInput] = this.runtime.float32(hasMask ? (prompt.maskInput as Float32Array) : new Float32Array(M * M), [1, 1, M, M]);
    if (t.hasMaskInput) feeds[t.hasMaskInput] = this.runtime.float32(Float32Array.of(hasMask ? 1 : 0), [1]);
    if (t.origImSize) feeds[t.origImSize] = this.runtime.float32(Float32Array.of(S, S), [2]);
    const want = [t.iouPredictions, (t.lowResMasks ?? t.masks) as string];
    const out = await this.decoder.run(feeds, want);
    const iou = floatData(out[t.iouPredictions], `decoder output "${t.iouPredictions}"`);
    const maskName = want[1];
    const mt = out[maskName];
    const masks = floatData(mt, `decoder output "${maskName}"`);
    const d = mt.dims;
    if (d.length !== 4) throw new Error(`decoder output "${maskName}" is [${d.join(',')}], expected rank 4`);
    const count = d[1];
    const size = d[3];
    if (d[2] !== size) throw new Error(`decoder output "${maskName}" is [${d.join(',')}]: masks must be square (set orig_im_size to S x S)`);
    // Several masks (multimask output): the one with the highest predicted IoU.
    let best = 0;
    for (let i = 1; i < count; i++) if (iou[i] > iou[best]) best = i;
    const plane = size * size;
    return { logits: masks.slice(best * plane, (best + 1) * plane), size, iou: iou[best] };
  }

  async release(): Promise<void> {
    await this.encoder.release();
    await this.decoder.release();
  }
}

/**
 * Checks the manifest against the graphs. Returns the mask input side and the tensor names as the graphs have
 * them (the encoder's filled in, optional ones the graphs lack set to null); the manifest is left as it is.
 */
function checkGraphs(m: SamManifest, encoder: GraphSession, decoder: GraphSession, file: string): { maskSize: number; tensors: SamManifest['tensors'] } {
  const fail = (msg: string): never => {
    throw new KeysliceError('INVALID_MODEL', msg, file);
  };
  const names = (l: readonly GraphValueInfo[]): string => l.map((x) => `"${x.name}"`).join(', ');
  const t = { ...m.tensors };
  const pick = (role: 'image' | 'embeddings', list: readonly GraphValueInfo[], what: string): GraphValueInfo => {
    if (!t[role]) {
      if (list.length !== 1) fail(`the encoder has ${list.length} ${what}s (${names(list)}); name the one to use in "tensors.${role}"`);
      t[role] = list[0].name;
    }
    const info = list.find((x) => x.name === t[role]);
    if (!info) fail(`the encoder has no ${what} "${t[role]}" (it has ${names(list)})`);
    return info as GraphValueInfo;
  };
  const image = pick('image', encoder.inputs, 'input');
  const emb = pick('embeddings', encoder.outputs, 'output');
  const S = m.inputSize;
  if (image.shape) {
    const s = image.shape;
    if (s.length !== 4) fail(`encoder input "${image.name}" has rank ${s.length} ${shapeText(s)}; expected [1,3,${S},${S}]`);
    if (numeric(s[1]) && s[1] !== 3) fail(`encoder input "${image.name}" is ${shapeText(s)}: expected 3 channels`);
    if ((numeric(s[2]) && s[2] !== S) || (numeric(s[3]) && s[3] !== S)) {
      fail(`encoder input "${image.name}" is ${shapeText(s)} but the manifest's inputSize is ${S}`);
    }
  }
  if (emb.shape && emb.shape.length !== 4) fail(`encoder output "${emb.name}" has rank ${emb.shape.length} ${shapeText(emb.shape)}; expected [1,C,h,w]`);
  // Decoder inputs: each named one must exist (an optional one left at its default name may be absent).
  const inputs = new Map(decoder.inputs.map((x) => [x.name, x]));
  const outputs = new Map(decoder.outputs.map((x) => [x.name, x]));
  const optionalIn = ['maskInput', 'hasMaskInput', 'origImSize'] as const;
  for (const role of optionalIn) {
    const n = t[role];
    if (n && !inputs.has(n)) {
      if (n === SAM_DEFAULT_TENSORS[role]) t[role] = null;
      else fail(`the decoder has no input "${n}" (tensors.${role}); it has ${names(decoder.inputs)}`);
    }
  }
  for (const role of ['imageEmbeddings', 'pointCoords', 'pointLabels'] as const) {
    if (!inputs.has(t[role])) fail(`the decoder has no input "${t[role]}" (tensors.${role}); it has ${names(decoder.inputs)}`);
  }
  const mapped = new Set([t.imageEmbeddings, t.pointCoords, t.pointLabels, t.maskInput, t.hasMaskInput, t.origImSize]);
  for (const x of decoder.inputs) if (!mapped.has(x.name)) fail(`decoder input "${x.name}" is not mapped to a role in "tensors"`);
  if ((t.maskInput === null) !== (t.hasMaskInput === null)) fail('"tensors.maskInput" and "tensors.hasMaskInput" go together: name both or neither');
  for (const role of ['lowResMasks', 'masks'] as const) {
    const n = t[role];
    if (n && !outputs.has(n)) {
      if (n === SAM_DEFAULT_TENSORS[role]) t[role] = null;
      else fail(`the decoder has no output "${n}" (tensors.${role}); it has ${names(decoder.outputs)}`);
    }
  }
  if (!t.lowResMasks && !t.masks) fail(`the decoder has neither "low_res_masks" nor "masks" among its outputs (${names(decoder.outputs)}); name its mask output`);
  if (t.masks && !t.lowResMasks && !t.origImSize) fail('with only "masks" as output the decoder needs an "orig_im_size" input to return them at the input size');
  if (!outputs.has(t.iouPredictions)) fail(`the decoder has no output "${t.iouPredictions}" (tensors.iouPredictions); it has ${names(decoder.outputs)}`);
  // Shapes: the embedding fed to the decoder must be what the encoder makes.
  const de = inputs.get(t.imageEmbeddings)?.shape;
  if (de && de.length !== 4) fail(`decoder input "${t.imageEmbeddings}" has rank ${de.length}; expected [1,C,h,w]`);
  if (de && emb.shape) {
    for (let i = 1; i < 4; i++) {
      if (numeric(de[i]) && numeric(emb.shape[i]) && de[i] !== emb.shape[i]) {
        fail(`encoder output "${emb.name}" is ${shapeText(emb.shape)} but decoder input "${t.imageEmbeddings}" is ${shapeText(de)}`);
      }
    }
  }
  const side = (de && numeric(de[3]) && de[3]) || (emb.shape && numeric(emb.shape[3]) && emb.shape[3]) || S / 16;
  let maskSize = 4 * side;
  if (t.maskInput) {
    const ms = inputs.get(t.maskInput)?.shape;
    if (ms) {
      if (ms.length !== 4) fail(`decoder input "${t.maskInput}" has rank ${ms.length}; expected [1,1,${maskSize},${maskSize}]`);
      if (numeric(ms[3])) {
        if (ms[3] !== maskSize && de && numeric(de[3])) fail(`decoder input "${t.maskInput}" is ${shapeText(ms)}; expected [1,1,${maskSize},${maskSize}] for a ${side} x ${side} embedding`);
        maskSize = ms[3];
      }
    }
  }
  const pc = inputs.get(t.pointCoords)?.shape;
  if (pc && (pc.length !== 3 || (numeric(pc[2]) && pc[2] !== 2))) fail(`decoder input "${t.pointCoords}" is ${shapeText(pc)}; expected [1,N,2]`);
  return { maskSize, tensors: t };
}
