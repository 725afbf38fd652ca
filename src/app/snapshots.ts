/**
 * What the app shows at each revision of a session: the drawing (RAS-ordered label bitmap, run-length coded),
 * the confidence of each propagated slice and the boxes and points held per key slice, so that undo and redo put
 * back exactly what was on screen.
 */
import { promptFields, slicePromptOf, type SlicePrompt } from './slice-prompts.js';


/** Run lengths of a byte array: pairs (value, count), `count` at most 2^32 - 1. */
export function encodeRuns(a: Uint8Array): Uint32Array {
  const out: number[] = [];
  let i = 0;
  while (i < a.length) {
    const v = a[i];
    let j = i + 1;
    while (j < a.length && a[j] === v) j++;
    out.push(v, j - i);
    i = j;
  }
  return Uint32Array.from(out);
}

/** Inverse of {@link encodeRuns}; throws when the runs do not fill exactly `n` bytes. */
export function decodeRuns(runs: Uint32Array, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let at = 0;
  for (let i = 0; i + 1 < runs.length; i += 2) {
    const end = at + runs[i + 1];
    if (end > n) throw new Error(`runs hold more than ${n} values`);
    if (runs[i] !== 0) out.fill(runs[i], at, end);
    at = end;
  }
  if (at !== n) throw new Error(`runs hold ${at} values, expected ${n}`);
  return out;
}

/** Per label: confidence of each slice along the slice axis (NaN where the slice holds no result). */
export type ConfidenceMap = Map<number, Float32Array>;

/** Boxes and points held per key slice, by `label:slice`. */
export type PromptMap = Map<string, SlicePrompt>;

export interface Snapshot {
  drawing: Uint32Array;
  confidence: ConfidenceMap;
  prompts: PromptMap;
}

function copyPrompts(p: ReadonlyMap<string, SlicePrompt>): PromptMap {
  return new Map([...p].map(([k, v]) => [k, slicePromptOf(promptFields(v))]));
}

/** Snapshots by revision id, the oldest dropped beyond `limit`. */
export class SnapshotStore {
  private readonly byRevision = new Map<number, Snapshot>();

  constructor(private readonly limit = 200) {}

  put(revision: number, drawing: Uint8Array, confidence: ConfidenceMap, prompts: ReadonlyMap<string, SlicePrompt> = new Map()): void {
    const copy: ConfidenceMap = new Map([...confidence].map(([k, v]) => [k, v.slice()]));
    this.byRevision.delete(revision);
    this.byRevision.set(revision, { drawing: encodeRuns(drawing), confidence: copy, prompts: copyPrompts(prompts) });
    while (this.byRevision.size > this.limit) this.byRevision.delete(this.byRevision.keys().next().value as number);
  }

  get(revision: number, n: number): { drawing: Uint8Array; confidence: ConfidenceMap; prompts: PromptMap } | null {
    const s = this.byRevision.get(revision);
    if (!s) return null;
    return { drawing: decodeRuns(s.drawing, n), confidence: new Map([...s.confidence].map(([k, v]) => [k, v.slice()])), prompts: copyPrompts(s.prompts) };
  }

  clear(): void {
    this.byRevision.clear();
  }
}
