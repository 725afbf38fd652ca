/**
 * The memory bank of a SAM2-style engine, as SAM2's `_prepare_memory_conditioned_features` builds it for one
 * frame, with key slices as conditioning frames and each front from a key slice as one tracking pass.
 *
 * For slice `w` of a pass running in direction `dir` (+1 towards higher slice indices, -1 lower):
 * - spatial memories: every conditioning frame (the object's key slices; the `maxConditioningFrames` closest to
 *   `w` when that is set, as SAM2's `select_closest_cond_frames`), each with temporal encoding index
 *   `numMaskmem - 1`; then the pass's own frames at `w - dir * t` for t = numMaskmem - 1 .. 1 that exist (a
 *   skipped slice has none), with index `t - 1`; an unselected conditioning frame at such a distance counts as
 *   one of these;
 * - object pointers: the selected conditioning frames behind `w` in the pass direction (at or before it), at
 *   temporal position |w - key|; then the pass's frames at `w - dir * t` for t = 1 .. maxObjPtrs - 1, at
 *   position t. Positions are divided by `maxObjPtrs - 1` before the sine encoding (SAM2's `t_diff_max`), where
 *   `maxObjPtrs` is the smaller of the model's limit (16) and the number of slices.
 * Slice indices are 0-based along the slice axis.
 */

export interface MemoryRef {
  /** Slice the memory was encoded on. */
  slice: number;
  /** Row of the temporal encoding table added to its positional encoding. */
  tposIndex: number;
  /** A conditioning frame (key slice). */
  conditioning: boolean;
}

export interface PointerRef {
  slice: number;
  /** Temporal position (distance in slices) before normalisation. */
  position: number;
  conditioning: boolean;
}

export interface MemoryRules {
  /** Memories per frame: 1 conditioning slot + (numMaskmem - 1) recent frames (SAM2: 7). */
  numMaskmem: number;
  /** Object pointers (SAM2: 16). */
  maxObjPtrs: number;
  /** Conditioning frames attended to; <= 0: all (SAM2.1's default). */
  maxConditioningFrames: number;
}

export interface BankQuery {
  slice: number;
  dir: 1 | -1;
  /** Slices with a conditioning memory (the object's key slices holding it). */
  conditioning: readonly number[];
  /** Slices of this pass that have a memory (already segmented in this pass). */
  pass: ReadonlySet<number>;
  /** Slices in the volume. */
  count: number;
}

export interface MemoryBank {
  memories: MemoryRef[];
  pointers: PointerRef[];
  /** The divisor of pointer positions (maxObjPtrs - 1, at least 1). */
  positionScale: number;
}

/** The conditioning frames a frame attends to: all, or the `max` closest (one before and one after first). */
export function selectConditioning(slice: number, conditioning: readonly number[], max: number): { selected: number[]; unselected: number[] } {
  const all = [...conditioning].sort((a, b) => a - b);
  if (max <= 0 || all.length <= max) return { selected: all, unselected: [] };
  const chosen = new Set<number>();
  const before = all.filter((k) => k < slice).pop();
  const after = all.find((k) => k >= slice);
  if (before !== undefined) chosen.add(before);
  if (after !== undefined && chosen.size < max) chosen.add(after);
  const rest = all.filter((k) => !chosen.has(k)).sort((a, b) => Math.abs(a - slice) - Math.abs(b - slice) || a - b);
  for (const k of rest) {
    if (chosen.size >= max) break;
    chosen.add(k);
  }
  return { selected: all.filter((k) => chosen.has(k)), unselected: all.filter((k) => !chosen.has(k)) };
}

/** The memories and pointers for slice `q.slice` (see the module comment). */
export function memoryBank(q: BankQuery, rules: MemoryRules): MemoryBank {
  const { selected, unselected } = selectConditioning(q.slice, q.conditioning, rules.maxConditioningFrames);
  const memories: MemoryRef[] = selected.map((slice) => ({ slice, tposIndex: rules.numMaskmem - 1, conditioning: true }));
  // Oldest first, as SAM2 orders them (attention does not depend on the order).
  for (let t = rules.numMaskmem - 1; t >= 1; t--) {
    const s = q.slice - q.dir * t;
    if (q.pass.has(s)) memories.push({ slice: s, tposIndex: t - 1, conditioning: false });
    else if (unselected.includes(s)) memories.push({ slice: s, tposIndex: t - 1, conditioning: true });
  }
  const maxPtrs = Math.min(q.count, rules.maxObjPtrs);
  const pointers: PointerRef[] = selected
    .filter((k) => (q.dir > 0 ? k <= q.slice : k >= q.slice))
    .map((k) => ({ slice: k, position: Math.abs(q.slice - k), conditioning: true }));
  for (let t = 1; t < maxPtrs; t++) {
    const s = q.slice - q.dir * t;
    if (s < 0 || s >= q.count) break;
    if (q.pass.has(s)) pointers.push({ slice: s, position: t, conditioning: false });
    else if (unselected.includes(s)) pointers.push({ slice: s, position: t, conditioning: true });
  }
  return { memories, pointers, positionScale: Math.max(1, maxPtrs - 1) };
}

/**
 * SAM2's 1D sine encoding of positions (`get_1d_sine_pe`, temperature 10000): for each position, `dim / 2` sines
 * then `dim / 2` cosines of position / 10000^(2 floor(i / 2) / (dim / 2)).
 */
export function sinePositionEncoding(positions: readonly number[], dim: number): Float32Array {
  const half = Math.floor(dim / 2);
  const out = new Float32Array(positions.length * 2 * half);
  for (let n = 0; n < positions.length; n++) {
    for (let i = 0; i < half; i++) {
      const t = 10000 ** ((2 * Math.floor(i / 2)) / half);
      const x = positions[n] / t;
      out[n * 2 * half + i] = Math.sin(x);
      out[n * 2 * half + half + i] = Math.cos(x);
    }
  }
  return out;
}
