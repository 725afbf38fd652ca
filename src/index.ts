/** keyslice (Node entry point): volume I/O, annotations, segmentation pipeline and metrics. */
export * from './volume/volume.js';
export {
  readVolume,
  readLabelVolume,
  toLabelVolume,
  writeVolume,
  writeTextAtomic,
  defaultMaxVoxels,
  type ReadVolumeOptions,
  type WriteVolumeOptions,
} from './volume/io-node.js';
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
export { loadSamModel, builtinSamManifest, readSamManifest, type SamLoadOptions } from './models/sam/load-node.js';
export { loadSam2Model } from './models/sam2/load-node.js';
export { openModel, openSamModel, openSam2Model, modelFilesAt, type ReadModelFile, type OpenModelOptions } from './models/load.js';
export { MemoryEmbeddingStore, LayeredEmbeddingStore, embeddingKey, type EmbeddingStore } from './models/sam/embedding-store.js';
export { DiskEmbeddingStore } from './models/sam/embedding-store-node.js';
export { ortRuntime, type OnnxRuntime, type RuntimeOptions } from './models/onnx/runtime.js';
export { nodeRuntime } from './models/onnx/runtime-node.js';
export { resolveEngine, allEngineNames, MODEL_ENGINES, type ResolveEngineOptions } from './pipeline/engines-node.js';
export { intensityWindow, applyWindow, type IntensityWindow } from './analysis/window.js';
export { ssim, histogramDistance } from './analysis/similarity.js';
export { MaxFlow } from './graphcut/maxflow.js';
export { segmentFiles, type SegmentFilesOptions } from './pipeline/segment-files.js';
export { objectMetrics, maskOf, type ObjectMetrics, type MetricOptions } from './metrics/metrics.js';
export { squaredDistanceTransform } from './metrics/edt.js';
export { selectKeySlices, simulateLabel, tightBox, type PromptKind } from './simulate/annotator.js';
export { makePhantom, type Phantom, type PhantomOptions } from './demo/phantom.js';
export { KeysliceError, type KeysliceErrorCode } from './util/errors.js';
