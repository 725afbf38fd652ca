/**
 * An adapter folder: `keyslice-adapter.json` and the ONNX graph it names.
 *
 * ```json
 * { "format": "keyslice-adapter", "version": 1, "kind": "correspondence", "mode": "self-supervised",
 *   "base": { "engine": "classic" }, "graph": "features.onnx",
 *   "correspondence": { "inputChannels": 5, "channels": 16, "radius": 3 }, "guideWeight": 1,
 *   "trainingData": { "sha256": "...", "cases": ["case_1", "case_2"] },
 *   "training": { "seed": 1, "steps": 200, "seconds": 80, "loss": [...], "validationLoss": [...] },
 *   "validation": { "cases": ["case_3"], "unadaptedDice": 0.71, "adaptedDice": 0.74, "gain": 0.03, "usable": true } }
 * ```
 *
 * A `decoder-residual` adapter (for the `sam` and `hybrid` engines) has `"residual"` instead of `"correspondence"`:
 * `{ "embeddingChannels": 256, "embeddingSide": 64, "grid": 32, "reduced": 8, "widths": [16, 16, 1] }`, and its
 * `base` names the model by name and by `modelSha256` (of its encoder and decoder graphs).
 *
 * `base` names what the adapter was trained and validated with: the engine (and, for a model engine, the model);
 * an adapter is refused by any other. `validation.usable` is true only where the adapted engine beat the
 * unadapted one on the held-out validation cases; `gain` says by how much (mean Dice).
 */
import { KeysliceError } from '../../util/errors.js';

export const ADAPTER_MANIFEST = 'keyslice-adapter.json';

export type AdapterMode = 'self-supervised' | 'supervised';

export interface AdapterValidation {
  cases: string[];
  /** Mean Dice of the unadapted and the adapted engine over the validation runs (objects x prompts x budgets). */
  unadaptedDice: number | null;
  adaptedDice: number | null;
  gain: number | null;
  runs: number;
  usable: boolean;
  /** Why it is not usable, or what it was validated on. */
  note: string;
}

/** The shape of a residual adapter on a SAM-format decoder's logits (`src/models/adapter/residual.ts`). */
export interface ResidualShape {
  /** Channels and side of the model's image embedding. */
  embeddingChannels: number;
  embeddingSide: number;
  /** Side of the grid the adapter works on (the embedding's side divided by a whole number). */
  grid: number;
  /** Channels each embedding is projected to. */
  reduced: number;
  /** Output widths of its 3 x 3 convolutions; the last is 1 (the correction). */
  widths: number[];
}

export interface AdapterManifest {
  format: 'keyslice-adapter';
  version: 1;
  kind: 'correspondence' | 'decoder-residual';
  mode: AdapterMode;
  /** `model`: the model's name; `modelSha256`: a hash of its graphs (decoder-residual adapters). */
  base: { engine: string; model?: string; modelSha256?: string };
  graph: string;
  correspondence?: { inputChannels: number; channels: number; radius: number };
  residual?: ResidualShape;
  /**
   * Weight of the carried mask's logits in each propagation cut (nats per softplus unit); for a decoder-residual
   * adapter, the factor of its correction.
   */
  guideWeight: number;
  /**
   * Decoder-residual adapters: the correction's factor on fronts from a mask key slice and on fronts from a key
   * slice the model drew from a box or points, each chosen on the validation cases (0: not used there); default
   * `guideWeight` for both.
   */
  frontWeights?: { mask: number; drawn: number };
  trainingData: { sha256: string; cases: string[] };
  /**
   * `seconds`: the optimisation; `recordSeconds` (decoder-residual adapters): the engine runs that recorded the
   * training material, cases recorded by an earlier call of the same process not counted.
   */
  training: { seed: number; steps: number; seconds: number; recordSeconds?: number; loss: number[]; validationLoss: number[]; stoppedEarly: boolean };
  validation: AdapterValidation;
}

/** Checks a parsed manifest; `file` names it in errors. */
export function checkAdapterManifest(doc: unknown, file: string): AdapterManifest {
  const bad = (m: string): never => {
    throw new KeysliceError('INVALID_MODEL', `not a keyslice adapter manifest: ${m}`, file);
  };
  if (typeof doc !== 'object' || doc === null) bad('not a JSON object');
  const d = doc as Record<string, unknown>;
  if (d.format !== 'keyslice-adapter') bad('"format" must be "keyslice-adapter"');
  if (d.version !== 1) bad(`unsupported "version" ${String(d.version)} (this keyslice reads 1)`);
  if (d.kind !== 'correspondence' && d.kind !== 'decoder-residual') bad(`unknown "kind" ${String(d.kind)}`);
  if (d.mode !== 'self-supervised' && d.mode !== 'supervised') bad('"mode" must be "self-supervised" or "supervised"');
  const base = d.base as Record<string, unknown> | undefined;
  if (typeof base?.engine !== 'string') bad('"base.engine" must name an engine');
  if (typeof d.graph !== 'string' || d.graph.includes('..')) bad('"graph" must be a file name in the adapter folder');
  const field = d.kind === 'correspondence' ? 'correspondence' : 'residual';
  const keys = d.kind === 'correspondence' ? ['inputChannels', 'channels', 'radius'] : ['embeddingChannels', 'embeddingSide', 'grid', 'reduced'];
  const c = d[field] as Record<string, unknown> | undefined;
  for (const k of keys) {
    if (!Number.isInteger(c?.[k]) || (c?.[k] as number) < 1) bad(`"${field}.${k}" must be a whole number >= 1`);
  }
  if (d.kind === 'decoder-residual') {
    const r = c as Record<string, number>;
    if (r.embeddingSide % r.grid !== 0) bad('"residual.grid" must divide "residual.embeddingSide"');
    const widths = c?.widths;
    if (!Array.isArray(widths) || !widths.length || widths.some((w) => !Number.isInteger(w) || w < 1) || widths[widths.length - 1] !== 1) {
      bad('"residual.widths" must be whole numbers >= 1 ending with 1');
    }
  }
  if (typeof d.guideWeight !== 'number' || !(d.guideWeight >= 0)) bad('"guideWeight" must be a number >= 0');
  const fw = d.frontWeights as Record<string, unknown> | undefined;
  if (fw !== undefined && !['mask', 'drawn'].every((k) => typeof fw?.[k] === 'number' && (fw[k] as number) >= 0)) bad('"frontWeights" must give numbers >= 0 for "mask" and "drawn"');
  const v = d.validation as Record<string, unknown> | undefined;
  if (typeof v?.usable !== 'boolean') bad('"validation.usable" must be true or false');
  return doc as AdapterManifest;
}

/**
 * Refuses an adapter made for another engine or model than the one it is about to serve. For a decoder-residual
 * adapter `model` is the loaded model's identity (its name and the hash of its graphs).
 */
export function checkAdapterBase(m: AdapterManifest, engine: string, model: string | { name: string; sha256: string } | undefined, file: string): void {
  if (m.base.engine !== engine) {
    throw new KeysliceError('INVALID_MODEL', `this adapter was made for engine "${m.base.engine}", not "${engine}" (use --engine ${m.base.engine}, or train one for ${engine})`, file);
  }
  if (typeof model === 'object') {
    if (m.base.modelSha256 !== model.sha256) {
      const short = (h: string | undefined) => (h ? h.slice(0, 12) : 'none');
      throw new KeysliceError(
        'INVALID_MODEL',
        `this adapter was made for the model "${m.base.model ?? 'unnamed'}" (graphs sha256 ${short(m.base.modelSha256)}), not "${model.name}" (sha256 ${short(model.sha256)}): train one for this model`,
        file,
      );
    }
    return;
  }
  if ((m.base.model ?? null) !== (model ?? null)) {
    throw new KeysliceError('INVALID_MODEL', `this adapter was made for model "${m.base.model ?? 'none'}", not "${model ?? 'none'}"`, file);
  }
}
