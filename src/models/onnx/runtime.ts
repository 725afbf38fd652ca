/**
 * The few parts of onnxruntime that keyslice's model engines use, behind one interface so that the same engine
 * code runs on onnxruntime-node (Node) and onnxruntime-web (browser: wasm or WebGPU). `ortRuntime(ort)` wraps
 * either package's module object; `nodeRuntime()` (in `runtime-node.ts`) loads onnxruntime-node.
 */

/** A tensor as onnxruntime returns it. */
export interface OrtTensorLike {
  readonly dims: readonly number[];
  readonly type: string;
  readonly data: unknown;
}

/** Name, element type and shape (numbers, or strings for symbolic dimensions) of a graph input or output. */
export interface GraphValueInfo {
  name: string;
  type?: string;
  shape?: readonly (number | string)[];
}

/** An inference session on one ONNX graph. */
export interface GraphSession {
  readonly inputs: readonly GraphValueInfo[];
  readonly outputs: readonly GraphValueInfo[];
  run(feeds: Record<string, OrtTensorLike>, outputs?: readonly string[]): Promise<Record<string, OrtTensorLike>>;
  release(): Promise<void>;
}

export interface RuntimeOptions {
  /** Execution providers in order of preference (default: `['cpu']` in Node, `['wasm']` in a browser). */
  executionProviders?: string[];
  /** Threads per operator (Node only; default: onnxruntime's choice). */
  threads?: number;
}

export interface OnnxRuntime {
  /** Which package and providers run the graphs, for reports. */
  readonly name: string;
  /** Opens a graph from a file path (Node) or its bytes. */
  load(source: string | Uint8Array): Promise<GraphSession>;
  float32(data: Float32Array, dims: readonly number[]): OrtTensorLike;
  /** A tensor of another element type (int32, int64 or bool inputs of some exported graphs). */
  tensor(type: 'int32', data: Int32Array, dims: readonly number[]): OrtTensorLike;
  tensor(type: 'int64', data: BigInt64Array, dims: readonly number[]): OrtTensorLike;
  tensor(type: 'bool', data: Uint8Array, dims: readonly number[]): OrtTensorLike;
}

/** The parts of an onnxruntime module object (`import * as ort from 'onnxruntime-node' | 'onnxruntime-web'`) used here. */
export interface OrtModuleLike {
  InferenceSession: {
    create(source: never, options?: Record<string, unknown>): Promise<unknown>;
  };
  Tensor: new (type: string, data: Float32Array | Int32Array | BigInt64Array | Uint8Array, dims: readonly number[]) => OrtTensorLike;
}

interface RawMetadata {
  name: string;
  isTensor?: boolean;
  type?: string;
  shape?: readonly (number | string)[];
}

interface RawSession {
  inputNames: readonly string[];
  outputNames: readonly string[];
  inputMetadata?: readonly RawMetadata[];
  outputMetadata?: readonly RawMetadata[];
  run(feeds: Record<string, OrtTensorLike>, fetches?: readonly string[]): Promise<Record<string, OrtTensorLike>>;
  release(): Promise<void>;
}

function infos(names: readonly string[], meta: readonly RawMetadata[] | undefined): GraphValueInfo[] {
  return names.map((name, i) => {
    const m = meta?.find((x) => x.name === name) ?? meta?.[i];
    return m && m.name === name && m.isTensor !== false ? { name, type: m.type, shape: m.shape } : { name };
  });
}

/** Wraps an onnxruntime module object (Node or web) as an `OnnxRuntime`. */
export function ortRuntime(ort: OrtModuleLike, name: string, options: RuntimeOptions = {}): OnnxRuntime {
  const sessionOptions: Record<string, unknown> = { graphOptimizationLevel: 'all' };
  if (options.executionProviders) sessionOptions.executionProviders = options.executionProviders;
  if (options.threads) sessionOptions.intraOpNumThreads = options.threads;
  const providers = options.executionProviders?.join(',') ?? 'default';
  return {
    name: `${name} (${providers})`,
    async load(source) {
      const raw = (await ort.InferenceSession.create(source as never, sessionOptions)) as RawSession;
      return {
        inputs: infos(raw.inputNames, raw.inputMetadata),
        outputs: infos(raw.outputNames, raw.outputMetadata),
        run: (feeds, outputs) => (outputs ? raw.run(feeds, outputs) : raw.run(feeds)),
        release: () => raw.release(),
      };
    },
    float32: (data, dims) => new ort.Tensor('float32', data, dims),
    tensor: (type: string, data: Int32Array | BigInt64Array | Uint8Array, dims: readonly number[]) => new ort.Tensor(type, data, dims),
  };
}

/** The float32 data of an output tensor, with a clear error when it is something else. */
export function floatData(t: OrtTensorLike | undefined, what: string): Float32Array {
  if (!t) throw new Error(`${what}: missing from the graph's outputs`);
  if (!(t.data instanceof Float32Array)) throw new Error(`${what}: expected float32, got ${t.type}`);
  return t.data;
}
