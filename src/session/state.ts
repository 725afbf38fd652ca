/**
 * The session's state: its labels and their key slices, as immutable values. Every edit is a pure function
 * from a state to a new state; bad input throws a named error before anything is built, so a failed edit
 * leaves the session as it was.
 */
import { keyBoxes, type Box, type KeySlice, type LabelAnnotation } from '../annotations/types.js';
import { withOtherLabels } from '../annotations/other-labels.js';
import { KeysliceError } from '../util/errors.js';
import type { KeySlicePrompt, LabelRef } from './types.js';

export interface LabelState {
  readonly value: number;
  readonly name?: string;
  /** Key slices in the order they were first set (a key slice set again keeps its place). */
  readonly keys: readonly KeySlice[];
}

/** Labels in the order they were first used. */
export type SessionState = readonly LabelState[];

export interface Plane {
  count: number;
  nu: number;
  nv: number;
}

const invalid = (msg: string): never => {
  throw new KeysliceError('INVALID_ANNOTATION', msg);
};

/** A label value the output can hold (1..65535). */
export function checkLabelValue(value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > 65535) invalid(`label ${String(value)}: a label value is a whole number from 1 to 65535`);
  return value;
}

function checkSlice(label: number, slice: number, plane: Plane): void {
  if (!Number.isInteger(slice) || slice < 0 || slice >= plane.count) invalid(`label ${label}: key slice ${String(slice)} is out of range 0..${plane.count - 1}`);
}

function checkPoint(label: number, slice: number, [i, j]: readonly number[], plane: Plane, what: string): void {
  if (!Number.isInteger(i) || !Number.isInteger(j) || i < 0 || j < 0 || i >= plane.nu || j >= plane.nv) {
    invalid(`label ${label}, key slice ${slice}: ${what} [${i}, ${j}] lies outside the slice (0..${plane.nu - 1}, 0..${plane.nv - 1})`);
  }
}

/** Checks a key slice against the image's slices (index, mask size, box and points inside the slice). */
export function checkKeySlice(label: number, k: KeySlice, plane: Plane): void {
  checkSlice(label, k.index, plane);
  const s = k.index;
  if (k.mask !== undefined) {
    if (!(k.mask instanceof Uint8Array)) invalid(`label ${label}, key slice ${s}: a mask is a Uint8Array`);
    if (k.mask.length !== plane.nu * plane.nv) invalid(`label ${label}, key slice ${s}: the mask holds ${k.mask.length} pixels, the slice ${plane.nu} x ${plane.nv} = ${plane.nu * plane.nv}`);
  }
  if (k.boxes !== undefined) {
    if (!Array.isArray(k.boxes) || k.boxes.length === 0) invalid(`label ${label}, key slice ${s}: boxes must list at least one box`);
    if (k.box !== undefined) invalid(`label ${label}, key slice ${s}: give box or boxes, not both`);
  }
  for (const b of keyBoxes(k)) {
    if (!Array.isArray(b) || b.length !== 4) invalid(`label ${label}, key slice ${s}: a box is [i0, j0, i1, j1]`);
    const [i0, j0, i1, j1] = b;
    checkPoint(label, s, [i0, j0], plane, 'box corner');
    checkPoint(label, s, [i1, j1], plane, 'box corner');
    if (i1 < i0 || j1 < j0) invalid(`label ${label}, key slice ${s}: box [${b.join(', ')}] has its corners the wrong way round`);
  }
  for (const p of k.points) checkPoint(label, s, p, plane, 'point');
  for (const p of k.negativePoints) checkPoint(label, s, p, plane, 'negative point');
}

/** Checks what a new key slice says: absent with no prompt, or some prompt. */
function checkPrompt(label: number, k: KeySlice): void {
  const s = k.index;
  if (k.empty && (k.mask !== undefined || keyBoxes(k).length > 0 || k.points.length > 0)) invalid(`label ${label}, key slice ${s}: an absent key slice carries no prompt`);
  if (!k.empty && k.mask === undefined && keyBoxes(k).length === 0 && k.points.length === 0) invalid(`label ${label}, key slice ${s}: no mask, box or point, and not marked absent`);
}

/** A copy of a key slice that shares no array with it (the caller's arrays may change later). */
export function copyKeySlice(k: KeySlice): KeySlice {
  return {
    ...k,
    ...(k.mask ? { mask: k.mask.slice() } : {}),
    ...(k.box ? { box: [...k.box] as Box } : {}),
    ...(k.boxes ? { boxes: k.boxes.map((b) => [...b] as Box) } : {}),
    points: k.points.map((p) => [p[0], p[1]] as [number, number]),
    negativePoints: k.negativePoints.map((p) => [p[0], p[1]] as [number, number]),
  };
}

/** The key slice a prompt describes (copied: the caller's arrays may change later). */
export function keySliceOf(label: number, slice: number, key: KeySlicePrompt, plane: Plane): KeySlice {
  let k: KeySlice;
  if ('absent' in key && key.absent) k = { index: slice, empty: true, points: [], negativePoints: [] };
  else if ('mask' in key && key.mask !== undefined && key.mask !== null) k = { index: slice, empty: false, mask: key.mask instanceof Uint8Array ? key.mask.slice() : key.mask, points: [], negativePoints: [] };
  else {
    const p = key as { box?: Box; boxes?: Box[]; points?: [number, number][]; negativePoints?: [number, number][] };
    k = {
      index: slice,
      empty: false,
      ...(p.box ? { box: [...p.box] as Box } : {}),
      ...(p.boxes !== undefined ? { boxes: Array.isArray(p.boxes) ? p.boxes.map((b) => (Array.isArray(b) ? [...b] : b) as Box) : p.boxes } : {}),
      points: (p.points ?? []).map((x) => [x[0], x[1]] as [number, number]),
      negativePoints: (p.negativePoints ?? []).map((x) => [x[0], x[1]] as [number, number]),
    };
  }
  checkKeySlice(label, k, plane);
  checkPrompt(label, k);
  return k;
}

function refOf(label: LabelRef): { value: number; name?: string } {
  const r = typeof label === 'number' ? { value: label } : label;
  checkLabelValue(r.value);
  return r;
}

/** Sets (or replaces) a key slice of a label; a new label is added at the end. */
export function withKeySlice(state: SessionState, label: LabelRef, k: KeySlice): SessionState {
  const ref = refOf(label);
  const at = state.findIndex((l) => l.value === ref.value);
  if (at < 0) return [...state, { value: ref.value, ...(ref.name !== undefined ? { name: ref.name } : {}), keys: [k] }];
  const l = state[at];
  const i = l.keys.findIndex((x) => x.index === k.index);
  const keys = i < 0 ? [...l.keys, k] : l.keys.map((x, n) => (n === i ? k : x));
  const name = ref.name ?? l.name;
  return state.map((x, n) => (n === at ? { value: l.value, ...(name !== undefined ? { name } : {}), keys } : x));
}

function labelAt(state: SessionState, value: number): number {
  const at = state.findIndex((l) => l.value === value);
  if (at < 0) {
    throw new KeysliceError('INVALID_ANNOTATION', `label ${value} is not in this session (labels: ${state.map((l) => l.value).join(', ') || 'none'})`);
  }
  return at;
}

/** Removes a key slice of a label (an error when there is none). */
export function withoutKeySlice(state: SessionState, value: number, slice: number): SessionState {
  const at = labelAt(state, value);
  const l = state[at];
  if (!l.keys.some((k) => k.index === slice)) {
    invalid(`label ${value} has no key slice ${slice} (its key slices: ${l.keys.map((k) => k.index).sort((a, b) => a - b).join(', ') || 'none'})`);
  }
  return state.map((x, n) => (n === at ? { ...l, keys: l.keys.filter((k) => k.index !== slice) } : x));
}

/** Removes a label. */
export function withoutLabel(state: SessionState, value: number): SessionState {
  const at = labelAt(state, value);
  return state.filter((_, n) => n !== at);
}

/** The state's labels as annotations (key slices in the order they were set). */
export function annotationOf(l: LabelState): LabelAnnotation {
  return { value: l.value, ...(l.name !== undefined ? { name: l.name } : {}), keySlices: [...l.keys] };
}

/**
 * The state as the engines see it: each label's key slices with a box or points take the other labels' positive
 * clicks on the same slice as negative clicks and their drawn masks there as excluded pixels (see
 * `withOtherLabels`). A label that gains nothing is the same object.
 */
export function promptedState(state: SessionState): SessionState {
  const out = withOtherLabels(state.map((l) => ({ value: l.value, keySlices: l.keys })));
  return state.map((l, n) => (out[n].keySlices === l.keys ? l : { ...l, keys: out[n].keySlices }));
}

/** Whether a label is known in the state. */
export function hasLabel(state: SessionState, value: number): boolean {
  return state.some((l) => l.value === value);
}

export { labelAt };
