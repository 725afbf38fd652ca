/**
 * Tiny SAM2-family graphs (onnx-proto) and constants for the medsam2 engine's tests: input S = 128, features
 * [1,8,8,8] (C = 8), memories of M = 2 channels (a pointer is 4 tokens of 2), low-resolution masks 32 x 32.
 * Their arithmetic is simple enough that a test can predict every value the engine passes around:
 * - image encoder: pix_feat channel 0 = the mean of each 16 x 16 block of input channel 0 (with mean 0 / std 255
 *   normalisation, the windowed brightness in [0, 1]); other channels 0; high-res features are block means too;
 *   vision_pos_embed is the constant `POS_EMBED`.
 * - mask decoder: every candidate mask = 20 (up4(embed ch 0) - 0.5) + 0.25 has_mask x mask_input; iou_pred =
 *   `IOU`; obj_ptr token k = 100 (k + 1) + channel + mean(embed ch 0) + mean(has_mask x mask_input); object
 *   score = 20 (max(embed ch 0) - 0.5).
 * - memory encoder: maskmem_features = [16 x 16 block means of mask_for_mem, pix_feat ch 0 + object score];
 *   maskmem_pos_enc = the constant `MEM_POS`.
 * - memory attention: pix_feat_with_mem = curr (as a map) + 0 x (sums of every other input), so masks follow the
 *   image while every input must be well formed.
 * `variant: 'frames'` writes graphs in another export layout: memories as frames [n,M,h,w], whole pointers [k,C]
 * with their encodings appended to memory_pos, the current feature with no_mem_embed added (the graph subtracts
 * it), the temporal table as a memory-encoder output, no object score and no mask input.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import onnxProto from 'onnx-proto';
import { encodeNpy } from '../../src/models/npy.js';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

export const S = 128;
export const C = 8;
export const M = 2;
export const H = S / 16;
export const HW = H * H;
export const LOW = 4 * H;
export const IOU = [0.5, 0.7, 0.9, 0.8];
/** vision_pos_embed: token i, channel c. */
export const POS_EMBED = Float32Array.from({ length: HW * C }, (_, i) => 0.001 * i);
/** maskmem_pos_enc as a [1,M,h,w] map. */
export const MEM_POS = Float32Array.from({ length: M * HW }, (_, i) => 0.01 * (i + 1));
export const NO_MEM_EMBED = Float32Array.from({ length: C }, (_, c) => (c === 0 ? 0 : 0.5 * c));
export const NO_OBJ_PTR = Float32Array.from({ length: C }, (_, c) => -(c + 1));
/** Temporal encodings: row r = [r + 1, 10 (r + 1)]. */
export const TPOS = Float32Array.from({ length: 7 * M }, (_, i) => (Math.floor(i / M) + 1) * (i % M === 0 ? 1 : 10));
/** Pointer-position projection: out 0 = sum of the sines, out 1 = the first sine; biases 0.5 and -0.5. */
export const PROJ_W = Float32Array.from({ length: M * C }, (_, i) => (i < C ? 1 : i === C ? 1 : 0));
export const PROJ_B = Float32Array.of(0.5, -0.5);

type Dim = number | string;

function valueInfo(name: string, dims: Dim[], type = FLOAT) {
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType: type, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  });
}
function floats(name: string, dims: number[], values: ArrayLike<number>) {
  return onnx.TensorProto.create({ name, dims, dataType: FLOAT, floatData: Array.from(values) });
}
function ints(name: string, values: number[]) {
  return onnx.TensorProto.create({ name, dims: [values.length], dataType: INT64, int64Data: values });
}
function attrInts(name: string, v: number[]) {
  return onnx.AttributeProto.create({ name, ints: v, type: onnx.AttributeProto.AttributeType.INTS });
}
function attrInt(name: string, i: number) {
  return onnx.AttributeProto.create({ name, i, type: onnx.AttributeProto.AttributeType.INT });
}
function attrString(name: string, s: string) {
  return onnx.AttributeProto.create({ name, s: new TextEncoder().encode(s), type: onnx.AttributeProto.AttributeType.STRING });
}
function node(opType: string, input: string[], output: string[], attribute: ReturnType<typeof attrInt>[] = []) {
  return onnx.NodeProto.create({ opType, input, output, attribute });
}
function model(graph: InstanceType<typeof onnx.GraphProto>): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 7, opsetImport: [{ domain: '', version: 13 }], producerName: 'keyslice-tests', graph })).finish();
}
/** Sum of all values times zero: a scalar 0 that depends on `input`. */
function zeroOf(input: string, out: string) {
  return [node('ReduceSum', [input], [`${out}_s`], [attrInt('keepdims', 0)]), node('Mul', [`${out}_s`, 'zero'], [out])];
}

export interface Sam2GraphOptions {
  variant?: 'contract' | 'frames';
  /** Declared image input side (default S; another value makes a mismatch). */
  imageSide?: number;
  /** Name of the encoder's feature output (default pix_feat). */
  pixFeatName?: string;
}

function imageEncoder(o: Sam2GraphOptions): Uint8Array {
  const nodes = [
    node('Slice', ['image', 'st0', 'en1', 'ax1'], ['ch0']),
    node('AveragePool', ['ch0'], ['b16'], [attrInts('kernel_shape', [16, 16]), attrInts('strides', [16, 16])]),
    node('Pad', ['b16', 'pad7'], [o.pixFeatName ?? 'pix_feat']),
    node('AveragePool', ['ch0'], ['b4'], [attrInts('kernel_shape', [4, 4]), attrInts('strides', [4, 4])]),
    node('Pad', ['b4', 'pad1'], ['high_res_feats_0']),
    node('AveragePool', ['ch0'], ['b8'], [attrInts('kernel_shape', [8, 8]), attrInts('strides', [8, 8])]),
    node('Pad', ['b8', 'pad1'], ['high_res_feats_1']),
    node('Identity', ['pos_const'], ['vision_pos_embed']),
  ];
  const side = o.imageSide ?? S;
  return model(
    onnx.GraphProto.create({
      name: 'image_encoder',
      node: nodes,
      input: [valueInfo('image', [1, 3, side, side])],
      output: [
        valueInfo(o.pixFeatName ?? 'pix_feat', [1, C, H, H]),
        valueInfo('high_res_feats_0', [1, 2, 4 * H, 4 * H]),
        valueInfo('high_res_feats_1', [1, 2, 2 * H, 2 * H]),
        valueInfo('vision_pos_embed', [HW, 1, C]),
      ],
      initializer: [
        ints('st0', [0]),
        ints('en1', [1]),
        ints('ax1', [1]),
        ints('pad7', [0, 0, 0, 0, 0, C - 1, 0, 0]),
        ints('pad1', [0, 0, 0, 0, 0, 1, 0, 0]),
        floats('pos_const', [HW, 1, C], POS_EMBED),
      ],
    }),
  );
}

function maskDecoder(o: Sam2GraphOptions): Uint8Array {
  const frames = o.variant === 'frames';
  const nodes = [
    node('Slice', ['image_embed', 'st0', 'en1', 'ax1'], ['e0']),
    node('Resize', ['e0', '', 'scales'], ['up'], [attrString('mode', 'linear')]),
    node('Sub', ['up', 'half'], ['centred']),
    node('Mul', ['centred', 'gain'], ['base0']),
    ...zeroOf('high_res_feats_0', 'z0'),
    ...zeroOf('high_res_feats_1', 'z1'),
    ...zeroOf('point_coords', 'z2'),
    ...zeroOf('point_labels', 'z3'),
    node('Add', ['z0', 'z1'], ['z01']),
    node('Add', ['z2', 'z3'], ['z23']),
    node('Add', ['z01', 'z23'], ['zall']),
    node('ReduceMean', ['e0'], ['emean'], [attrInt('keepdims', 0)]),
    node('ReduceMax', ['e0'], ['emax'], [attrInt('keepdims', 0)]),
  ];
  if (frames) {
    nodes.push(node('Add', ['base0', 'zall'], ['base']), node('Add', ['ptr_const1', 'emean'], ['obj_ptr']), node('Identity', ['base'], ['pred_mask']));
  } else {
    nodes.push(
      node('Mul', ['mask_input', 'has_mask_input'], ['gated']),
      node('Mul', ['gated', 'quarter'], ['mterm']),
      node('Add', ['base0', 'mterm'], ['base1']),
      node('Add', ['base1', 'zall'], ['base']),
      node('Concat', ['base', 'base', 'base', 'base'], ['low_res_masks'], [attrInt('axis', 1)]),
      node('Identity', ['iou_const'], ['iou_pred']),
      node('ReduceMean', ['gated'], ['gmean'], [attrInt('keepdims', 0)]),
      node('Add', ['ptr_const', 'emean'], ['p1']),
      node('Add', ['p1', 'gmean'], ['obj_ptr']),
      node('Sub', ['emax', 'half'], ['sc0']),
      node('Mul', ['sc0', 'gain'], ['sc1']),
      node('Reshape', ['sc1', 'shape11'], ['object_score_logits']),
    );
  }
  const inputs = [
    valueInfo('image_embed', [1, C, H, H]),
    valueInfo('high_res_feats_0', [1, 2, 4 * H, 4 * H]),
    valueInfo('high_res_feats_1', [1, 2, 2 * H, 2 * H]),
    valueInfo('point_coords', [1, 'n', 2]),
    valueInfo('point_labels', [1, 'n']),
  ];
  if (!frames) inputs.push(valueInfo('mask_input', [1, 1, LOW, LOW]), valueInfo('has_mask_input', [1]));
  const outputs = frames
    ? [valueInfo('obj_ptr', [1, C]), valueInfo('pred_mask', [1, 1, LOW, LOW])]
    : [valueInfo('low_res_masks', [1, 4, LOW, LOW]), valueInfo('iou_pred', [1, 4]), valueInfo('obj_ptr', [1, 4, C]), valueInfo('object_score_logits', [1, 1])];
  return model(
    onnx.GraphProto.create({
      name: 'mask_decoder',
      node: nodes,
      input: inputs,
      output: outputs,
      initializer: [
        ints('st0', [0]),
        ints('en1', [1]),
        ints('ax1', [1]),
        floats('scales', [4], [1, 1, 4, 4]),
        floats('half', [], [0.5]),
        floats('gain', [], [20]),
        floats('zero', [], [0]),
        ...(frames
          ? [floats('ptr_const1', [1, C], Array.from({ length: C }, (_, i) => 100 + i))]
          : [
              ints('shape11', [1, 1]),
              floats('quarter', [], [0.25]),
              floats('iou_const', [1, 4], IOU),
              floats('ptr_const', [1, 4, C], Array.from({ length: 4 * C }, (_, i) => 100 * (Math.floor(i / C) + 1) + (i % C))),
            ]),
      ],
    }),
  );
}

function memoryEncoder(o: Sam2GraphOptions): Uint8Array {
  const frames = o.variant === 'frames';
  const nodes = [
    node('AveragePool', ['mask_for_mem'], ['mm'], [attrInts('kernel_shape', [16, 16]), attrInts('strides', [16, 16])]),
    node('Slice', ['pix_feat', 'st0', 'en1', 'ax1'], ['p0']),
  ];
  if (frames) {
    nodes.push(
      node('Concat', ['mm', 'p0'], ['maskmem_features'], [attrInt('axis', 1)]),
      node('Identity', ['pos_tokens'], ['maskmem_pos_enc']),
      node('Identity', ['tpos_const'], ['temporal_code']),
    );
  } else {
    nodes.push(
      node('Reshape', ['object_score_logits', 'shape1111'], ['s4']),
      node('Add', ['p0', 's4'], ['p0s']),
      node('Concat', ['mm', 'p0s'], ['maskmem_features'], [attrInt('axis', 1)]),
      node('Identity', ['pos_const'], ['maskmem_pos_enc']),
    );
  }
  const inputs = [valueInfo('pix_feat', [1, C, H, H]), valueInfo('mask_for_mem', [1, 1, S, S])];
  if (!frames) inputs.push(valueInfo('object_score_logits', [1, 1]));
  // The frames layout gives the positional encoding as tokens [HW,1,M] and the temporal table as an output.
  const posTokens = new Float32Array(HW * M);
  for (let ch = 0; ch < M; ch++) for (let i = 0; i < HW; i++) posTokens[i * M + ch] = MEM_POS[ch * HW + i];
  return model(
    onnx.GraphProto.create({
      name: 'memory_encoder',
      node: nodes,
      input: inputs,
      output: [
        valueInfo('maskmem_features', [1, M, H, H]),
        valueInfo('maskmem_pos_enc', frames ? [HW, 1, M] : [1, M, H, H]),
        ...(frames ? [valueInfo('temporal_code', [7, 1, 1, M])] : []),
      ],
      initializer: [
        ints('st0', [0]),
        ints('en1', [1]),
        ints('ax1', [1]),
        ...(frames
          ? [floats('pos_tokens', [HW, 1, M], posTokens), floats('tpos_const', [7, 1, 1, M], TPOS)]
          : [ints('shape1111', [1, 1, 1, 1]), floats('pos_const', [1, M, H, H], MEM_POS)]),
      ],
    }),
  );
}

function memoryAttention(o: Sam2GraphOptions): Uint8Array {
  if (o.variant === 'frames') {
    // current_vision_feat (with no_mem_embed) [1,C,h,w], memory_0 [k,C], memory_1 [n,M,h,w], memory_pos_embed.
    // Output channel 1 = the number of values in memory_pos_embed / M (tokens), so a test can check the layout.
    return model(
      onnx.GraphProto.create({
        name: 'memory_attention',
        node: [
          node('Sub', ['current_vision_feat', 'nomem'], ['cur']),
          ...zeroOf('current_vision_pos_embed', 'z0'),
          ...zeroOf('memory_0', 'z1'),
          ...zeroOf('memory_1', 'z2'),
          node('Shape', ['memory_pos_embed'], ['pshape']),
          node('Gather', ['pshape', 'idx0'], ['ptok'], [attrInt('axis', 0)]),
          node('Cast', ['ptok'], ['ptokf'], [attrInt('to', FLOAT)]),
          node('Shape', ['memory_0'], ['kshape']),
          node('Gather', ['kshape', 'idx0'], ['kk'], [attrInt('axis', 0)]),
          node('Cast', ['kk'], ['kkf'], [attrInt('to', FLOAT)]),
          node('Shape', ['memory_1'], ['nshape']),
          node('Gather', ['nshape', 'idx0'], ['nn'], [attrInt('axis', 0)]),
          node('Cast', ['nn'], ['nnf'], [attrInt('to', FLOAT)]),
          node('Mul', ['ptokf', 'e1'], ['c1']),
          node('Mul', ['kkf', 'e2'], ['c2']),
          node('Mul', ['nnf', 'e3'], ['c3']),
          node('Add', ['c1', 'c2'], ['c12']),
          node('Add', ['c12', 'c3'], ['c123']),
          node('Add', ['z0', 'z1'], ['z01']),
          node('Add', ['z01', 'z2'], ['zz']),
          node('Add', ['c123', 'zz'], ['marks']),
          node('Add', ['cur', 'marks'], ['fused_feat']),
        ],
        input: [
          valueInfo('current_vision_feat', [1, C, H, H]),
          valueInfo('current_vision_pos_embed', [HW, 1, C]),
          valueInfo('memory_0', ['k', C]),
          valueInfo('memory_1', ['n', M, H, H]),
          valueInfo('memory_pos_embed', ['b', 1, M]),
        ],
        output: [valueInfo('fused_feat', [1, C, H, H])],
        initializer: [
          floats('nomem', [1, C, 1, 1], NO_MEM_EMBED),
          floats('zero', [], [0]),
          onnx.TensorProto.create({ name: 'idx0', dims: [], dataType: INT64, int64Data: [0] }),
          // Channel marks: 1 x (pos tokens) on channel 1, k on channel 2, n on channel 3.
          floats('e1', [1, C, 1, 1], Array.from({ length: C }, (_, c) => (c === 1 ? 1 : 0))),
          floats('e2', [1, C, 1, 1], Array.from({ length: C }, (_, c) => (c === 2 ? 1 : 0))),
          floats('e3', [1, C, 1, 1], Array.from({ length: C }, (_, c) => (c === 3 ? 1 : 0))),
        ],
      }),
    );
  }
  return model(
    onnx.GraphProto.create({
      name: 'memory_attention',
      node: [
        node('Transpose', ['curr'], ['ct'], [attrInts('perm', [1, 2, 0])]),
        node('Reshape', ['ct', 'mapshape'], ['cmap']),
        ...zeroOf('curr_pos', 'z0'),
        ...zeroOf('memory', 'z1'),
        ...zeroOf('memory_pos', 'z2'),
        ...zeroOf('obj_ptr_tokens', 'z3'),
        ...zeroOf('obj_ptr_pos', 'z4'),
        node('Add', ['z0', 'z1'], ['z01']),
        node('Add', ['z2', 'z3'], ['z23']),
        node('Add', ['z01', 'z23'], ['z0123']),
        node('Add', ['z0123', 'z4'], ['zz']),
        node('Add', ['cmap', 'zz'], ['pix_feat_with_mem']),
      ],
      input: [
        valueInfo('curr', [HW, 1, C]),
        valueInfo('curr_pos', [HW, 1, C]),
        valueInfo('memory', ['nm', 1, M]),
        valueInfo('memory_pos', ['nm', 1, M]),
        valueInfo('obj_ptr_tokens', ['np', 1, M]),
        valueInfo('obj_ptr_pos', ['np', 1, M]),
      ],
      output: [valueInfo('pix_feat_with_mem', [1, C, H, H])],
      initializer: [ints('mapshape', [1, C, H, H]), floats('zero', [], [0])],
    }),
  );
}

/** Writes a model directory; `manifest` overrides fields of the default manifest (null deletes one). */
export function writeSam2Model(dir: string, o: Sam2GraphOptions = {}, manifest: Record<string, unknown> = {}): string {
  fs.mkdirSync(dir, { recursive: true });
  const frames = o.variant === 'frames';
  fs.writeFileSync(path.join(dir, 'image_encoder.onnx'), imageEncoder(o));
  fs.writeFileSync(path.join(dir, 'mask_decoder.onnx'), maskDecoder(o));
  fs.writeFileSync(path.join(dir, 'memory_encoder.onnx'), memoryEncoder(o));
  fs.writeFileSync(path.join(dir, 'memory_attention.onnx'), memoryAttention(o));
  const npy = (name: string, data: Float32Array, shape: number[]) => fs.writeFileSync(path.join(dir, name), encodeNpy(data, shape));
  npy('no_mem_embed.npy', NO_MEM_EMBED, [1, 1, C]);
  npy('no_obj_ptr.npy', NO_OBJ_PTR, [1, C]);
  npy('maskmem_tpos_enc.npy', TPOS, [7, 1, 1, M]);
  npy('mask_downsample_weight.npy', new Float32Array(16).fill(1 / 16), [1, 1, 4, 4]);
  npy('mask_downsample_bias.npy', Float32Array.of(0), [1]);
  npy('obj_ptr_tpos_proj_weight.npy', PROJ_W, [M, C]);
  npy('obj_ptr_tpos_proj_bias.npy', PROJ_B, [M]);
  const base: Record<string, unknown> = {
    format: 'sam2',
    name: `test ${o.variant ?? 'contract'} model`,
    inputSize: S,
    mean: [0, 0, 0],
    std: [255, 255, 255],
    graphs: { imageEncoder: 'image_encoder.onnx', maskDecoder: 'mask_decoder.onnx', memoryEncoder: 'memory_encoder.onnx', memoryAttention: 'memory_attention.onnx' },
    constants: frames
      ? { noMemEmbed: 'no_mem_embed.npy', noObjPtr: 'no_obj_ptr.npy' }
      : {
          noMemEmbed: 'no_mem_embed.npy',
          noObjPtr: 'no_obj_ptr.npy',
          maskmemTposEnc: 'maskmem_tpos_enc.npy',
          maskDownsampleWeight: 'mask_downsample_weight.npy',
          maskDownsampleBias: 'mask_downsample_bias.npy',
          objPtrTposProjWeight: 'obj_ptr_tpos_proj_weight.npy',
          objPtrTposProjBias: 'obj_ptr_tpos_proj_bias.npy',
        },
    ...(frames
      ? {
          tensors: {
            maskDecoder: { lowResMasks: 'pred_mask', iouPred: null, objectScoreLogits: null, maskInput: null, hasMaskInput: null },
            memoryEncoder: { objectScoreLogits: null, temporalCode: 'temporal_code' },
            memoryAttention: {
              curr: 'current_vision_feat',
              currPos: 'current_vision_pos_embed',
              memory: 'memory_1',
              memoryPos: 'memory_pos_embed',
              objPtrTokens: 'memory_0',
              objPtrPos: null,
              pixFeatWithMem: 'fused_feat',
            },
          },
          settings: { currIncludesNoMemEmbed: true },
        }
      : {}),
  };
  for (const [k, v] of Object.entries(manifest)) {
    if (v === null) delete base[k];
    else base[k] = v;
  }
  fs.writeFileSync(path.join(dir, 'keyslice-model.json'), JSON.stringify(base, null, 2));
  return dir;
}
