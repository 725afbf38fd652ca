/**
 * The manifest of a SAM2-family model split into ONNX graphs (MedSAM2 and SAM2.1 exports): `keyslice-model.json`
 * with `"format": "sam2"` beside the graphs and the constants (`.npy`). The graph contract, the roles below and
 * the settings are documented in docs/medsam2.md; tensor names default to that contract's.
 *
 * ```json
 * {
 *   "format": "sam2",
 *   "name": "MedSAM2",
 *   "inputSize": 512,
 *   "graphs": { "imageEncoder": "image_encoder.onnx", "maskDecoder": "mask_decoder.onnx",
 *               "memoryEncoder": "memory_encoder.onnx", "memoryAttention": "memory_attention.onnx" },
 *   "constants": { "noMemEmbed": "no_mem_embed.npy", "noObjPtr": "no_obj_ptr.npy",
 *                  "maskmemTposEnc": "maskmem_tpos_enc.npy", "noObjEmbedSpatial": "no_obj_embed_spatial.npy",
 *                  "maskDownsampleWeight": "mask_downsample_weight.npy", "maskDownsampleBias": "mask_downsample_bias.npy",
 *                  "objPtrTposProjWeight": "obj_ptr_tpos_proj_weight.npy", "objPtrTposProjBias": "obj_ptr_tpos_proj_bias.npy" }
 * }
 * ```
 */
import { KeysliceError } from '../../util/errors.js';
import { SAM_MEAN, SAM_STD, type ResizeMode } from '../sam/manifest.js';

export const SAM2_GRAPHS = ['imageEncoder', 'maskDecoder', 'memoryEncoder', 'memoryAttention', 'maskDownsample', 'objPtrTposProj'] as const;
export type Sam2GraphName = (typeof SAM2_GRAPHS)[number];
/** Graphs every model needs (the two projections may be given as constants instead). */
export const REQUIRED_GRAPHS: readonly Sam2GraphName[] = ['imageEncoder', 'maskDecoder', 'memoryEncoder', 'memoryAttention'];

export const SAM2_CONSTANTS = [
  'noMemEmbed',
  'noObjPtr',
  'maskmemTposEnc',
  'noObjEmbedSpatial',
  'maskDownsampleWeight',
  'maskDownsampleBias',
  'objPtrTposProjWeight',
  'objPtrTposProjBias',
] as const;
export type Sam2ConstantName = (typeof SAM2_CONSTANTS)[number];

/**
 * Tensor roles per graph and their default names; `null` in a manifest says the graph has no such tensor (only
 * for the roles marked optional in {@link OPTIONAL_ROLES}).
 */
export const SAM2_DEFAULT_TENSORS = {
  imageEncoder: {
    image: 'image',
    pixFeat: 'pix_feat',
    highResFeats0: 'high_res_feats_0',
    highResFeats1: 'high_res_feats_1',
    visionPosEmbed: 'vision_pos_embed',
  },
  maskDecoder: {
    imageEmbed: 'image_embed',
    highResFeats0: 'high_res_feats_0',
    highResFeats1: 'high_res_feats_1',
    pointCoords: 'point_coords',
    pointLabels: 'point_labels',
    maskInput: 'mask_input',
    hasMaskInput: 'has_mask_input',
    frameSize: null as string | null,
    lowResMasks: 'low_res_masks',
    iouPred: 'iou_pred',
    objPtr: 'obj_ptr',
    objectScoreLogits: 'object_score_logits',
  },
  memoryEncoder: {
    pixFeat: 'pix_feat',
    maskForMem: 'mask_for_mem',
    objectScoreLogits: 'object_score_logits',
    maskmemFeatures: 'maskmem_features',
    maskmemPosEnc: 'maskmem_pos_enc',
    temporalCode: null as string | null,
  },
  memoryAttention: {
    curr: 'curr',
    currPos: 'curr_pos',
    memory: 'memory',
    memoryPos: 'memory_pos',
    objPtrTokens: 'obj_ptr_tokens',
    objPtrPos: 'obj_ptr_pos',
    memoryMask: null as string | null,
    objPtrMask: null as string | null,
    numObjPtrs: null as string | null,
    pixFeatWithMem: 'pix_feat_with_mem',
  },
};

export type Sam2Tensors = { [G in keyof typeof SAM2_DEFAULT_TENSORS]: { [R in keyof (typeof SAM2_DEFAULT_TENSORS)[G]]: string | null } };

/** Roles that may be null (absent from the graph). */
export const OPTIONAL_ROLES: { [G in keyof Sam2Tensors]: readonly string[] } = {
  imageEncoder: ['highResFeats0', 'highResFeats1'],
  maskDecoder: ['highResFeats0', 'highResFeats1', 'maskInput', 'hasMaskInput', 'frameSize', 'iouPred', 'objectScoreLogits'],
  memoryEncoder: ['objectScoreLogits', 'temporalCode'],
  memoryAttention: ['objPtrTokens', 'objPtrPos', 'memoryMask', 'objPtrMask', 'numObjPtrs'],
};

/** Output roles per graph (the rest are inputs). */
export const OUTPUT_ROLES: { [G in keyof Sam2Tensors]: readonly string[] } = {
  imageEncoder: ['pixFeat', 'highResFeats0', 'highResFeats1', 'visionPosEmbed'],
  maskDecoder: ['lowResMasks', 'iouPred', 'objPtr', 'objectScoreLogits'],
  memoryEncoder: ['maskmemFeatures', 'maskmemPosEnc', 'temporalCode'],
  memoryAttention: ['pixFeatWithMem'],
};

export interface Sam2Settings {
  /** Memories per frame: the conditioning slot and numMaskmem - 1 recent frames (default: the temporal table's rows, SAM2's 7). */
  numMaskmem: number;
  /** Object pointers per frame (default 16). */
  maxObjPtrs: number;
  /** Conditioning frames attended to, closest first; 0 or less: all (default -1, SAM2.1). */
  maxConditioningFrames: number;
  /** Several candidate masks while tracking, the best by predicted IoU (default true, SAM2.1). */
  multimaskForTracking: boolean;
  /** Prompts with at most this many points get several candidate masks (a box counts as two; default 1). */
  multimaskMaxPoints: number;
  /** Single-mask output falls back to the best candidate when unstable (SAM2's video predictor; default true). */
  dynamicStability: boolean;
  stabilityDelta: number;
  stabilityThreshold: number;
  /** Memories of prompted key slices are encoded from the binarised mask (SAM2's video predictor; default true). */
  binarizeMaskFromPrompts: boolean;
  /** mask_for_mem = sigmoid(logits) * scale + bias (default 20, -10). */
  maskForMemScale: number;
  maskForMemBias: number;
  /** The memory attention graph expects the current feature with no_mem_embed added (some exports; default false). */
  currIncludesNoMemEmbed: boolean;
}

export const DEFAULT_SAM2_SETTINGS: Sam2Settings = {
  numMaskmem: 7,
  maxObjPtrs: 16,
  maxConditioningFrames: -1,
  multimaskForTracking: true,
  multimaskMaxPoints: 1,
  dynamicStability: true,
  stabilityDelta: 0.05,
  stabilityThreshold: 0.98,
  binarizeMaskFromPrompts: true,
  maskForMemScale: 20,
  maskForMemBias: -10,
  currIncludesNoMemEmbed: false,
};

export interface Sam2Manifest {
  format: 'sam2';
  name: string;
  inputSize: number;
  resize: ResizeMode;
  /** Per channel on the 0..255 scale (ImageNet mean and std by default, as MedSAM2). */
  mean: [number, number, number];
  std: [number, number, number];
  /** Graph paths (absolute once read from disk); null when not given. */
  graphs: Record<Sam2GraphName, string | null>;
  constants: Record<Sam2ConstantName, string | null>;
  tensors: Sam2Tensors;
  settings: Sam2Settings;
  /** Whether `numMaskmem` was set explicitly (else it follows the temporal table). */
  numMaskmemGiven: boolean;
}

function fail(file: string, message: string): never {
  throw new KeysliceError('INVALID_MODEL', message, file);
}

function object(file: string, field: string, v: unknown): Record<string, unknown> {
  if (v === undefined) return {};
  if (!v || typeof v !== 'object' || Array.isArray(v)) fail(file, `"${field}" must be an object`);
  return v as Record<string, unknown>;
}

function triple(file: string, field: string, v: unknown, fallback: [number, number, number], positive: boolean): [number, number, number] {
  if (v === undefined) return fallback;
  if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x) && (!positive || x > 0))) {
    fail(file, `"${field}" must be three ${positive ? 'positive ' : ''}numbers (R, G, B on the 0..255 scale)`);
  }
  return [v[0], v[1], v[2]];
}

/** Checks a parsed `"format": "sam2"` manifest and fills in defaults; paths stay as written. */
export function parseSam2Manifest(json: unknown, file: string): Sam2Manifest {
  const m = object(file, 'the manifest', json);
  if (m.format !== 'sam2') fail(file, `"format" must be "sam2" for a SAM2-family model (got ${JSON.stringify(m.format)})`);
  const known = new Set(['format', 'name', 'inputSize', 'resize', 'mean', 'std', 'graphs', 'constants', 'tensors', 'settings']);
  for (const k of Object.keys(m)) if (!known.has(k)) fail(file, `"${k}" is not a field of a sam2 manifest (fields: ${[...known].join(', ')})`);
  const inputSize = m.inputSize ?? 512;
  if (typeof inputSize !== 'number' || !Number.isInteger(inputSize) || inputSize < 16 || inputSize % 16 !== 0) {
    fail(file, `"inputSize" must be a positive multiple of 16 (got ${JSON.stringify(inputSize)})`);
  }
  const resize = m.resize ?? 'stretch';
  if (resize !== 'stretch' && resize !== 'longest-side') fail(file, `"resize" must be "stretch" or "longest-side" (got ${JSON.stringify(resize)})`);

  const g = object(file, 'graphs', m.graphs);
  for (const k of Object.keys(g)) if (!(SAM2_GRAPHS as readonly string[]).includes(k)) fail(file, `"graphs.${k}" is not a graph of this format (graphs: ${SAM2_GRAPHS.join(', ')})`);
  const graphs = {} as Record<Sam2GraphName, string | null>;
  for (const k of SAM2_GRAPHS) {
    const v = g[k];
    if (v === undefined || v === null) {
      if (REQUIRED_GRAPHS.includes(k)) fail(file, `"graphs.${k}" must name the ${k} graph (an .onnx file beside the manifest)`);
      graphs[k] = null;
    } else if (typeof v !== 'string' || !v) fail(file, `"graphs.${k}" must be a file name`);
    else graphs[k] = v;
  }

  const c = object(file, 'constants', m.constants);
  for (const k of Object.keys(c)) if (!(SAM2_CONSTANTS as readonly string[]).includes(k)) fail(file, `"constants.${k}" is not a constant of this format (constants: ${SAM2_CONSTANTS.join(', ')})`);
  const constants = {} as Record<Sam2ConstantName, string | null>;
  for (const k of SAM2_CONSTANTS) {
    const v = c[k];
    if (v === undefined || v === null) constants[k] = null;
    else if (typeof v !== 'string' || !v) fail(file, `"constants.${k}" must be a file name (.npy)`);
    else constants[k] = v;
  }
  if (!constants.noMemEmbed) fail(file, '"constants.noMemEmbed" is required (the no-memory embedding added to a key slice\'s features)');
  const pairs: [Sam2ConstantName, Sam2ConstantName, Sam2GraphName][] = [
    ['maskDownsampleWeight', 'maskDownsampleBias', 'maskDownsample'],
    ['objPtrTposProjWeight', 'objPtrTposProjBias', 'objPtrTposProj'],
  ];
  for (const [w, b, graph] of pairs) {
    if (!constants[w] !== !constants[b]) fail(file, `"constants.${w}" and "constants.${b}" go together`);
    if (constants[w] && graphs[graph]) fail(file, `give either "graphs.${graph}" or the constants "${w}"/"${b}", not both`);
  }

  const t = object(file, 'tensors', m.tensors);
  const tensors = {} as Sam2Tensors;
  for (const graph of Object.keys(SAM2_DEFAULT_TENSORS) as (keyof Sam2Tensors)[]) {
    const given = object(file, `tensors.${graph}`, t[graph]);
    const defaults = SAM2_DEFAULT_TENSORS[graph] as Record<string, string | null>;
    for (const k of Object.keys(given)) if (!(k in defaults)) fail(file, `"tensors.${graph}.${k}" is not a role of the ${graph} graph (roles: ${Object.keys(defaults).join(', ')})`);
    const out: Record<string, string | null> = {};
    for (const [role, def] of Object.entries(defaults)) {
      const v = given[role];
      if (v === undefined) out[role] = def;
      else if (v === null) {
        if (!OPTIONAL_ROLES[graph].includes(role)) fail(file, `"tensors.${graph}.${role}" cannot be null: every model needs it`);
        out[role] = null;
      } else if (typeof v !== 'string' || !v) fail(file, `"tensors.${graph}.${role}" must be a tensor name${OPTIONAL_ROLES[graph].includes(role) ? ' or null' : ''}`);
      else out[role] = v;
    }
    (tensors as Record<string, Record<string, string | null>>)[graph] = out;
  }
  for (const [graph, pair] of [['maskDecoder', ['maskInput', 'hasMaskInput']]] as const) {
    const r = tensors[graph] as Record<string, string | null>;
    if ((r[pair[0]] === null) !== (r[pair[1]] === null)) fail(file, `"tensors.${graph}.${pair[0]}" and "${pair[1]}" go together: name both or neither`);
  }

  const s = object(file, 'settings', m.settings);
  const settings: Sam2Settings = { ...DEFAULT_SAM2_SETTINGS };
  for (const [k, v] of Object.entries(s)) {
    if (!(k in DEFAULT_SAM2_SETTINGS)) fail(file, `"settings.${k}" is not a setting (settings: ${Object.keys(DEFAULT_SAM2_SETTINGS).join(', ')})`);
    const def = DEFAULT_SAM2_SETTINGS[k as keyof Sam2Settings];
    if (typeof def === 'boolean') {
      if (typeof v !== 'boolean') fail(file, `"settings.${k}" must be true or false`);
    } else if (typeof v !== 'number' || !Number.isFinite(v)) fail(file, `"settings.${k}" must be a number`);
    (settings as unknown as Record<string, unknown>)[k] = v;
  }
  for (const k of ['numMaskmem', 'maxObjPtrs', 'multimaskMaxPoints'] as const) {
    if (!Number.isInteger(settings[k]) || settings[k] < (k === 'multimaskMaxPoints' ? 0 : 1)) fail(file, `"settings.${k}" must be a whole number >= ${k === 'multimaskMaxPoints' ? 0 : 1}`);
  }
  if (!Number.isInteger(settings.maxConditioningFrames) || (settings.maxConditioningFrames > 0 && settings.maxConditioningFrames < 2)) {
    fail(file, '"settings.maxConditioningFrames" must be a whole number: 2 or more, or 0 / -1 for all');
  }
  return {
    format: 'sam2',
    name: typeof m.name === 'string' && m.name ? m.name : 'SAM2 model',
    inputSize,
    resize,
    mean: triple(file, 'mean', m.mean, SAM_MEAN, false),
    std: triple(file, 'std', m.std, SAM_STD, true),
    graphs,
    constants,
    tensors,
    settings,
    numMaskmemGiven: 'numMaskmem' in s,
  };
}
