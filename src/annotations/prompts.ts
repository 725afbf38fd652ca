/**
 * The prompts file (JSON, version 1): per label, key slices with a box (or several: one per instance of the
 * object on the slice), positive/negative points, or "empty".
 * Parsing checks the structure and names the offending field in every message; checks against the image
 * (slice range, coordinates inside the slice) happen in `buildAnnotations`.
 */
import type { Box, Point } from './types.js';
import { KeysliceError } from '../util/errors.js';
import type { SliceAxis } from '../volume/volume.js';

export const PROMPTS_VERSION = 1;

export interface PromptKeySlice {
  slice: number;
  box?: Box;
  /** Several boxes, one per instance of the object on the slice (not with `box`). */
  boxes?: Box[];
  points?: Point[];
  negativePoints?: Point[];
  empty?: boolean;
}

export interface PromptLabel {
  value: number;
  name?: string;
  color?: [number, number, number];
  keySlices: PromptKeySlice[];
}

export interface PromptsFile {
  version: 1;
  sliceAxis?: SliceAxis;
  labels: PromptLabel[];
}

type Json = unknown;

class Fail extends Error {}

function fail(field: string, msg: string): never {
  throw new Fail(`${field}: ${msg}`);
}

function isObject(x: Json): x is Record<string, Json> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function int(x: Json, field: string, min = 0): number {
  if (typeof x !== 'number' || !Number.isInteger(x)) fail(field, `must be a whole number, got ${JSON.stringify(x)}`);
  if (x < min) fail(field, `must be >= ${min}, got ${x}`);
  return x;
}

function point(x: Json, field: string): Point {
  if (!Array.isArray(x) || x.length !== 2) fail(field, 'must be [i, j]');
  return [int(x[0], `${field}[0]`), int(x[1], `${field}[1]`)];
}

function pointList(x: Json, field: string): Point[] {
  if (!Array.isArray(x)) fail(field, 'must be a list of [i, j] points');
  return x.map((p, n) => point(p, `${field}[${n}]`));
}

function checkKeys(o: Record<string, Json>, allowed: string[], field: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) fail(field, `unknown field "${k}" (allowed: ${allowed.join(', ')})`);
  }
}

const KEY_SLICE_FIELDS = ['slice', 'box', 'boxes', 'points', 'negativePoints', 'empty'];

function box(b: Json, field: string): Box {
  if (!Array.isArray(b) || b.length !== 4) fail(field, 'must be [i0, j0, i1, j1]');
  const out = b.map((v, n) => int(v, `${field}[${n}]`)) as Box;
  if (out[0] > out[2] || out[1] > out[3]) fail(field, `corners must satisfy i0 <= i1 and j0 <= j1, got ${JSON.stringify(out)}`);
  return out;
}

function keySlice(x: Json, field: string, extra: string[] = []): PromptKeySlice {
  if (!isObject(x)) fail(field, 'must be an object');
  checkKeys(x, [...KEY_SLICE_FIELDS, ...extra], field);
  if (x.slice === undefined) fail(`${field}.slice`, 'is required');
  const ks: PromptKeySlice = { slice: int(x.slice, `${field}.slice`) };
  if (x.box !== undefined) ks.box = box(x.box, `${field}.box`);
  if (x.boxes !== undefined) {
    if (x.box !== undefined) fail(field, 'give "box" or "boxes", not both');
    if (!Array.isArray(x.boxes) || x.boxes.length === 0) fail(`${field}.boxes`, 'must be a non-empty list of [i0, j0, i1, j1] boxes');
    const boxes = x.boxes.map((b, n) => box(b, `${field}.boxes[${n}]`));
    // One box in the list is the one-box form.
    if (boxes.length === 1) ks.box = boxes[0];
    else ks.boxes = boxes;
  }
  if (x.points !== undefined) ks.points = pointList(x.points, `${field}.points`);
  if (x.negativePoints !== undefined) ks.negativePoints = pointList(x.negativePoints, `${field}.negativePoints`);
  if (x.empty !== undefined) {
    if (typeof x.empty !== 'boolean') fail(`${field}.empty`, 'must be true or false');
    ks.empty = x.empty;
  }
  const prompted = ks.box !== undefined || ks.boxes !== undefined || (ks.points?.length ?? 0) > 0;
  if (ks.empty && prompted) fail(field, '"empty": true cannot be combined with a box or points');
  if (!ks.empty && !prompted && !(ks.negativePoints?.length)) {
    fail(field, 'needs a "box", "boxes", "points", "negativePoints" or "empty": true');
  }
  return ks;
}

function color(x: Json, field: string): [number, number, number] {
  if (!Array.isArray(x) || x.length !== 3) fail(field, 'must be [r, g, b] with values 0..255');
  const c = x.map((v, n) => int(v, `${field}[${n}]`)) as [number, number, number];
  if (c.some((v) => v > 255)) fail(field, 'values must be 0..255');
  return c;
}

/**
 * Validates a parsed prompts document. Labels may also be given a flat top-level `keySlices` list whose entries
 * name their label by value or name (`"label": 1` or `"label": "spleen"`); those are merged into the labels.
 */
export function parsePrompts(doc: Json, file = 'prompts'): PromptsFile {
  try {
    if (!isObject(doc)) fail('(top level)', 'must be a JSON object');
    checkKeys(doc, ['version', 'sliceAxis', 'labels', 'keySlices', '$schema', 'description'], '(top level)');
    if (doc.version !== PROMPTS_VERSION) {
      fail('version', `must be ${PROMPTS_VERSION}, got ${JSON.stringify(doc.version)}`);
    }
    const out: PromptsFile = { version: 1, labels: [] };
    if (doc.sliceAxis !== undefined) {
      const a = int(doc.sliceAxis, 'sliceAxis');
      if (a > 2) fail('sliceAxis', `must be 0, 1 or 2, got ${a}`);
      out.sliceAxis = a as SliceAxis;
    }
    if (!Array.isArray(doc.labels) || doc.labels.length === 0) fail('labels', 'must be a non-empty list');
    const byValue = new Map<number, PromptLabel>();
    const byName = new Map<string, PromptLabel>();
    doc.labels.forEach((l, n) => {
      const f = `labels[${n}]`;
      if (!isObject(l)) fail(f, 'must be an object');
      checkKeys(l, ['value', 'name', 'color', 'keySlices'], f);
      const value = int(l.value, `${f}.value`, 1);
      if (value > 65535) fail(`${f}.value`, `must be <= 65535, got ${value}`);
      if (byValue.has(value)) fail(`${f}.value`, `label ${value} is defined twice`);
      const label: PromptLabel = { value, keySlices: [] };
      if (l.name !== undefined) {
        if (typeof l.name !== 'string' || l.name === '') fail(`${f}.name`, 'must be a non-empty string');
        if (byName.has(l.name)) fail(`${f}.name`, `name "${l.name}" is used twice`);
        label.name = l.name;
        byName.set(l.name, label);
      }
      if (l.color !== undefined) label.color = color(l.color, `${f}.color`);
      if (l.keySlices !== undefined) {
        if (!Array.isArray(l.keySlices)) fail(`${f}.keySlices`, 'must be a list');
        label.keySlices = l.keySlices.map((k, m) => keySlice(k, `${f}.keySlices[${m}]`));
      }
      byValue.set(value, label);
      out.labels.push(label);
    });
    if (doc.keySlices !== undefined) {
      if (!Array.isArray(doc.keySlices)) fail('keySlices', 'must be a list');
      doc.keySlices.forEach((k, m) => {
        const f = `keySlices[${m}]`;
        const ks = keySlice(k, f, ['label']);
        const ref = (k as Record<string, Json>).label;
        const label =
          typeof ref === 'number' ? byValue.get(ref) : typeof ref === 'string' ? byName.get(ref) : undefined;
        if (ref === undefined) fail(`${f}.label`, 'is required (a label value or name from "labels")');
        if (label === undefined) {
          const known = out.labels.map((l) => (l.name ? `${l.value} (${l.name})` : `${l.value}`)).join(', ');
          fail(`${f}.label`, `unknown label ${JSON.stringify(ref)}; defined labels: ${known}`);
        }
        label.keySlices.push(ks);
      });
    }
    for (const l of out.labels) {
      const seen = new Set<number>();
      for (const k of l.keySlices) {
        if (seen.has(k.slice)) {
          fail(`labels (value ${l.value})`, `slice ${k.slice} is given twice; put all prompts of a slice in one entry`);
        }
        seen.add(k.slice);
      }
      l.keySlices.sort((a, b) => a.slice - b.slice);
    }
    out.labels.sort((a, b) => a.value - b.value);
    return out;
  } catch (err) {
    if (err instanceof Fail) throw new KeysliceError('INVALID_PROMPTS', err.message, file);
    throw err;
  }
}

/** Parses the text of a prompts file. */
export function parsePromptsText(text: string, file = 'prompts'): PromptsFile {
  let doc: Json;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new KeysliceError('INVALID_PROMPTS', `not valid JSON (${(err as Error).message})`, file);
  }
  return parsePrompts(doc, file);
}
