/**
 * The box and point prompts the app holds for one key slice of one label: every box drawn on the slice (one per
 * instance of the object: each lesion of a scan with many), the positive and the negative points. What goes to
 * the session is built from it: one box as `box`, several as `boxes` (each is segmented alone and the slice keeps
 * their union), the points with them. Pure functions over plain values; the page keeps one per `label:slice`.
 */
import type { Box, Point } from '../annotations/types.js';
import type { KeySlicePrompt } from '../session/types.js';

export interface SlicePrompt {
  boxes: Box[];
  points: Point[];
  negativePoints: Point[];
}

/** The boxes and points of a key slice as sent (`box` or `boxes`, points); nothing for a mask or "absent". */
export function slicePromptOf(key: KeySlicePrompt | undefined): SlicePrompt {
  if (!key || 'mask' in key || 'absent' in key) return { boxes: [], points: [], negativePoints: [] };
  const boxes = key.boxes ?? (key.box ? [key.box] : []);
  return { boxes: boxes.map((b) => [...b] as Box), points: (key.points ?? []).map((p) => [...p] as Point), negativePoints: (key.negativePoints ?? []).map((p) => [...p] as Point) };
}

/** A held prompt's fields as keyslice writes them: one box as `box`, several as `boxes`, the points (empty lists left out). */
export function promptFields(p: SlicePrompt): { box?: Box; boxes?: Box[]; points?: Point[]; negativePoints?: Point[] } {
  return {
    ...(p.boxes.length === 1 ? { box: p.boxes[0] } : p.boxes.length > 1 ? { boxes: p.boxes } : {}),
    ...(p.points.length > 0 ? { points: p.points } : {}),
    ...(p.negativePoints.length > 0 ? { negativePoints: p.negativePoints } : {}),
  };
}

/**
 * The key slice to send for a held prompt ({@link promptFields}); null when it holds nothing an engine can
 * segment from (no box and no positive point: negative points wait for one).
 */
export function sessionPrompt(p: SlicePrompt): KeySlicePrompt | null {
  return p.boxes.length === 0 && p.points.length === 0 ? null : promptFields(p);
}

/** The prompt with one more box (drawn last). */
export function withBox(p: SlicePrompt | undefined, box: Box): SlicePrompt {
  const q = p ?? slicePromptOf(undefined);
  return { ...q, boxes: [...q.boxes, box] };
}

/** The prompt without its box `index` (the others and the points stay). */
export function withoutBox(p: SlicePrompt, index: number): SlicePrompt {
  return { ...p, boxes: p.boxes.filter((_, i) => i !== index) };
}

/** The prompt with one more positive or negative point. */
export function withPoint(p: SlicePrompt | undefined, point: Point, negative: boolean): SlicePrompt {
  const q = p ?? slicePromptOf(undefined);
  return negative ? { ...q, negativePoints: [...q.negativePoints, point] } : { ...q, points: [...q.points, point] };
}

/** The box holding in-plane voxel `[u, v]` (the smallest where boxes nest or overlap), or -1. */
export function boxAt(boxes: readonly Box[], [u, v]: Point): number {
  let best = -1;
  let bestArea = Infinity;
  boxes.forEach(([u0, v0, u1, v1], i) => {
    if (u < u0 || u > u1 || v < v0 || v > v1) return;
    const area = (u1 - u0 + 1) * (v1 - v0 + 1);
    if (area < bestArea) [best, bestArea] = [i, area];
  });
  return best;
}

/** A box stroke that covers one voxel: a click (selects the box under it) rather than a box drawn. */
export function isClick([u0, v0, u1, v1]: Box): boolean {
  return u0 === u1 && v0 === v1;
}
