/**
 * keyslice (browser entry point, `keyslice/browser`): everything that needs no file system. Volumes come in as
 * `Volume` objects (from a viewer such as niivue, or itk-wasm's browser image I/O), models through
 * `openModel` / `openSamModel` / `openSam2Model` with onnxruntime-web wrapped by `ortRuntime`:
 *
 * ```ts
 * import * as ort from 'onnxruntime-web/webgpu'; // WebGPU where the browser has it, else wasm
 * import { ortRuntime, openSamModel, modelFilesAt, hybridEngine, segment } from 'keyslice/browser';
 * const base = 'https://my.host/models/litemedsam/';
 * const json = await (await fetch(new URL('keyslice-model.json', base))).json();
 * const model = await openSamModel(json, ortRuntime(ort, 'onnxruntime-web', { executionProviders: ['webgpu', 'wasm'] }), modelFilesAt(base));
 * const { labels, report } = await segment(volume, annotations, { engine: hybridEngine(model) });
 * ```
 *
 * The same engine code runs here and in Node; only loading differs (`keyslice` for Node reads paths).
 */
export * from './volume/volume.js';
export * from './annotations/types.js';
export { parsePrompts, parsePromptsText, PROMPTS_VERSION, type PromptsFile } from './annotations/prompts.js';
export { buildAnnotations, parseKeySliceList, type BuildOptions, type BuildResult } from './annotations/build.js';
export {
  segment,
  getEngine,
  engineNames,
  DEFAULT_ENGINE,
  type SegmentOptions,
  type SegmentResult,
  type SegmentReport,
  type LabelReport,
} from './pipeline/segment.js';
export { ENGINE_TABLE, engineSpec, createEngine, allEngineNames, type EngineSpec, type LoadedModel, type ModelKind } from './pipeline/engines.js';
export { openSession, type KeysliceSessionHandle } from './session/session.js';
export type {
  Session,
  SessionOptions,
  KeySlicePrompt,
  LabelRef,
  Revision,
  SliceUpdate,
  UpdateSource,
  PropagateOptions,
} from './session/types.js';
export {
  propagateObject,
  DEFAULT_STOP_RULES,
  type StopRules,
  type PropagationOptions,
  type ObjectPropagation,
} from './propagation/controller.js';
export { postprocessStack, DEFAULT_POSTPROCESS, type PostprocessOptions, type PostprocessReport } from './propagation/postprocess.js';
export type {
  SliceEngine,
  ObjectSession,
  RoiImage,
  SliceResult,
  PropagationStep,
  FrontInfo,
  EngineRun,
  EngineUsage,
  StopReason,
  FrontReport,
  SliceReport,
} from './propagation/types.js';
export { classicEngine, DEFAULT_CLASSIC, type ClassicOptions } from './engines/classic/engine.js';
export { interpolationEngine, keySlicesEngine } from './engines/interp.js';
export { samEngine, DEFAULT_SAM_ENGINE, type SamEngineOptions, type ModelUsage } from './engines/sam/engine.js';
export { zoomCrop, type ZoomOptions } from './engines/sam/frame.js';
export { hybridEngine, DEFAULT_HYBRID, type HybridOptions } from './engines/hybrid/engine.js';
export { medsam2Engine, DEFAULT_MEDSAM2, type Medsam2Options } from './engines/medsam2/engine.js';
export { SamModel, type SamEmbedding, type SamPrompt, type SamPoint } from './models/sam/model.js';
export { Sam2Model } from './models/sam2/model.js';
export { parseSamManifest, type SamManifest } from './models/sam/manifest.js';
export { parseSam2Manifest, type Sam2Manifest } from './models/sam2/manifest.js';
export { openModel, openSamModel, openSam2Model, modelFilesAt, type ReadModelFile, type OpenModelOptions } from './models/load.js';
export { MemoryEmbeddingStore, LayeredEmbeddingStore, embeddingKey, type EmbeddingStore } from './models/sam/embedding-store.js';
export { ortRuntime, type OnnxRuntime, type RuntimeOptions, type OrtModuleLike } from './models/onnx/runtime.js';
export { intensityWindow, applyWindow, type IntensityWindow } from './analysis/window.js';
export { ssim, histogramDistance } from './analysis/similarity.js';
export { analyzeVolume, type Analysis, type AnalyzeOptions } from './analysis/analyze.js';
export { suggestSlices, type SuggestResult, type SuggestOptions } from './suggest/suggest.js';
export { MaxFlow } from './graphcut/maxflow.js';
export { objectMetrics, maskOf, type ObjectMetrics, type MetricOptions } from './metrics/metrics.js';
export { squaredDistanceTransform } from './metrics/edt.js';
export { selectKeySlices, simulateLabel, tightBox, type PromptKind } from './simulate/annotator.js';
export { makePhantom, type Phantom, type PhantomOptions } from './demo/phantom.js';
export { KeysliceError, type KeysliceErrorCode } from './util/errors.js';
export { correspondenceModel, correspondenceTerm, type CorrespondenceModel, type CutAdapter } from './models/adapter/model.js';
export { checkAdapterManifest, checkAdapterBase, ADAPTER_MANIFEST, type AdapterManifest } from './models/adapter/manifest.js';
export { residualModel, residualTerm, residualEngine, type ResidualModel } from './models/adapter/residual.js';
export type { LogitResidual, ResidualInput } from './engines/sam/residual.js';
export { RemoteSession, RemoteSessionError, type RemoteOpenOptions } from './session/remote.js';
export { encodeRle, decodeRle, maskBox, type MaskBox } from './session/rle.js';
export type { WireKeySlice, WireMask, WireStreamLine } from './session/wire.js';
