/**
 * A SAM2-family model (MedSAM2, SAM2.1) split into ONNX graphs, on onnxruntime: the graphs and constants checked
 * against the manifest before anything runs, and one method per graph. Tensors are converted between the layouts
 * that exports use (feature maps [1,C,h,w] or token lists [HW,1,C]; memories as tokens [n*HW,1,M] or frames
 * [n,M,h,w]; object pointers split into C/M tokens [4k,1,M] or whole [k,C]), chosen from each graph's declared
 * ranks. Coordinates are in the model's S x S input frame.
 */
import { KeysliceError } from '../../util/errors.js';
import { floatData, type GraphSession, type GraphValueInfo, type OnnxRuntime, type OrtTensorLike } from '../onnx/runtime.js';
import { pointPrompt } from '../sam/model.js';
import { OPTIONAL_ROLES, OUTPUT_ROLES, type Sam2GraphName, type Sam2Manifest, type Sam2Tensors } from './manifest.js';

/** A 4D tensor's data with its dims. */
export interface Tensor4 {
  data: Float32Array;
  dims: [number, number, number, number];
}

/** The image encoder's outputs for one input. */
export interface Sam2Features {
  /** Backbone features [1,C,h,w] (without memory, without no_mem_embed). */
  pixFeat: Tensor4;
  highRes0: Tensor4 | null;
  highRes1: Tensor4 | null;
  /** Positional encoding as HW tokens of C values (token y * w + x). */
  pos: Float32Array;
}

export interface Sam2Prompt {
  /** Points in the input frame; label 1 object, 0 background. */
  points: { x: number; y: number; label: 0 | 1 }[];
  /** Box corners (x0, y0, x1, y1), input frame. */
  box?: [number, number, number, number];
  /** Dense mask prompt at 4h x 4w (logit scale), fed as mask_input. */
  maskInput?: Float32Array | null;
}

export interface Sam2Decoded {
  /** Candidate masks (logits at `size` x `size` over the input): 4 (single + 3), 3 or 1, as the graph returns. */
  masks: Float32Array[];
  size: number;
  /** Predicted IoU per candidate (1 when the graph has none). */
  iou: number[];
  /** Object pointer per candidate, or one for all. */
  pointers: Float32Array[];
  /** Object score logit (null when the graph has none). */
  objectScore: number | null;
}

export interface Sam2Memory {
  /** Memory features [1,M,h,w]. */
  features: Tensor4;
  /** Positional encoding as HW tokens of M values. */
  pos: Float32Array;
}

/** One memory frame for attention: its features and positional encoding with the temporal encoding added. */
export interface AttendMemory {
  features: Tensor4;
  pos: Float32Array;
}

export interface Constants {
  noMemEmbed: Float32Array;
  /** The pointer of a slice without the object (zeros when the export has none: a front ends there anyway). */
  noObjPtr: Float32Array;
  /** Rows of M values (null when the memory encoder outputs it). */
  maskmemTposEnc: Float32Array | null;
  noObjEmbedSpatial: Float32Array | null;
  maskDownsampleWeight: Float32Array | null;
  maskDownsampleBias: Float32Array | null;
  objPtrTposProjWeight: Float32Array | null;
  objPtrTposProjBias: Float32Array | null;
}

type Graphs = Partial<Record<Sam2GraphName, GraphSession>>;

function shapeText(s: readonly (number | string)[] | undefined): string {
  return s ? `[${s.join(',')}]` : '[?]';
}

const known = (d: number | string | undefined): d is number => typeof d === 'number' && d > 0;

/** Channel-major map [1,C,h,w] to tokens (HW tokens of C). */
export function mapToTokens(t: Tensor4): Float32Array {
  const [, c, h, w] = t.dims;
  const hw = h * w;
  const out = new Float32Array(hw * c);
  for (let ch = 0; ch < c; ch++) for (let i = 0; i < hw; i++) out[i * c + ch] = t.data[ch * hw + i];
  return out;
}

/** Tokens (HW of C) to a channel-major map [1,C,h,w]. */
export function tokensToMap(tokens: Float32Array, c: number, h: number, w: number): Tensor4 {
  const hw = h * w;
  const data = new Float32Array(hw * c);
  for (let ch = 0; ch < c; ch++) for (let i = 0; i < hw; i++) data[ch * hw + i] = tokens[i * c + ch];
  return { data, dims: [1, c, h, w] };
}

export class Sam2Model {
  private constructor(
    readonly manifest: Sam2Manifest,
    private readonly runtime: OnnxRuntime,
    private readonly graphs: Graphs,
    readonly constants: Constants,
    /** Side of the decoder's low-resolution masks (4 x the feature side). */
    readonly maskSize: number,
    /** Temporal encoding rows (numMaskmem) and memory channels (null only while the model is being loaded). */
    private readonly tpos: { rows: number; dim: number; data: Float32Array } | null,
  ) {}

  get name(): string {
    return this.manifest.name;
  }

  get settings() {
    return this.manifest.settings;
  }

  /** The input side S and the feature side S / 16. */
  get inputSize(): number {
    return this.manifest.inputSize;
  }

  /**
   * Loads the graphs and checks them; `file` names the manifest. A graph is read from its path in the manifest
   * (absolute by now in Node, a URL for onnxruntime-web) or taken from `sources` when given there.
   */
  static async load(
    manifest: Sam2Manifest,
    constants: Constants,
    runtime: OnnxRuntime,
    file: string,
    sources: Partial<Record<Sam2GraphName, Uint8Array>> = {},
  ): Promise<Sam2Model> {
    const graphs: Graphs = {};
    for (const [name, path] of Object.entries(manifest.graphs) as [Sam2GraphName, string | null][]) {
      if (!path) continue;
      try {
        graphs[name] = await runtime.load(sources[name] ?? path);
      } catch (e) {
        throw new KeysliceError('INVALID_MODEL', `the ${name} graph could not be loaded: ${(e as Error).message}`, path, { cause: e });
      }
    }
    const maskSize = checkGraphs(manifest, graphs, constants, file);
    let tpos: { rows: number; dim: number; data: Float32Array } | null = null;
    if (constants.maskmemTposEnc) {
      const rows = manifest.numMaskmemGiven ? manifest.settings.numMaskmem : 7;
      if (constants.maskmemTposEnc.length % rows !== 0) {
        throw new KeysliceError('INVALID_MODEL', `constants.maskmemTposEnc holds ${constants.maskmemTposEnc.length} values, not ${rows} rows`, file);
      }
      tpos = { rows, dim: constants.maskmemTposEnc.length / rows, data: constants.maskmemTposEnc };
    } else if (manifest.tensors.memoryEncoder.temporalCode) {
      // The table is an output of the memory encoder: read it once now, from a run on empty features.
      const probe = new Sam2Model(manifest, runtime, graphs, constants, maskSize, null);
      const h = manifest.inputSize / 16;
      const c = constants.noMemEmbed.length;
      tpos = (await probe.runMemoryEncoder({ data: new Float32Array(c * h * h), dims: [1, c, h, h] }, new Float32Array(manifest.inputSize ** 2), 1)).temporal;
    }
    // The model keeps its own copy of the manifest, with numMaskmem as the temporal table says; nothing changes it after.
    const own: Sam2Manifest = { ...manifest, settings: Object.freeze({ ...manifest.settings, ...(tpos ? { numMaskmem: tpos.rows } : {}) }) };
    return new Sam2Model(Object.freeze(own), runtime, graphs, constants, maskSize, tpos);
  }

  private names<G extends keyof Sam2Tensors>(g: G): Sam2Tensors[G] {
    return this.manifest.tensors[g];
  }

  private info(g: Sam2GraphName, name: string): GraphValueInfo | undefined {
    return this.graphs[g]?.inputs.find((x) => x.name === name);
  }

  /** A feed for input `name` of graph `g` from float values, in the element type the graph declares. */
  private feed(g: Sam2GraphName, name: string, values: ArrayLike<number>, dims: readonly number[]): OrtTensorLike {
    const type = this.info(g, name)?.type ?? 'float32';
    if (type === 'int32') return this.runtime.tensor('int32', Int32Array.from(values, (x) => Math.round(x)), dims);
    if (type === 'int64') return this.runtime.tensor('int64', BigInt64Array.from(Array.from(values, (x) => BigInt(Math.round(x)))), dims);
    if (type === 'bool') return this.runtime.tensor('bool', Uint8Array.from(values, (x) => (x ? 1 : 0)), dims);
    return this.runtime.float32(values instanceof Float32Array ? values : Float32Array.from(values), dims);
  }

  private rank(g: Sam2GraphName, name: string): number | undefined {
    return this.info(g, name)?.shape?.length;
  }

  private async run(g: Sam2GraphName, feeds: Record<string, OrtTensorLike>): Promise<Record<string, OrtTensorLike>> {
    const graph = this.graphs[g];
    if (!graph) throw new Error(`the model has no ${g} graph`);
    return graph.run(feeds);
  }

  /** The image encoder on a preprocessed input (3 x S x S, channel-major). */
  async encodeImage(image: Float32Array): Promise<Sam2Features> {
    const t = this.names('imageEncoder');
    const S = this.inputSize;
    const out = await this.run('imageEncoder', { [t.image as string]: this.runtime.float32(image, [1, 3, S, S]) });
    const map = (role: 'pixFeat' | 'highResFeats0' | 'highResFeats1'): Tensor4 | null => {
      const name = t[role];
      if (!name) return null;
      const x = out[name];
      const data = floatData(x, `image encoder output "${name}"`);
      const d = x.dims;
      if (d.length !== 4) throw new Error(`image encoder output "${name}" is [${d.join(',')}], expected [1,C,h,w]`);
      return { data, dims: [d[0], d[1], d[2], d[3]] };
    };
    const pixFeat = map('pixFeat') as Tensor4;
    const [, c, h, w] = pixFeat.dims;
    if (h !== S / 16 || w !== S / 16) throw new Error(`image encoder output "${t.pixFeat}" is [${pixFeat.dims.join(',')}]; expected [1,C,${S / 16},${S / 16}] for input ${S}`);
    const posT = out[t.visionPosEmbed as string];
    const posData = floatData(posT, `image encoder output "${t.visionPosEmbed}"`);
    const pos = posT.dims.length === 4 ? mapToTokens({ data: posData, dims: [1, posT.dims[1], posT.dims[2], posT.dims[3]] }) : posData;
    if (pos.length !== h * w * c) throw new Error(`image encoder output "${t.visionPosEmbed}" holds ${pos.length} values; expected ${h * w} tokens of ${c}`);
    return { pixFeat, highRes0: map('highResFeats0'), highRes1: map('highResFeats1'), pos };
  }

  /** The mask decoder on image features (with memory or no_mem_embed already in `embed`). */
  async decode(embed: Tensor4, f: Sam2Features, prompt: Sam2Prompt): Promise<Sam2Decoded> {
    const t = this.names('maskDecoder');
    const { coords, labels } = pointPrompt(prompt.points, prompt.box);
    if (labels.length === 0) {
      // No prompt: one padding point, as SAM2 pads.
      coords.push(0, 0);
      labels.push(-1);
    }
    const n = labels.length;
    const M = this.maskSize;
    const feeds: Record<string, OrtTensorLike> = {
      [t.imageEmbed as string]: this.runtime.float32(embed.data, embed.dims),
      [t.pointCoords as string]: this.feed('maskDecoder', t.pointCoords as string, coords, [1, n, 2]),
      [t.pointLabels as string]: this.feed('maskDecoder', t.pointLabels as string, labels, [1, n]),
    };
    if (t.highResFeats0 && f.highRes0) feeds[t.highResFeats0] = this.runtime.float32(f.highRes0.data, f.highRes0.dims);
    if (t.highResFeats1 && f.highRes1) feeds[t.highResFeats1] = this.runtime.float32(f.highRes1.data, f.highRes1.dims);
    if (t.maskInput && t.hasMaskInput) {
      const has = !!prompt.maskInput;
      feeds[t.maskInput] = this.runtime.float32(has ? (prompt.maskInput as Float32Array) : new Float32Array(M * M), [1, 1, M, M]);
      feeds[t.hasMaskInput] = this.feed('maskDecoder', t.hasMaskInput, [has ? 1 : 0], [1]);
    } else if (prompt.maskInput) {
      throw new Error('the mask decoder takes no mask_input');
    }
    if (t.frameSize) feeds[t.frameSize] = this.feed('maskDecoder', t.frameSize, [M, M], [2]);
    const out = await this.run('maskDecoder', feeds);
    const mt = out[t.lowResMasks as string];
    const masksData = floatData(mt, `mask decoder output "${t.lowResMasks}"`);
    const d = mt.dims;
    const size = d[d.length - 1];
    const plane = size * size;
    const count = masksData.length / plane;
    if (d[d.length - 2] !== size || !Number.isInteger(count)) throw new Error(`mask decoder output "${t.lowResMasks}" is [${d.join(',')}]; expected square masks`);
    const masks = Array.from({ length: count }, (_, i) => masksData.slice(i * plane, (i + 1) * plane));
    const iou = t.iouPred ? Array.from(floatData(out[t.iouPred], `mask decoder output "${t.iouPred}"`)) : new Array<number>(count).fill(1);
    const ptrData = floatData(out[t.objPtr as string], `mask decoder output "${t.objPtr}"`);
    const c = this.constants.noObjPtr.length;
    if (ptrData.length % c !== 0) throw new Error(`mask decoder output "${t.objPtr}" holds ${ptrData.length} values, not pointers of ${c}`);
    const pointers = Array.from({ length: ptrData.length / c }, (_, i) => ptrData.slice(i * c, (i + 1) * c));
    const objectScore = t.objectScoreLogits ? floatData(out[t.objectScoreLogits], `mask decoder output "${t.objectScoreLogits}"`)[0] : null;
    return { masks, size, iou, pointers, objectScore };
  }

  /** The memory encoder: features [1,C,h,w] without memory, mask_for_mem at S x S, the object score. */
  async encodeMemory(pixFeat: Tensor4, maskForMem: Float32Array, objectScore: number): Promise<Sam2Memory> {
    const { features, pos } = await this.runMemoryEncoder(pixFeat, maskForMem, objectScore);
    return { features, pos };
  }

  /** One memory encoder run: the memory, and the temporal table when the graph outputs it. */
  private async runMemoryEncoder(
    pixFeat: Tensor4,
    maskForMem: Float32Array,
    objectScore: number,
  ): Promise<Sam2Memory & { temporal: { rows: number; dim: number; data: Float32Array } | null }> {
    const t = this.names('memoryEncoder');
    const S = this.inputSize;
    const feeds: Record<string, OrtTensorLike> = {
      [t.pixFeat as string]: this.runtime.float32(pixFeat.data, pixFeat.dims),
      [t.maskForMem as string]: this.runtime.float32(maskForMem, [1, 1, S, S]),
    };
    if (t.objectScoreLogits) feeds[t.objectScoreLogits] = this.feed('memoryEncoder', t.objectScoreLogits, [objectScore], [1, 1]);
    const out = await this.run('memoryEncoder', feeds);
    const ft = out[t.maskmemFeatures as string];
    const fd = floatData(ft, `memory encoder output "${t.maskmemFeatures}"`);
    const [, , h, w] = pixFeat.dims;
    const m = fd.length / (h * w);
    if (!Number.isInteger(m)) throw new Error(`memory encoder output "${t.maskmemFeatures}" is [${ft.dims.join(',')}]; expected [1,M,${h},${w}]`);
    const features: Tensor4 = { data: fd, dims: [1, m, h, w] };
    if (!t.objectScoreLogits && this.constants.noObjEmbedSpatial && objectScore <= 0) {
      // The graph cannot tell an absent object: add the no-object embedding here, as SAM2 does.
      const e = this.constants.noObjEmbedSpatial;
      const hw = h * w;
      for (let ch = 0; ch < m; ch++) for (let i = 0; i < hw; i++) fd[ch * hw + i] += e[ch];
    }
    const pt = out[t.maskmemPosEnc as string];
    const pd = floatData(pt, `memory encoder output "${t.maskmemPosEnc}"`);
    const pos = pt.dims.length === 4 ? mapToTokens({ data: pd, dims: [1, pt.dims[1], pt.dims[2], pt.dims[3]] }) : pd;
    let temporal: { rows: number; dim: number; data: Float32Array } | null = null;
    if (t.temporalCode) {
      const tc = floatData(out[t.temporalCode], `memory encoder output "${t.temporalCode}"`);
      temporal = { rows: tc.length / m, dim: m, data: tc.slice() };
    }
    return { features, pos, temporal };
  }

  /** Row `i` of the temporal encoding of memories (M values). */
  temporalEncoding(i: number): Float32Array {
    if (!this.tpos) throw new Error('no temporal encoding of memories: give constants.maskmemTposEnc or tensors.memoryEncoder.temporalCode');
    if (i < 0 || i >= this.tpos.rows) throw new Error(`temporal encoding row ${i} out of 0..${this.tpos.rows - 1}`);
    return this.tpos.data.subarray(i * this.tpos.dim, (i + 1) * this.tpos.dim);
  }

  /** The pointers' temporal encodings: sine encodings (C values each) projected to M (or M-dimensional sines). */
  async pointerEncoding(sines: Float32Array, count: number, memDim: number): Promise<Float32Array> {
    const c = this.constants.noObjPtr.length;
    if (count === 0) return new Float32Array(0);
    const { objPtrTposProjWeight: W, objPtrTposProjBias: B } = this.constants;
    if (W && B) {
      const out = new Float32Array(count * memDim);
      for (let n = 0; n < count; n++) {
        for (let o = 0; o < memDim; o++) {
          let s = B[o];
          for (let i = 0; i < c; i++) s += W[o * c + i] * sines[n * c + i];
          out[n * memDim + o] = s;
        }
      }
      return out;
    }
    const g = this.graphs.objPtrTposProj;
    if (g) {
      const r = await g.run({ [g.inputs[0].name]: this.runtime.float32(sines, [count, c]) });
      return floatData(r[g.outputs[0].name], 'objPtrTposProj output');
    }
    return sines;
  }

  /** Whether pointer positions are projected from C-dimensional sines (else M-dimensional sines are used as they are). */
  get projectsPointerPositions(): boolean {
    return !!(this.constants.objPtrTposProjWeight || this.graphs.objPtrTposProj);
  }

  /** SAM2's mask_downsample (conv 4 x 4, stride 4) of a mask at S x S: the dense prompt at S/4 x S/4. */
  async maskDownsample(maskS: Float32Array): Promise<Float32Array> {
    const S = this.inputSize;
    const { maskDownsampleWeight: W, maskDownsampleBias: B } = this.constants;
    if (W && B) {
      const q = S / 4;
      const out = new Float32Array(q * q);
      for (let y = 0; y < q; y++) {
        for (let x = 0; x < q; x++) {
          let s = B[0];
          for (let ky = 0; ky < 4; ky++) for (let kx = 0; kx < 4; kx++) s += W[ky * 4 + kx] * maskS[4 * x + kx + S * (4 * y + ky)];
          out[x + q * y] = s;
        }
      }
      return out;
    }
    const g = this.graphs.maskDownsample;
    if (!g) throw new Error('no mask downsampling: give graphs.maskDownsample or constants.maskDownsampleWeight/Bias');
    const r = await g.run({ [g.inputs[0].name]: this.runtime.float32(maskS, [1, 1, S, S]) });
    return floatData(r[g.outputs[0].name], 'maskDownsample output');
  }

  /** Whether a drawn mask can prompt the decoder (mask input and its downsampling are available). */
  get takesMaskPrompts(): boolean {
    const t = this.names('maskDecoder');
    return !!(t.maskInput && (this.constants.maskDownsampleWeight || this.graphs.maskDownsample));
  }

  /**
   * Memory attention: the current features conditioned on memories (temporal encodings already added to their
   * positions) and object pointers (their position encodings, M values each). Returns [1,C,h,w].
   */
  async attend(f: Sam2Features, memories: AttendMemory[], pointers: Float32Array[], pointerPos: Float32Array): Promise<Tensor4> {
    const t = this.names('memoryAttention');
    const g = 'memoryAttention';
    const [, c, h, w] = f.pixFeat.dims;
    const hw = h * w;
    const m = memories.length ? memories[0].features.dims[1] : this.tpos?.dim ?? 64;
    const split = c / m;
    // Current features, with no_mem_embed when the graph subtracts it.
    let curr = mapToTokens(f.pixFeat);
    if (this.settings.currIncludesNoMemEmbed) {
      curr = curr.slice();
      const e = this.constants.noMemEmbed;
      for (let i = 0; i < hw; i++) for (let ch = 0; ch < c; ch++) curr[i * c + ch] += e[ch];
    }
    const feeds: Record<string, OrtTensorLike> = {};
    const currName = t.curr as string;
    feeds[currName] = this.rank(g, currName) === 4 ? this.runtime.float32(tokensToMap(curr, c, h, w).data, [1, c, h, w]) : this.runtime.float32(curr, [hw, 1, c]);
    feeds[t.currPos as string] = this.runtime.float32(f.pos, [hw, 1, c]);
    // Spatial memories: tokens [n*HW,1,M] or frames [n,M,h,w].
    const memName = t.memory as string;
    const n = memories.length;
    if (this.rank(g, memName) === 4) {
      const frames = new Float32Array(n * m * hw);
      memories.forEach((x, i) => frames.set(x.features.data, i * m * hw));
      feeds[memName] = this.runtime.float32(frames, [n, m, h, w]);
    } else {
      const tokens = new Float32Array(n * hw * m);
      memories.forEach((x, i) => tokens.set(mapToTokens(x.features), i * hw * m));
      feeds[memName] = this.runtime.float32(tokens, [n * hw, 1, m]);
    }
    // Pointers: split into C/M tokens [4k,1,M], or whole [k,C].
    const k = pointers.length;
    const ptrTokens = new Float32Array(k * c);
    pointers.forEach((p, i) => ptrTokens.set(p, i * c));
    const posTokens = new Float32Array(k * split * m);
    for (let i = 0; i < k; i++) for (let j = 0; j < split; j++) posTokens.set(pointerPos.subarray(i * m, (i + 1) * m), (i * split + j) * m);
    const memPos = new Float32Array(n * hw * m + (t.objPtrPos ? 0 : k * split * m));
    memories.forEach((x, i) => memPos.set(x.pos, i * hw * m));
    if (!t.objPtrPos) memPos.set(posTokens, n * hw * m);
    feeds[t.memoryPos as string] = this.runtime.float32(memPos, [memPos.length / m, 1, m]);
    if (t.objPtrTokens) {
      feeds[t.objPtrTokens] = this.rank(g, t.objPtrTokens) === 2 ? this.runtime.float32(ptrTokens, [k, c]) : this.runtime.float32(ptrTokens, [k * split, 1, m]);
    }
    if (t.objPtrPos) feeds[t.objPtrPos] = this.runtime.float32(posTokens, [k * split, 1, m]);
    if (t.memoryMask) feeds[t.memoryMask] = this.feed(g, t.memoryMask, new Array<number>(n * hw).fill(1), [n * hw, 1]);
    if (t.objPtrMask) feeds[t.objPtrMask] = this.feed(g, t.objPtrMask, new Array<number>(k * split).fill(1), [k * split, 1]);
    if (t.numObjPtrs) feeds[t.numObjPtrs] = this.feed(g, t.numObjPtrs, [k], [1]);
    const out = await this.run(g, feeds);
    const o = out[t.pixFeatWithMem as string];
    const od = floatData(o, `memory attention output "${t.pixFeatWithMem}"`);
    if (od.length !== c * hw) throw new Error(`memory attention output "${t.pixFeatWithMem}" is [${o.dims.join(',')}]; expected ${c} x ${h} x ${w}`);
    return o.dims.length === 4 ? { data: od, dims: [1, c, h, w] } : tokensToMap(od, c, h, w);
  }

  async release(): Promise<void> {
    for (const g of Object.values(this.graphs)) await g?.release();
  }
}

/** Checks every graph against the manifest (named tensors exist, every input has a role, ranks and sizes). */
function checkGraphs(m: Sam2Manifest, graphs: Graphs, c: Constants, file: string): number {
  const fail = (msg: string): never => {
    throw new KeysliceError('INVALID_MODEL', msg, file);
  };
  const list = (l: readonly GraphValueInfo[]): string => l.map((x) => `"${x.name}"`).join(', ');
  const S = m.inputSize;
  const h = S / 16;
  for (const g of Object.keys(m.tensors) as (keyof Sam2Tensors)[]) {
    const graph = graphs[g] as GraphSession;
    const roles = m.tensors[g] as Record<string, string | null>;
    const outputsOf = new Set(OUTPUT_ROLES[g]);
    const mapped = new Set<string>();
    for (const [role, name] of Object.entries(roles)) {
      if (!name) continue;
      const isOut = outputsOf.has(role);
      const pool = isOut ? graph.outputs : graph.inputs;
      if (!pool.some((x) => x.name === name)) {
        fail(`the ${g} graph has no ${isOut ? 'output' : 'input'} "${name}" (tensors.${g}.${role}${OPTIONAL_ROLES[g].includes(role) ? ', or null if it has none' : ''}); its ${isOut ? 'outputs' : 'inputs'}: ${list(pool)}`);
      }
      if (!isOut) mapped.add(name);
    }
    for (const x of graph.inputs) if (!mapped.has(x.name)) fail(`input "${x.name}" of the ${g} graph is not mapped to a role in "tensors.${g}"`);
  }
  const shape = (g: Sam2GraphName, name: string | null, out = false): readonly (number | string)[] | undefined =>
    name ? (out ? graphs[g]?.outputs : graphs[g]?.inputs)?.find((x) => x.name === name)?.shape : undefined;
  const rank = (g: Sam2GraphName, role: string, name: string | null, allowed: number[], out = false): void => {
    const s = shape(g, name, out);
    if (s && !allowed.includes(s.length)) fail(`${g} ${out ? 'output' : 'input'} "${name}" (${role}) is ${shapeText(s)}: rank ${s.length}, expected rank ${allowed.join(' or ')}`);
  };
  const t = m.tensors;
  const img = shape('imageEncoder', t.imageEncoder.image);
  if (img) {
    if (img.length !== 4) fail(`image encoder input "${t.imageEncoder.image}" is ${shapeText(img)}; expected [1,3,${S},${S}]`);
    if (known(img[1]) && img[1] !== 3) fail(`image encoder input "${t.imageEncoder.image}" is ${shapeText(img)}: expected 3 channels`);
    if ((known(img[2]) && img[2] !== S) || (known(img[3]) && img[3] !== S)) fail(`image encoder input "${t.imageEncoder.image}" is ${shapeText(img)} but the manifest's inputSize is ${S}`);
  }
  const pf = shape('imageEncoder', t.imageEncoder.pixFeat, true);
  rank('imageEncoder', 'pixFeat', t.imageEncoder.pixFeat, [4], true);
  if (pf && ((known(pf[2]) && pf[2] !== h) || (known(pf[3]) && pf[3] !== h))) fail(`image encoder output "${t.imageEncoder.pixFeat}" is ${shapeText(pf)}; expected [1,C,${h},${h}] for inputSize ${S}`);
  const C = pf && known(pf[1]) ? pf[1] : c.noMemEmbed.length;
  if (c.noMemEmbed.length !== C) fail(`constants.noMemEmbed holds ${c.noMemEmbed.length} values; the features have ${C} channels`);
  if (c.noObjPtr.length !== C) fail(`constants.noObjPtr holds ${c.noObjPtr.length} values; pointers have ${C}`);
  rank('imageEncoder', 'visionPosEmbed', t.imageEncoder.visionPosEmbed, [3, 4], true);
  rank('maskDecoder', 'imageEmbed', t.maskDecoder.imageEmbed, [4]);
  rank('maskDecoder', 'pointCoords', t.maskDecoder.pointCoords, [3]);
  rank('maskDecoder', 'pointLabels', t.maskDecoder.pointLabels, [2]);
  let maskSize = 4 * h;
  const mi = shape('maskDecoder', t.maskDecoder.maskInput);
  if (mi) {
    if (mi.length !== 4) fail(`mask decoder input "${t.maskDecoder.maskInput}" is ${shapeText(mi)}; expected [1,1,${4 * h},${4 * h}]`);
    if (known(mi[3]) && mi[3] !== 4 * h) fail(`mask decoder input "${t.maskDecoder.maskInput}" is ${shapeText(mi)}; expected [1,1,${4 * h},${4 * h}] for inputSize ${S}`);
  }
  const lr = shape('maskDecoder', t.maskDecoder.lowResMasks, true);
  rank('maskDecoder', 'lowResMasks', t.maskDecoder.lowResMasks, [4], true);
  if (lr && known(lr[3])) maskSize = lr[3];
  const ms = shape('memoryEncoder', t.memoryEncoder.maskForMem);
  if (ms && (ms.length !== 4 || (known(ms[3]) && ms[3] !== S))) fail(`memory encoder input "${t.memoryEncoder.maskForMem}" is ${shapeText(ms)}; expected [1,1,${S},${S}]`);
  rank('memoryEncoder', 'pixFeat', t.memoryEncoder.pixFeat, [4]);
  rank('memoryAttention', 'curr', t.memoryAttention.curr, [3, 4]);
  rank('memoryAttention', 'memory', t.memoryAttention.memory, [3, 4]);
  rank('memoryAttention', 'memoryPos', t.memoryAttention.memoryPos, [3]);
  rank('memoryAttention', 'objPtrTokens', t.memoryAttention.objPtrTokens, [2, 3]);
  if (!c.maskmemTposEnc && !t.memoryEncoder.temporalCode) fail('the temporal encoding of memories is missing: give constants.maskmemTposEnc or name the memory encoder output that holds it (tensors.memoryEncoder.temporalCode)');
  const dw = c.maskDownsampleWeight;
  if (dw && (dw.length !== 16 || c.maskDownsampleBias?.length !== 1)) fail('constants.maskDownsampleWeight/Bias must hold a 4 x 4 kernel and one bias (SAM2\'s mask_downsample)');
  const pw = c.objPtrTposProjWeight;
  if (pw && c.objPtrTposProjBias && pw.length !== c.objPtrTposProjBias.length * C) {
    fail(`constants.objPtrTposProjWeight holds ${pw.length} values; expected ${c.objPtrTposProjBias.length} x ${C} (memory channels x feature channels)`);
  }
  return maskSize;
}
