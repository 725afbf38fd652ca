/** onnxruntime-node as an `OnnxRuntime` (loaded on first use, so that weight-free engines never load it). */
import { ortRuntime, type OnnxRuntime, type OrtModuleLike, type RuntimeOptions } from './runtime.js';

export async function nodeRuntime(options: RuntimeOptions = {}): Promise<OnnxRuntime> {
  let ort: OrtModuleLike;
  try {
    ort = (await import('onnxruntime-node')) as unknown as OrtModuleLike;
  } catch (e) {
    throw new Error(`onnxruntime-node could not be loaded (${(e as Error).message}); reinstall keyslice's dependencies`, { cause: e });
  }
  return ortRuntime(ort, 'onnxruntime-node', { executionProviders: ['cpu'], ...options });
}
