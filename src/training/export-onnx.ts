/**
 * The trained correspondence features as an ONNX graph, built node by node: input `edges` [1, C, height, width]
 * (the edge profile), a 3 x 3 `Conv` (padding 1) per layer with `Relu` between them, output `features`
 * [1, F, height, width]. Height and width are symbolic, so one graph serves every slice size.
 */
import onnxProto from 'onnx-proto';
import type { NetWeights } from './net.js';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;

function valueInfo(name: string, dims: (number | string)[]) {
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

export function correspondenceOnnx(weights: NetWeights, producer = 'keyslice'): Uint8Array {
  const nodes = [];
  const inits = [];
  let current = 'edges';
  const last = weights.layers.length - 1;
  for (const [n, l] of weights.layers.entries()) {
    inits.push(onnx.TensorProto.create({ name: `conv${n}.weight`, dims: [l.outC, l.inC, 3, 3], dataType: FLOAT, rawData: new Uint8Array(convWeight(l.w, l.inC, l.outC).buffer) }));
    inits.push(onnx.TensorProto.create({ name: `conv${n}.bias`, dims: [l.outC], dataType: FLOAT, rawData: new Uint8Array(new Float32Array(l.b).buffer) }));
    const conv = n === last ? 'features' : `conv${n}`;
    nodes.push(
      onnx.NodeProto.create({
        name: `conv${n}`,
        opType: 'Conv',
        input: [current, `conv${n}.weight`, `conv${n}.bias`],
        output: [conv],
        attribute: [
          onnx.AttributeProto.create({ name: 'kernel_shape', ints: [3, 3], type: onnx.AttributeProto.AttributeType.INTS }),
          onnx.AttributeProto.create({ name: 'pads', ints: [1, 1, 1, 1], type: onnx.AttributeProto.AttributeType.INTS }),
        ],
      }),
    );
    current = conv;
    if (n < last) {
      nodes.push(onnx.NodeProto.create({ name: `relu${n}`, opType: 'Relu', input: [conv], output: [`relu${n}`] }));
      current = `relu${n}`;
    }
  }
  const width = weights.layers[last].outC;
  const graph = onnx.GraphProto.create({
    name: 'correspondence',
    node: nodes,
    initializer: inits,
    input: [valueInfo('edges', [1, weights.shape.inputChannels, 'height', 'width'])],
    output: [valueInfo('features', [1, width, 'height', 'width'])],
  });
  const model = onnx.ModelProto.create({ irVersion: 7, opsetImport: [{ domain: '', version: 13 }], producerName: producer, graph });
  return onnx.ModelProto.encode(model).finish();
}
