/**
 * The JSON shapes a session takes and gives over HTTP (see `keyslice serve` and {@link RemoteSession}): key
 * slices with masks as run lengths, slice updates with the changed box and its run lengths. Browser-safe.
 */
import type { Box, Point } from '../annotations/types.js';
import { KeysliceError } from '../util/errors.js';
import { decodeRle, encodeRle, type MaskBox } from './rle.js';
import type { KeySlicePrompt, SliceUpdate, UpdateSource } from './types.js';

/** A mask on the wire: run lengths over `box` (the whole slice when absent). */
export interface WireMask {
  rle: number[];
  box?: MaskBox;
}

export type WireKeySlice =
  | { mask: WireMask; name?: string }
  | { box?: Box; boxes?: Box[]; points?: Point[]; negativePoints?: Point[]; name?: string }
  | { absent: true; name?: string };

/** One line of a propagation stream. */
export type WireStreamLine =
  | {
      type: 'slice';
      label: number;
      slice: number;
      source: UpdateSource;
      /** Box around the slice's mask, or null when it is empty. */
      box: MaskBox | null;
      /** Run lengths of the mask inside `box` ([] when the box is null). */
      rle: number[];
      confidence: number;
      cached: boolean;
      /** False for a front's provisional update; see `SliceUpdate.final`. */
      final: boolean;
      done: number;
      total: number;
    }
  /** A label is done (its final slices were sent before this line). */
  | { type: 'label'; label: number; done: number; total: number }
  | { type: 'end'; slices: number; seconds: number }
  | { type: 'error'; error: { code: string; message: string } };

/** A mask for the wire, cut to its box. */
export function encodeMask(mask: Uint8Array, nu: number, nv: number, box: MaskBox | null): WireMask {
  return box ? { box, rle: encodeRle(mask, nu, nv, box) } : { rle: [nu * nv] };
}

export function encodeKeySlice(key: KeySlicePrompt, nu: number, nv: number, box: MaskBox | null = null): WireKeySlice {
  if ('absent' in key) return { absent: true };
  if ('mask' in key) return { mask: box ? encodeMask(key.mask, nu, nv, box) : { rle: encodeRle(key.mask, nu, nv) } };
  return key;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function intList(x: unknown, n: number, field: string): number[] {
  if (!Array.isArray(x) || x.length !== n || !x.every((v) => typeof v === 'number' && Number.isInteger(v))) {
    throw new KeysliceError('INVALID_PROMPTS', `${field} must be ${n} whole numbers`);
  }
  return x as number[];
}

function points(x: unknown, field: string): Point[] | undefined {
  if (x === undefined) return undefined;
  if (!Array.isArray(x)) throw new KeysliceError('INVALID_PROMPTS', `${field} must be a list of [u, v] points`);
  return x.map((p, i) => intList(p, 2, `${field}[${i}]`) as Point);
}

/** Reads a key slice sent by a client; checks its structure and a mask's size (the session checks the rest). */
export function decodeKeySlice(x: unknown, nu: number, nv: number): { key: KeySlicePrompt; name?: string } {
  if (!isObject(x)) throw new KeysliceError('INVALID_PROMPTS', 'the key slice must be a JSON object');
  const name = x.name;
  if (name !== undefined && (typeof name !== 'string' || name.length > 200)) {
    throw new KeysliceError('INVALID_PROMPTS', 'name must be a string of at most 200 characters');
  }
  const out = (key: KeySlicePrompt) => (name === undefined ? { key } : { key, name: name as string });
  if (x.absent !== undefined) {
    if (x.absent !== true) throw new KeysliceError('INVALID_PROMPTS', 'absent must be true when given');
    return out({ absent: true });
  }
  if (x.mask !== undefined) {
    if (!isObject(x.mask)) throw new KeysliceError('INVALID_ANNOTATION', 'mask must be {"rle": [...], "box"?: [u0, v0, u1, v1]}');
    return out({ mask: decodeRle(x.mask.rle, nu, nv, x.mask.box ?? null) });
  }
  const key: { box?: Box; boxes?: Box[]; points?: Point[]; negativePoints?: Point[] } = {};
  if (x.box !== undefined) key.box = intList(x.box, 4, 'box') as Box;
  if (x.boxes !== undefined) {
    if (!Array.isArray(x.boxes) || x.boxes.length === 0) throw new KeysliceError('INVALID_PROMPTS', 'boxes must be a non-empty list of [u0, v0, u1, v1] boxes');
    key.boxes = x.boxes.map((b, i) => intList(b, 4, `boxes[${i}]`) as Box);
  }
  const p = points(x.points, 'points');
  if (p) key.points = p;
  const np = points(x.negativePoints, 'negativePoints');
  if (np) key.negativePoints = np;
  if (!key.box && !key.boxes && !key.points?.length) {
    throw new KeysliceError('INVALID_PROMPTS', 'a key slice needs a mask, a box, points, or "absent": true');
  }
  return out(key);
}

/** A mask sent alone (`correct`). */
export function decodeMask(x: unknown, nu: number, nv: number): Uint8Array {
  if (!isObject(x)) throw new KeysliceError('INVALID_ANNOTATION', 'mask must be {"rle": [...], "box"?: [u0, v0, u1, v1]}');
  return decodeRle(x.rle, nu, nv, x.box ?? null);
}

export function encodeUpdate(u: SliceUpdate, nu: number, nv: number): WireStreamLine {
  return {
    type: 'slice',
    label: u.label,
    slice: u.slice,
    source: u.source,
    box: u.box,
    rle: u.box ? encodeRle(u.mask, nu, nv, u.box) : [],
    confidence: u.confidence,
    cached: u.cached,
    final: u.final,
    done: u.done,
    total: u.total,
  };
}

export function decodeUpdate(line: Extract<WireStreamLine, { type: 'slice' }>, nu: number, nv: number): SliceUpdate {
  return {
    label: line.label,
    slice: line.slice,
    source: line.source,
    box: line.box,
    mask: line.box ? decodeRle(line.rle, nu, nv, line.box) : new Uint8Array(nu * nv),
    confidence: line.confidence,
    cached: line.cached,
    final: line.final,
    done: line.done,
    total: line.total,
  };
}
