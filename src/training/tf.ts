/**
 * TensorFlow.js on its WebAssembly backend: the training runtime (it installs from npm alone and computes
 * gradients; the trained weights are then exported to ONNX and run by onnxruntime like every other model).
 * Loaded on first use, once per process.
 */
import type * as TfCore from '@tensorflow/tfjs-core';

export type Tf = typeof TfCore;

let loading: Promise<Tf> | undefined;

export function loadTf(): Promise<Tf> {
  loading ??= (async () => {
    // The full package registers every op's gradient (the core package alone has none in its Node build).
    const tf = (await import('@tensorflow/tfjs')) as unknown as Tf;
    await import('@tensorflow/tfjs-backend-wasm');
    if (!(await tf.setBackend('wasm'))) throw new Error('the TensorFlow.js WebAssembly backend could not start');
    await tf.ready();
    return tf;
  })();
  return loading;
}
