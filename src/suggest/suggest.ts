/**
 * `keyslice suggest` as a library call: segments with the current annotations in a session, then plans the next
 * slices to annotate per label (see `plan.ts`).
 * - A label with a drawn mask on some key slice: the next `budget` slices by {@link planNextSlices}.
 * - A label with boxes or points only: the same, and the first suggestion asks for a full mask there (it gives
 *   the most to propagate from).
 * - A label of several separate objects on its key slices (lesions): the plan also weighs the slices where
 *   objects no key slice touches may lie (see `objects.ts`).
 * - No annotation at all: where to start, the middle of the slices that hold tissue.
 */
import type { Annotations, LabelAnnotation } from '../annotations/types.js';
import { tissueAreas } from '../analysis/profile.js';
import { intensityWindow, type IntensityWindow } from '../analysis/window.js';
import { oneRunSession, type LabelReport, type SegmentOptions } from '../pipeline/segment.js';
import { SliceGeometry, type SliceAxis, type Volume } from '../volume/volume.js';
import { planNextSlices, type PlanInput, type Suggestion } from './plan.js';

export interface LabelSuggestions {
  value: number;
  name?: string;
  keySlices: number[];
  suggestions: Suggestion[];
}

export interface SuggestResult {
  sliceAxis: SliceAxis;
  /** Per label; empty when there is no annotation. */
  labels: LabelSuggestions[];
  /** Where to start, when there is no annotation. */
  start: Suggestion | null;
  /** Seconds spent segmenting. */
  seconds: number;
}

export interface SuggestOptions extends Pick<SegmentOptions, 'engine' | 'range' | 'stopRules'> {
  /** Slices to suggest per label (default 1). */
  budget?: number;
  window?: IntensityWindow;
}

/** Where to start without any annotation: the middle of the slices holding tissue (see `tissueAreas`). */
export function startSlice(image: Volume, axis: SliceAxis, window: IntensityWindow = intensityWindow(image)): Suggestion {
  const sg = new SliceGeometry(image, axis);
  const tissue = tissueAreas(image, sg, window);
  const total = tissue.reduce((a, b) => a + b, 0);
  let acc = 0;
  let mid = Math.floor(sg.count / 2);
  if (total > 0) {
    for (let w = 0; w < sg.count; w++) {
      acc += tissue[w];
      if (acc >= total / 2) {
        mid = w;
        break;
      }
    }
  }
  const first = tissue.findIndex((n) => n > 0);
  const last = sg.count - 1 - [...tissue].reverse().findIndex((n) => n > 0);
  return {
    slice: mid,
    reason: 'start',
    detail:
      total > 0
        ? `no annotation yet: slice ${mid} is the middle of the tissue (slices ${first}..${last}); draw the object where it is largest, near here`
        : `no annotation yet and no tissue found in the window: slice ${mid} is the middle of the volume`,
    gain: 0,
  };
}

/** The next `budget` slices to annotate for one label, from its segmentation report (see the module comment). */
export function labelSuggestions(
  l: LabelAnnotation,
  r: Pick<LabelReport, 'slices' | 'fronts'>,
  sg: SliceGeometry,
  budget: number,
  range?: [number, number],
  unseen?: PlanInput['unseen'],
): Suggestion[] {
  const objectKeys = l.keySlices.filter((k) => !k.empty).map((k) => k.index);
  const absentKeys = l.keySlices.filter((k) => k.empty).map((k) => k.index);
  const suggestions = planNextSlices(
    { count: sg.count, sliceSpacingMm: sg.dw, objectKeys, absentKeys, slices: r.slices, fronts: r.fronts, range, ...(unseen ? { unseen } : {}) },
    budget,
  );
  // Boxes or points only: the next annotation gives the most as a full mask.
  if (suggestions.length > 0 && !l.keySlices.some((k) => k.mask)) {
    suggestions[0] = { ...suggestions[0], detail: `${suggestions[0].detail}; a full mask there gives the most to propagate from` };
  }
  return suggestions;
}

export async function suggestSlices(image: Volume, axis: SliceAxis, annotations: Annotations | null, options: SuggestOptions = {}): Promise<SuggestResult> {
  const budget = options.budget ?? 1;
  const window = options.window ?? intensityWindow(image);
  if (!annotations || annotations.labels.length === 0) {
    return { sliceAxis: axis, labels: [], start: startSlice(image, axis, window), seconds: 0 };
  }
  const t0 = performance.now();
  // One propagation, then the session's plan (as `keyslice suggest` in a session).
  const session = await oneRunSession(image, annotations, { ...options, window });
  let planned: { label: number; suggestions: Suggestion[] }[];
  try {
    for await (const u of session.propagate({ updates: false })) void u;
    planned = await session.suggest(budget);
  } finally {
    await session.close();
  }
  const labels: LabelSuggestions[] = annotations.labels.map((l, n) => ({
    value: l.value,
    ...(l.name !== undefined ? { name: l.name } : {}),
    keySlices: l.keySlices.map((k) => k.index),
    suggestions: planned[n].suggestions,
  }));
  return { sliceAxis: annotations.axis, labels, start: null, seconds: (performance.now() - t0) / 1000 };
}
