/**
 * The manifest of a SAM v1-format model: an image encoder and a prompt decoder as two ONNX graphs, with the
 * input size, the normalisation and the tensor names. A directory given with `--model DIR` holds
 * `keyslice-model.json` (this manifest) beside the graphs. Tensor names default to those of the standard SAM
 * decoder export; the encoder's default to its only input and output.
 *
 * ```json
 * {
 *   "format": "sam",
 *   "name": "my LiteMedSAM export",
 *   "encoder": "encoder.onnx",
 *   "decoder": "decoder.onnx",
 *   "inputSize": 1024,
 *   "resize": "longest-side",
 *   "mean": [123.675, 116.28, 103.53],
 *   "std": [58.395, 57.12, 57.375],
 *   "tensors": { "image": "input", "embeddings": "output" }
 * }
 * ```
 */
import { KeysliceError } from '../../util/errors.js';

/** How a slice (crop) is brought to the model's square input. */
export type ResizeMode =
  /** Longest side to `inputSize` keeping the aspect ratio (square pixels in mm), zero padding bottom/right (SAM). */
  | 'longest-side'
  /** Both sides to `inputSize` (aspect not kept, as MedSAM2). */
  | 'stretch';

export interface SamTensorNames {
  /** Encoder input [1,3,S,S] (default: the encoder's only input). */
  image: string;
  /** Encoder output [1,C,h,w] (default: the encoder's only output). */
  embeddings: string;
  /** Decoder inputs. */
  imageEmbeddings: string;
  pointCoords: string;
  pointLabels: string;
  /** Optional decoder inputs (null: the graph has none). */
  maskInput: string | null;
  hasMaskInput: string | null;
  origImSize: string | null;
  /** Decoder outputs: logits at 4h x 4w (`lowResMasks`) and/or at the original size (`masks`), and predicted IoU. */
  lowResMasks: string | null;
  masks: string | null;
  iouPredictions: string;
}

export interface SamManifest {
  format: 'sam';
  name: string;
  /** Graph paths (absolute once loaded). */
  encoder: string;
  decoder: string;
  inputSize: number;
  resize: ResizeMode;
  /** Per channel (R, G, B), on the 0..255 scale of the windowed slice. */
  mean: [number, number, number];
  std: [number, number, number];
  tensors: SamTensorNames;
}

export const MANIFEST_FILE = 'keyslice-model.json';

export const SAM_DEFAULT_TENSORS: Omit<SamTensorNames, 'image' | 'embeddings'> = {
  imageEmbeddings: 'image_embeddings',
  pointCoords: 'point_coords',
  pointLabels: 'point_labels',
  maskInput: 'mask_input',
  hasMaskInput: 'has_mask_input',
  origImSize: 'orig_im_size',
  lowResMasks: 'low_res_masks',
  masks: 'masks',
  iouPredictions: 'iou_predictions',
};

/** SAM's ImageNet normalisation on 0..255. */
export const SAM_MEAN: [number, number, number] = [123.675, 116.28, 103.53];
export const SAM_STD: [number, number, number] = [58.395, 57.12, 57.375];

function fail(file: string, message: string): never {
  throw new KeysliceError('INVALID_MODEL', message, file);
}

function triple(file: string, field: string, v: unknown, positive: boolean): [number, number, number] {
  if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x) && (!positive || x > 0))) {
    fail(file, `"${field}" must be three ${positive ? 'positive ' : ''}numbers (R, G, B on the 0..255 scale)`);
  }
  return [v[0], v[1], v[2]];
}

/**
 * Checks a parsed manifest and fills in defaults. Graph paths stay as written (relative to the manifest's
 * directory); `file` names the manifest in errors. Encoder tensor names may be left empty ('') to be taken
 * from the graph.
 */
export function parseSamManifest(json: unknown, file: string): SamManifest {
  if (!json || typeof json !== 'object' || Array.isArray(json)) fail(file, 'the manifest must be a JSON object');
  const m = json as Record<string, unknown>;
  const format = m.format ?? 'sam';
  if (format !== 'sam') fail(file, `"format" is "${String(format)}"; this engine reads "sam" (an image encoder and a prompt decoder)`);
  for (const f of ['encoder', 'decoder']) {
    if (typeof m[f] !== 'string' || !(m[f] as string).length) fail(file, `"${f}" must name the ${f} graph (an .onnx file beside the manifest)`);
  }
  const inputSize = m.inputSize ?? 1024;
  if (typeof inputSize !== 'number' || !Number.isInteger(inputSize) || inputSize < 16 || inputSize % 16 !== 0) {
    fail(file, `"inputSize" must be a positive multiple of 16 (got ${JSON.stringify(inputSize)})`);
  }
  const resize = m.resize ?? 'longest-side';
  if (resize !== 'longest-side' && resize !== 'stretch') fail(file, `"resize" must be "longest-side" or "stretch" (got ${JSON.stringify(resize)})`);
  const t = (m.tensors ?? {}) as Record<string, unknown>;
  if (typeof t !== 'object' || Array.isArray(t)) fail(file, '"tensors" must be an object mapping roles to tensor names');
  const known = new Set(['image', 'embeddings', ...Object.keys(SAM_DEFAULT_TENSORS)]);
  for (const k of Object.keys(t)) if (!known.has(k)) fail(file, `"tensors.${k}" is not a role this engine knows (roles: ${[...known].join(', ')})`);
  const name = (role: string, fallback: string | null, optional: boolean): string | null => {
    const v = t[role];
    if (v === undefined) return fallback;
    if (v === null && optional) return null;
    if (typeof v !== 'string' || !v.length) fail(file, `"tensors.${role}" must be a tensor name${optional ? ' or null' : ''}`);
    return v;
  };
  const d = SAM_DEFAULT_TENSORS;
  const tensors: SamTensorNames = {
    image: name('image', '', false) as string,
    embeddings: name('embeddings', '', false) as string,
    imageEmbeddings: name('imageEmbeddings', d.imageEmbeddings, false) as string,
    pointCoords: name('pointCoords', d.pointCoords, false) as string,
    pointLabels: name('pointLabels', d.pointLabels, false) as string,
    maskInput: name('maskInput', d.maskInput, true),
    hasMaskInput: name('hasMaskInput', d.hasMaskInput, true),
    origImSize: name('origImSize', d.origImSize, true),
    lowResMasks: name('lowResMasks', d.lowResMasks, true),
    masks: name('masks', d.masks, true),
    iouPredictions: name('iouPredictions', d.iouPredictions, false) as string,
  };
  if (!tensors.lowResMasks && !tensors.masks) fail(file, 'the decoder needs a mask output: "tensors.lowResMasks" or "tensors.masks"');
  return {
    format: 'sam',
    name: typeof m.name === 'string' && m.name ? m.name : 'SAM model',
    encoder: m.encoder as string,
    decoder: m.decoder as string,
    inputSize,
    resize,
    mean: m.mean === undefined ? SAM_MEAN : triple(file, 'mean', m.mean, false),
    std: m.std === undefined ? SAM_STD : triple(file, 'std', m.std, true),
    tensors,
  };
}
