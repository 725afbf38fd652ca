/**
 * Tiny ONNX graphs built in the tests (onnx-proto), standing in for real model weights.
 *
 * A "brightness" SAM-format model of input size S: the encoder averages 16 x 16 blocks of the input (an
 * embedding of 3 x S/16 x S/16); the decoder upsamples the channel mean 4x and returns
 * `low_res_masks = 20 (x - 0.5) + 0.25 has_mask_input * mask_input`, so with mean 0 / std 255 normalisation
 * it segments what is brighter than the middle of the window, and `iou_predictions` is the constant `iou`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;

type Dim = number | string;

function valueInfo(name: string, dims: Dim[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });
}

function floats(name: string, dims: number[], values: number[]) {
  return onnx.TensorProto.create({ name, dims, dataType: FLOAT, floatData: values });
}

function attrInts(name: string, ints: number[]) {
  return onnx.AttributeProto.create({ name, ints, type: onnx.AttributeProto.AttributeType.INTS });
}

function attrString(name: string, s: string) {
  return onnx.AttributeProto.create({ name, s: new TextEncoder().encode(s), type: onnx.AttributeProto.AttributeType.STRING });
}

function attrInt(name: string, i: number) {
  return onnx.AttributeProto.create({ name, i, type: onnx.AttributeProto.AttributeType.INT });
}

function model(graph: InstanceType<typeof onnx.GraphProto>): Uint8Array {
  const m = onnx.ModelProto.create({
    irVersion: 7,
    opsetImport: [{ domain: '', version: 13 }],
    producerName: 'keyslice-tests',
    graph,
  });
  return onnx.ModelProto.encode(m).finish();
}

export interface BrightnessModelOptions {
  /** Input size (multiple of 16; default 256). */
  size?: number;
  /** Constant predicted IoU (default 0.9). */
  iou?: number;
  /** Encoder input and output names (default "image", "embeddings"). */
  encoderInput?: string;
  encoderOutput?: string;
  /** Declared encoder input shape (default [1, 3, size, size]); another rank makes the encoder an Identity. */
  encoderInputShape?: Dim[];
  /** Leave out the decoder's mask_input / has_mask_input. */
  noMaskInput?: boolean;
}

export function brightnessEncoder(o: BrightnessModelOptions = {}): Uint8Array {
  const S = o.size ?? 256;
  const input = o.encoderInput ?? 'image';
  const output = o.encoderOutput ?? 'embeddings';
  const graph = onnx.GraphProto.create({
    name: 'encoder',
    node: [
      o.encoderInputShape && o.encoderInputShape.length !== 4
        ? onnx.NodeProto.create({ opType: 'Identity', input: [input], output: [output] })
        : onnx.NodeProto.create({ opType: 'AveragePool', input: [input], output: [output], attribute: [attrInts('kernel_shape', [16, 16]), attrInts('strides', [16, 16])] }),
    ],
    input: [valueInfo(input, o.encoderInputShape ?? [1, 3, S, S])],
    output: [valueInfo(output, [1, 3, S / 16, S / 16])],
  });
  return model(graph);
}

export function brightnessDecoder(o: BrightnessModelOptions = {}): Uint8Array {
  const S = o.size ?? 256;
  const h = S / 16;
  const M = 4 * h;
  const nodes = [
    onnx.NodeProto.create({ opType: 'ReduceMean', input: ['image_embeddings'], output: ['mean'], attribute: [attrInts('axes', [1]), attrInt('keepdims', 1)] }),
    onnx.NodeProto.create({ opType: 'Resize', input: ['mean', '', 'scales'], output: ['up'], attribute: [attrString('mode', 'linear')] }),
    onnx.NodeProto.create({ opType: 'Sub', input: ['up', 'half'], output: ['centred'] }),
    onnx.NodeProto.create({ opType: 'Mul', input: ['centred', 'gain'], output: o.noMaskInput ? ['low_res_masks'] : ['image_logits'] }),
    onnx.NodeProto.create({ opType: 'Identity', input: ['iou_value'], output: ['iou_predictions'] }),
  ];
  if (!o.noMaskInput) {
    nodes.push(
      onnx.NodeProto.create({ opType: 'Mul', input: ['mask_input', 'has_mask_input'], output: ['gated'] }),
      onnx.NodeProto.create({ opType: 'Mul', input: ['gated', 'quarter'], output: ['mask_term'] }),
      onnx.NodeProto.create({ opType: 'Add', input: ['image_logits', 'mask_term'], output: ['low_res_masks'] }),
    );
  }
  const inputs = [valueInfo('image_embeddings', [1, 3, h, h]), valueInfo('point_coords', [1, 'num_points', 2]), valueInfo('point_labels', [1, 'num_points'])];
  if (!o.noMaskInput) inputs.push(valueInfo('mask_input', [1, 1, M, M]), valueInfo('has_mask_input', [1]));
  inputs.push(valueInfo('orig_im_size', [2]));
  const graph = onnx.GraphProto.create({
    name: 'decoder',
    node: nodes,
    input: inputs,
    output: [valueInfo('low_res_masks', [1, 1, M, M]), valueInfo('iou_predictions', [1, 1])],
    initializer: [
      floats('scales', [4], [1, 1, 4, 4]),
      floats('half', [], [0.5]),
      floats('gain', [], [20]),
      floats('quarter', [], [0.25]),
      floats('iou_value', [1, 1], [o.iou ?? 0.9]),
    ],
  });
  return model(graph);
}

/** Writes a model directory (graphs + keyslice-model.json); `manifest` overrides fields of the default manifest. */
export function writeBrightnessModel(dir: string, o: BrightnessModelOptions = {}, manifest: Record<string, unknown> = {}): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'encoder.onnx'), brightnessEncoder(o));
  fs.writeFileSync(path.join(dir, 'decoder.onnx'), brightnessDecoder(o));
  const m = {
    format: 'sam',
    name: 'brightness test model',
    encoder: 'encoder.onnx',
    decoder: 'decoder.onnx',
    inputSize: o.size ?? 256,
    resize: 'longest-side',
    mean: [0, 0, 0],
    std: [255, 255, 255],
    tensors: { image: o.encoderInput ?? 'image', embeddings: o.encoderOutput ?? 'embeddings' },
    ...manifest,
  };
  fs.writeFileSync(path.join(dir, 'keyslice-model.json'), JSON.stringify(m, null, 2));
  return dir;
}

/** The brightness test model in `dir/model`, and one named "another test model" (other graphs) in `dir/other`. */
export function twoBrightnessModels(dir: string): { modelDir: string; otherDir: string } {
  return { modelDir: writeBrightnessModel(path.join(dir, 'model')), otherDir: writeBrightnessModel(path.join(dir, 'other'), { iou: 0.8 }, { name: 'another test model' }) };
}
