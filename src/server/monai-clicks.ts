/**
 * MONAI Label's click prompts (DeepGrow and DeepEdit style) as key slices. A click is `[x, y, z]`: the voxel
 * index along the image file's first, second and third axis (3D Slicer's IJK of the volume, which MONAI Label's
 * clients send, and the array order MONAI's image loader gives the models), the same order as keyslice's voxel
 * index. The clicks of a label on one slice along the session's slice axis become one key slice there: its
 * foreground clicks as positive points, and the background clicks and the other labels' clicks on that slice
 * as negative points. A slice with background clicks only is no key slice (a key slice needs a positive
 * prompt); it is named in the notes.
 *
 * `params` forms: `{"foreground": [...], "background": [...], "label"?: name or value}` (DeepGrow; the label
 * defaults to 1), or `{"<label name>": [...], ..., "background": [...]}` (DeepEdit: each key holding a list of
 * clicks names a label).
 */
import type { Point } from '../annotations/types.js';
import { HttpError } from './errors.js';
import { inPlaneAxes, type SliceAxis } from '../volume/volume.js';

export interface ClickPlane {
  axis: SliceAxis;
  /** Image size [nx, ny, nz] (voxels). */
  size: readonly [number, number, number];
}

export interface ClickLabel {
  /** A label value, or a name to find among the session's labels (a new value when none has it). */
  value?: number;
  name?: string;
  foreground: number[][];
}

export interface ClickKeySlice {
  value: number;
  name?: string;
  slice: number;
  points: Point[];
  negativePoints: Point[];
}

/** Keys of `params` that are never a label's clicks. */
const NOT_LABELS = new Set(['foreground', 'background', 'label', 'label_names', 'result_extension', 'result_dtype', 'result_compress', 'client_id', 'device', 'model', 'roi', 'sliceAxis', 'labels', 'keySlices', 'version']);

function isClickList(x: unknown): x is unknown[] {
  return Array.isArray(x) && x.length > 0 && x.every((p) => Array.isArray(p) && p.length === 3);
}

/** A click rounded to the voxel it lies in; a 400 naming it when it is not three numbers inside the image. */
export function clickVoxel(p: unknown, size: readonly number[], field: string): [number, number, number] {
  if (!Array.isArray(p) || p.length !== 3 || !p.every((c) => typeof c === 'number' && Number.isFinite(c))) {
    throw new HttpError(400, 'INVALID_PROMPTS', `${field} must be [x, y, z] voxel coordinates, got ${JSON.stringify(p)}`);
  }
  const v = p.map((c: number) => Math.round(c)) as [number, number, number];
  if (v.some((c, i) => c < 0 || c >= size[i])) {
    throw new HttpError(400, 'INVALID_PROMPTS', `${field} [${p.join(', ')}] lies outside the image (size ${size.join(' x ')})`);
  }
  return v;
}

/** The labels `params` clicks on, or null when it holds no clicks. */
export function clickLabels(params: Record<string, unknown>): { labels: ClickLabel[]; background: unknown[] } | null {
  const background = params.background === undefined ? [] : params.background;
  if (!Array.isArray(background)) throw new HttpError(400, 'INVALID_PROMPTS', 'background must be a list of [x, y, z] clicks');
  const labels: ClickLabel[] = [];
  if (params.foreground !== undefined) {
    if (!Array.isArray(params.foreground)) throw new HttpError(400, 'INVALID_PROMPTS', 'foreground must be a list of [x, y, z] clicks');
    const l = params.label;
    if (l !== undefined && !(typeof l === 'string' && l.length > 0 && l.length <= 200) && !(Number.isInteger(l) && (l as number) >= 1 && (l as number) <= 65535)) {
      throw new HttpError(400, 'INVALID_PROMPTS', 'label must be a label name or a value 1..65535');
    }
    labels.push({ ...(typeof l === 'number' ? { value: l } : typeof l === 'string' ? { name: l } : { value: 1 }), foreground: params.foreground as number[][] });
  }
  for (const [key, x] of Object.entries(params)) {
    if (NOT_LABELS.has(key) || !isClickList(x)) continue;
    labels.push({ name: key.slice(0, 200), foreground: x as number[][] });
  }
  if (labels.length === 0 && background.length === 0) return null;
  return { labels, background };
}

/**
 * The key slices of clicked labels: one per label and slice holding its foreground clicks. `valueOf` gives a
 * label's value from its name (the session's own, or a new one).
 */
export function clickKeySlices(
  params: Record<string, unknown>,
  plane: ClickPlane,
  valueOf: (name: string) => number,
): { keySlices: ClickKeySlice[]; notes: string[]; labels: { value: number; name?: string }[] } | null {
  const found = clickLabels(params);
  if (!found) return null;
  const [u, v] = inPlaneAxes(plane.axis);
  const w = plane.axis;
  const at = (p: [number, number, number]): Point => [p[u], p[v]];
  const background = found.background.map((p, i) => clickVoxel(p, plane.size, `background[${i}]`));
  const labels = found.labels.map((l, n) => ({
    value: l.value ?? valueOf(l.name as string),
    ...(l.name !== undefined ? { name: l.name } : {}),
    clicks: l.foreground.map((p, i) => clickVoxel(p, plane.size, `${l.name ?? 'foreground'}[${i}]`)),
    n,
  }));
  const keySlices: ClickKeySlice[] = [];
  for (const l of labels) {
    const slices = [...new Set(l.clicks.map((p) => p[w]))].sort((a, b) => a - b);
    for (const s of slices) {
      const others = labels.filter((o) => o.value !== l.value).flatMap((o) => o.clicks);
      keySlices.push({
        value: l.value,
        ...(l.name !== undefined ? { name: l.name } : {}),
        slice: s,
        points: l.clicks.filter((p) => p[w] === s).map(at),
        negativePoints: [...background, ...others].filter((p) => p[w] === s).map(at),
      });
    }
  }
  const clicked = new Set(keySlices.map((k) => k.slice));
  const lone = [...new Set(background.map((p) => p[w]).filter((s) => !clicked.has(s)))].sort((a, b) => a - b);
  const notes = lone.length ? [`background clicks on slice(s) ${lone.join(', ')} hold no foreground click there and set no key slice`] : [];
  return { keySlices, notes, labels: labels.map((l) => ({ value: l.value, ...(l.name !== undefined ? { name: l.name } : {}) })) };
}
