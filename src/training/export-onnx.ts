/**
 * The trained correspondence features as an ONNX graph, built node by node: input `edges` [1, C, height, width]
 * (the edge profile), a 3 x 3 `Conv` (padding 1) per layer with `Relu` between them, output `features`
 * [1, F, height, width]. Height and width are symbolic, so one graph serves every slice size.
 */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import type { NetWeights } from './net.js';
import type { ResidualWeights } from './residual-net.js';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;

export function valueInfo(name: string, dims: (number | string)[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  });
}

/** A layer's [9 * in, out] matrix (row (ky * 3 + kx) * in + c) as an ONNX Conv weight [out, in, 3, 3]. */
export function convWeight(w: Float32Array, inC: number, outC: number): Float32Array {
  const out = new Float32Array(outC * inC * 9);
  for (let o = 0; o < outC; o++) {
    for (let c = 0; c < inC; c++) for (let k = 0; k < 9; k++) out[((o * inC + c) * 9) + k] = w[(k * inC + c) * outC + o];
  }
  return out;
}

/** ONNX nodes and initializers of a stack of 3 x 3 convolutions (padding 1, `Relu` between), `input` to `output`. */
export function convStack(layers: NetWeights['layers'], input: string, output: string, prefix = 'conv'): { nodes: OnnxTypes.INodeProto[]; inits: OnnxTypes.ITensorProto[] } {
  const nodes: OnnxTypes.INodeProto[] = [];
  const inits: OnnxTypes.ITensorProto[] = [];
  let current = input;
  const last = layers.length - 1;
  for (const [n, l] of layers.entries()) {
    const name = `${prefix}${n}`;
    inits.push(floatTensor(`${name}.weight`, [l.outC, l.inC, 3, 3], convWeight(l.w, l.inC, l.outC)), floatTensor(`${name}.bias`, [l.outC], l.b));
    const conv = n === last ? output : name;
    nodes.push(
      onnx.NodeProto.create({
        name,
        opType: 'Conv',
        input: [current, `${name}.weight`, `${name}.bias`],
        output: [conv],
        attribute: [
          onnx.AttributeProto.create({ name: 'kernel_shape', ints: [3, 3], type: onnx.AttributeProto.AttributeType.INTS }),
          onnx.AttributeProto.create({ name: 'pads', ints: [1, 1, 1, 1], type: onnx.AttributeProto.AttributeType.INTS }),
        ],
      }),
    );
    current = conv;
    if (n < last) {
      nodes.push(onnx.NodeProto.create({ name: `${prefix}relu${n}`, opType: 'Relu', input: [conv], output: [`${prefix}relu${n}`] }));
      current = `${prefix}relu${n}`;
    }
  }
  return { nodes, inits };
}

/** A float initializer (a copy of `data`). */
export function floatTensor(name: string, dims: number[], data: ArrayLike<number>): OnnxTypes.TensorProto {
  return onnx.TensorProto.create({ name, dims, dataType: FLOAT, rawData: new Uint8Array(Float32Array.from(data).buffer) });
}

/** A graph as ONNX model bytes (IR 7, opset 13). */
export function modelBytes(graph: OnnxTypes.IGraphProto, producer = 'keyslice'): Uint8Array {
  const model = onnx.ModelProto.create({ irVersion: 7, opsetImport: [{ domain: '', version: 13 }], producerName: producer, graph });
  return onnx.ModelProto.encode(model).finish();
}

export function correspondenceOnnx(weights: NetWeights, producer = 'keyslice'): Uint8Array {
  const { nodes, inits } = convStack(weights.layers, 'edges', 'features');
  const width = weights.layers[weights.layers.length - 1].outC;
  const graph = onnx.GraphProto.create({
    name: 'correspondence',
    node: nodes,
    initializer: inits,
    input: [valueInfo('edges', [1, weights.shape.inputChannels, 'height', 'width'])],
    output: [valueInfo('features', [1, width, 'height', 'width'])],
  });
  return modelBytes(graph, producer);
}

/**
 * The trained residual adapter as an ONNX graph (inputs and output as `src/models/adapter/residual.ts` says):
 * block means of both embeddings (`AveragePool`), the shared projection as a 1 x 1 `Conv`, their difference,
 * the concatenation with the previous mask and the logits, then the 3 x 3 convolutions.
 */
export function residualOnnx(weights: ResidualWeights, producer = 'keyslice'): Uint8Array {
  const { embeddingChannels: C, embeddingSide: side, grid, reduced: R } = weights.shape;
  const f = side / grid;
  const nodes: OnnxTypes.INodeProto[] = [];
  const attr = (name: string, ints: number[]) => onnx.AttributeProto.create({ name, ints, type: onnx.AttributeProto.AttributeType.INTS });
  const proj = new Float32Array(R * C);
  for (let c = 0; c < C; c++) for (let r = 0; r < R; r++) proj[r * C + c] = weights.projection[c * R + r];
  for (const [input, out] of [
    ['embedding', 'current'],
    ['previous_embedding', 'previous'],
  ]) {
    let x = input;
    if (f > 1) {
      nodes.push(onnx.NodeProto.create({ name: `${out}_pool`, opType: 'AveragePool', input: [x], output: [`${out}_pooled`], attribute: [attr('kernel_shape', [f, f]), attr('strides', [f, f])] }));
      x = `${out}_pooled`;
    }
    nodes.push(onnx.NodeProto.create({ name: `${out}_projection`, opType: 'Conv', input: [x, 'projection'], output: [out], attribute: [attr('kernel_shape', [1, 1])] }));
  }
  nodes.push(onnx.NodeProto.create({ name: 'difference', opType: 'Sub', input: ['current', 'previous'], output: ['difference'] }));
  nodes.push(
    onnx.NodeProto.create({
      name: 'inputs',
      opType: 'Concat',
      input: ['current', 'difference', 'previous_mask', 'logits'],
      output: ['inputs'],
      attribute: [onnx.AttributeProto.create({ name: 'axis', i: 1, type: onnx.AttributeProto.AttributeType.INT })],
    }),
  );
  const stack = convStack(weights.layers, 'inputs', 'correction');
  const graph = onnx.GraphProto.create({
    name: 'decoder-residual',
    node: [...nodes, ...stack.nodes],
    initializer: [floatTensor('projection', [R, C, 1, 1], proj), ...stack.inits],
    input: [
      valueInfo('embedding', [1, C, side, side]),
      valueInfo('previous_embedding', [1, C, side, side]),
      valueInfo('previous_mask', [1, 1, grid, grid]),
      valueInfo('logits', [1, 1, grid, grid]),
    ],
    output: [valueInfo('correction', [1, 1, grid, grid])],
  });
  return modelBytes(graph, producer);
}
