/**
 * keyslice (Node entry point): everything in the browser entry point (`./browser.ts`: segmentation, engines,
 * annotations, metrics, model loading from a file reader) plus what needs Node: volume files, model folders and
 * the built-in model, the disk embedding store, onnxruntime-node, engines by name and the file-level calls.
 */
export * from './browser.js';
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
export { loadSamModel, builtinSamManifest, readSamManifest, type SamLoadOptions } from './models/sam/load-node.js';
export { loadSam2Model } from './models/sam2/load-node.js';
export { DiskEmbeddingStore } from './models/sam/embedding-store-node.js';
export { nodeRuntime } from './models/onnx/runtime-node.js';
export { resolveEngine, allEngineNames, MODEL_ENGINES, type ResolveEngineOptions } from './pipeline/engines-node.js';
export { segmentFiles, type SegmentFilesOptions } from './pipeline/segment-files.js';
export { loadAdapter, readAdapterManifest } from './models/adapter/load-node.js';
export { adaptedEngine } from './models/adapter/engine-node.js';
export { trainFiles, type TrainFilesOptions, type TrainFilesResult } from './training/train-files.js';
export { trainAdapter, type TrainAdapterOptions, type TrainingCase } from './training/train-adapter.js';
export { trainResidualAdapter, type ResidualAdapterOptions } from './training/train-residual.js';
export { leaveOneOut, type LooOptions, type LooResult } from './training/loo.js';
export { readDicomSeries, listDicomSeries, type DicomSeriesOptions, type DicomSeriesResult } from './volume/dicom/read-series-node.js';
export { writeDicomSeries } from './volume/dicom/write-series-node.js';
export { readDicomSeg, writeDicomSeg } from './volume/dicom/seg-node.js';
export { parseSegNrrd, formatSegNrrd, type SegNrrd } from './volume/seg-nrrd-node.js';
export { placeOnGrid, latticeOffset, describeGrid } from './volume/lattice.js';
export {
  writeLabelOutput,
  readAnnotationLabels,
  labelOutputFormat,
  labelsOnImageGrid,
  type LabelFormat,
} from './volume/label-io-node.js';
export { labelInfos, parseLabelNames, slicerColorTable, itkSnapLabelDescription, parseColorTable, type LabelInfo } from './labels/label-table.js';
export { labelSurface, type SurfaceOptions } from './mesh/surface.js';
export { enclosedVolume, meshBounds, clusterDecimate, type TriangleMesh } from './mesh/mesh.js';
export { writeMeshes, stlBytes, objText, type MeshFilesOptions, type MeshRow } from './mesh/mesh-files-node.js';
