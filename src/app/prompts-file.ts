/**
 * The app's key slices and keyslice's prompts file (JSON, version 1, see `src/annotations/prompts.ts`): reading
 * a file into the scan open in the app (checked against its slices before anything is sent, so that a bad file
 * changes nothing) and writing the app's box, point and "absent" key slices as one.
 */
import { buildAnnotations } from '../annotations/build.js';
import { parsePromptsText, type PromptKeySlice, type PromptsFile } from '../annotations/prompts.js';
import { keyBoxes } from '../annotations/types.js';
import { KeysliceError } from '../util/errors.js';
import { inPlaneAxes, type SliceAxis, type Vec3 } from '../volume/volume.js';
import type { OpenedScan } from './port.js';
import { promptFields, slicePromptOf, type SlicePrompt } from './slice-prompts.js';

/** The slices of the scan open in the app, as its session cuts them. */
export type ScanSlices = Pick<OpenedScan, 'axis' | 'count' | 'nu' | 'nv'>;

export interface PromptsLabel {
  value: number;
  name?: string;
  color?: [number, number, number];
}

/** One key slice of a prompts file: "absent", or its boxes and points. */
export interface PromptsSlice {
  label: number;
  slice: number;
  absent: boolean;
  prompt: SlicePrompt;
}

/**
 * Reads a prompts file's text for a scan: its labels and key slices, every box of a slice kept. Refused (code
 * INVALID_PROMPTS, the message naming `file`) where the file is not a prompts file, lies along another slice axis
 * than the scan's, puts a key slice or a prompt outside the scan, or uses a label value above `maxLabel`.
 */
export function readPromptsFor(text: string, file: string, scan: ScanSlices, maxLabel = 65535): { labels: PromptsLabel[]; slices: PromptsSlice[] } {
  const doc = parsePromptsText(text, file);
  if (doc.sliceAxis !== undefined && doc.sliceAxis !== scan.axis) {
    throw new KeysliceError('INVALID_PROMPTS', `its key slices lie along axis ${doc.sliceAxis}, the open scan's along axis ${scan.axis}`, file);
  }
  const high = doc.labels.find((l) => l.value > maxLabel);
  if (high) throw new KeysliceError('INVALID_PROMPTS', `label ${high.value}: this app draws labels 1..${maxLabel}`, file);
  const size: Vec3 = [0, 0, 0];
  const [ua, va] = inPlaneAxes(scan.axis);
  size[scan.axis] = scan.count;
  size[ua] = scan.nu;
  size[va] = scan.nv;
  const { annotations } = buildAnnotations({ size, spacing: [1, 1, 1], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] }, { prompts: { doc, file }, axis: scan.axis });
  const labels = doc.labels.map((l) => ({ value: l.value, ...(l.name !== undefined ? { name: l.name } : {}), ...(l.color ? { color: l.color } : {}) }));
  const slices = annotations.labels.flatMap((l) =>
    l.keySlices.map((k) => ({
      label: l.value,
      slice: k.index,
      absent: k.empty,
      prompt: slicePromptOf({ boxes: keyBoxes(k), points: k.points, negativePoints: k.negativePoints }),
    })),
  );
  return { labels, slices };
}

/**
 * A prompts file of key slices: one box as `box`, several as `boxes`; a label without a box or a positive point
 * (which a prompts file cannot segment) is left out.
 */
export function promptsDocument(axis: SliceAxis, labels: readonly PromptsLabel[], slices: readonly PromptsSlice[]): PromptsFile {
  const out: PromptsFile = { version: 1, sliceAxis: axis, labels: [] };
  for (const l of [...labels].sort((a, b) => a.value - b.value)) {
    const keySlices: PromptKeySlice[] = slices
      .filter((s) => s.label === l.value)
      .sort((a, b) => a.slice - b.slice)
      .map(({ slice, absent, prompt }) => (absent ? { slice, empty: true } : { slice, ...promptFields(prompt) }));
    if (keySlices.some((k) => k.box || k.boxes || k.points)) out.labels.push({ ...l, keySlices });
  }
  return out;
}
