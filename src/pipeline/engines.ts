/**
 * The engine table: every engine by name, what model it needs, and how it is made. One table for Node and the
 * browser; only loading a model differs (`engines-node.ts` reads a model directory, the browser entry point
 * opens one from URLs).
 */
import { classicEngine } from '../engines/classic/engine.js';
import { hybridEngine } from '../engines/hybrid/engine.js';
import { interpolationEngine, keySlicesEngine } from '../engines/interp.js';
import { medsam2Engine } from '../engines/medsam2/engine.js';
import { samEngine } from '../engines/sam/engine.js';
import type { SamModel } from '../models/sam/model.js';
import type { Sam2Model } from '../models/sam2/model.js';
import type { SliceEngine } from '../propagation/types.js';
import { KeysliceError } from '../util/errors.js';

/** The model an engine needs: none, a SAM-format model, or a SAM2-family model. */
export type ModelKind = 'none' | 'sam' | 'sam2';

/** A loaded model of either kind. */
export type LoadedModel = { kind: 'sam'; model: SamModel } | { kind: 'sam2'; model: Sam2Model };

/** Settings of the engines that take them (each engine ignores the others). */
export interface EngineSettings {
  /**
   * `sam` and `hybrid`: slices per side of one encoder input (see `SamEngineOptions.mosaic`; default
   * {@link defaultSamMosaic}): N x N slices of a front share one encoder run where the object's crop fits a tile
   * without shrinking; 1 is one slice per input.
   */
  samMosaic?: number;
}

/**
 * The engines' default `samMosaic`: 3 for `hybrid` (its object's budget of full-size inputs goes to the key slices
 * and the first slices of each front, and the rest of each front shares tiled inputs; see `HybridOptions`), 1 for
 * `sam` (alone, the model loses much of its accuracy in a tile).
 */
export function defaultSamMosaic(name: string): number {
  return name === 'hybrid' ? 3 : 1;
}

/** The largest `samMosaic`: four slices per side, tiles of a quarter of the input's side. */
export const MAX_SAM_MOSAIC = 4;

export interface EngineSpec {
  name: string;
  model: ModelKind;
  /**
   * Makes the engine; `model` is the loaded model of the kind it needs (none for weight-free engines),
   * `settings` the engine settings given (see {@link EngineSettings}).
   */
  create(model?: LoadedModel, settings?: EngineSettings): SliceEngine;
}

function modelOf(name: string, kind: LoadedModel['kind'], model: LoadedModel | undefined): LoadedModel['model'] {
  if (!model) throw new KeysliceError('USAGE', `engine ${name} needs a ${kind === 'sam2' ? 'SAM2-family' : 'SAM-format'} model`);
  if (model.kind !== kind) throw new KeysliceError('INVALID_MODEL', `engine ${name} reads a "${kind}" model, and this one is "${model.kind}"`);
  return model.model;
}
const samOf = (name: string, m?: LoadedModel): SamModel => modelOf(name, 'sam', m) as SamModel;
const sam2Of = (name: string, m?: LoadedModel): Sam2Model => modelOf(name, 'sam2', m) as Sam2Model;

export const ENGINE_TABLE: readonly EngineSpec[] = Object.freeze([
  { name: 'classic', model: 'none', create: () => classicEngine() },
  { name: interpolationEngine.name, model: 'none', create: () => interpolationEngine },
  { name: keySlicesEngine.name, model: 'none', create: () => keySlicesEngine },
  { name: 'sam', model: 'sam', create: (m, s) => samEngine(samOf('sam', m), s?.samMosaic ? { mosaic: s.samMosaic } : {}) },
  { name: 'hybrid', model: 'sam', create: (m, s) => hybridEngine(samOf('hybrid', m), { sam: { mosaic: s?.samMosaic ?? defaultSamMosaic('hybrid') } }) },
  { name: 'medsam2', model: 'sam2', create: (m) => medsam2Engine(sam2Of('medsam2', m)) },
] satisfies EngineSpec[]);

/** Every engine's name. */
export function allEngineNames(): string[] {
  return ENGINE_TABLE.map((e) => e.name);
}

/** The table's entry for `name`; an unknown name is a usage error listing the engines. */
export function engineSpec(name: string): EngineSpec {
  const e = ENGINE_TABLE.find((x) => x.name === name);
  if (!e) throw new KeysliceError('USAGE', `unknown engine "${name}" (available: ${allEngineNames().join(', ')})`);
  return e;
}

/**
 * Checks engine settings against the engine they are given to: a usage error names the setting that engine
 * has no use for, or a value out of range.
 */
export function checkEngineSettings(name: string, settings: EngineSettings = {}): void {
  const n = settings.samMosaic;
  if (n === undefined) return;
  if (!Number.isInteger(n) || n < 1 || n > MAX_SAM_MOSAIC) {
    throw new KeysliceError('USAGE', `--sam-mosaic must be a whole number from 1 to ${MAX_SAM_MOSAIC} (slices per side of one encoder input), got "${n}"`);
  }
  if (engineSpec(name).model !== 'sam') {
    throw new KeysliceError('USAGE', `--sam-mosaic tiles the encoder input of the sam and hybrid engines; engine "${name}" has none`);
  }
}

/** The engine `name`, on `model` when it needs one, with `settings` (checked, see {@link checkEngineSettings}). */
export function createEngine(name: string, model?: LoadedModel, settings: EngineSettings = {}): SliceEngine {
  checkEngineSettings(name, settings);
  return engineSpec(name).create(model, settings);
}
