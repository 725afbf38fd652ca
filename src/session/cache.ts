/**
 * What the session keeps for reuse, keyed by what determines it:
 * - a label's whole result, by the label's key slices (in order) and the session's options: an undo, or a
 *   label the last edit did not touch, costs nothing;
 * - a front's outcome, by the engine, the region of interest, the front's plan, its key slice's mask, the prior
 *   on the slices it may visit and the other key slices the engine says it depends on
 *   (`ObjectSession.dependsOn`): an edit then dirties only the fronts near the edited key slice.
 * A hit is checked against the stored inputs byte for byte, so a hash collision can only cost a recompute.
 * Entries are dropped least recently used first beyond a byte budget.
 */
import type { KeySlice } from '../annotations/types.js';
import type { KeyMask } from '../interpolation/mci.js';
import { byteWords } from '../morphology/binary.js';

/**
 * FNV-1a over the bytes taken four at a time (as little-endian 32-bit words, the last few one by one), as 8 hex
 * digits: a cache key part; hits are verified on the inputs themselves.
 */
export function hashBytes(data: ArrayLike<number>, seed = 0x811c9dc5): string {
  let h = seed >>> 0;
  const n = data.length - (data.length % 4);
  const w = data instanceof Uint8Array && data.byteOffset % 4 === 0 && n > 0 ? new Uint32Array(data.buffer, data.byteOffset, n >>> 2) : null;
  for (let i = 0; i < n; i += 4) {
    h ^= w ? w[i >>> 2] : (data[i] & 0xff) | ((data[i + 1] & 0xff) << 8) | ((data[i + 2] & 0xff) << 16) | ((data[i + 3] & 0xff) << 24);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  for (let i = n; i < data.length; i++) {
    h ^= data[i] & 0xff;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** A key slice in words and hashes (index, kind, mask hash, box, points). */
export function keySliceKey(k: KeySlice): string {
  const parts = [k.index, k.empty ? 'absent' : '', k.mask ? `m${k.mask.length}:${hashBytes(k.mask)}` : '', k.box ? `b${k.box.join(',')}` : '', k.boxes ? `B${k.boxes.map((b) => b.join(',')).join(';')}` : ''];
  parts.push(`p${k.points.map((p) => p.join(',')).join(';')}`, `n${k.negativePoints.map((p) => p.join(',')).join(';')}`);
  if (k.excluded) parts.push(`x${k.excluded.length}:${hashBytes(k.excluded)}`);
  return parts.join('|');
}

/** Whether two key slices say exactly the same. */
export function sameKeySlice(a: KeySlice, b: KeySlice): boolean {
  if (a.index !== b.index || a.empty !== b.empty) return false;
  if (!!a.mask !== !!b.mask || (a.mask && b.mask && !sameBytes(a.mask, b.mask))) return false;
  if (!!a.excluded !== !!b.excluded || (a.excluded && b.excluded && !sameBytes(a.excluded, b.excluded))) return false;
  if (JSON.stringify(a.box ?? null) !== JSON.stringify(b.box ?? null) || JSON.stringify(a.boxes ?? null) !== JSON.stringify(b.boxes ?? null)) return false;
  return JSON.stringify(a.points) === JSON.stringify(b.points) && JSON.stringify(a.negativePoints) === JSON.stringify(b.negativePoints);
}

/** Key slices' masks (null: absent) in words: index and mask hash each. */
export function keyMasksKey(keys: readonly KeyMask[]): string {
  return keys.map((k) => `${k.index}:${k.mask ? hashBytes(k.mask) : 'absent'}`).join(',');
}

/** Whether two lists of key slices' masks are the same, byte for byte. */
export function sameKeyMasks(a: readonly KeyMask[], b: readonly KeyMask[]): boolean {
  return a.length === b.length && a.every((k, i) => k.index === b[i].index && (k.mask === null || b[i].mask === null ? k.mask === b[i].mask : sameBytes(k.mask, b[i].mask as Uint8Array)));
}

/** A copy of key slices' masks to keep (the caller's arrays may change). */
export function copyKeyMasks(keys: readonly KeyMask[]): KeyMask[] {
  return keys.map((k) => ({ index: k.index, mask: k.mask ? k.mask.slice() : null }));
}

/** Whether two arrays hold the same values (byte arrays that start alike against word boundaries word by word). */
export function sameBytes(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  const ra = byteWords(a);
  const rb = ra && byteWords(b);
  if (!ra || !rb || ra.head !== rb.head) {
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  for (let i = 0; i < ra.head; i++) if (a[i] !== b[i]) return false;
  const wa = ra.words;
  const wb = rb.words;
  for (let i = 0; i < wa.length; i++) if (wa[i] !== wb[i]) return false;
  for (let i = ra.tail; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

interface Entry<V> {
  value: V;
  bytes: number;
}

/** A map with a byte budget, least recently used out first. */
export class LruCache<V> {
  private readonly map = new Map<string, Entry<V>>();
  private used = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly budget: number) {}

  /** The value stored under `key` for inputs that `matches` accepts, or undefined. */
  get(key: string, matches: (stored: V) => boolean = () => true): V | undefined {
    const e = this.map.get(key);
    if (!e || !matches(e.value)) {
      this.misses++;
      return undefined;
    }
    this.map.delete(key);
    this.map.set(key, e);
    this.hits++;
    return e.value;
  }

  set(key: string, value: V, bytes: number): void {
    const old = this.map.get(key);
    if (old) {
      this.used -= old.bytes;
      this.map.delete(key);
    }
    if (bytes > this.budget) return;
    this.map.set(key, { value, bytes });
    this.used += bytes;
    for (const [k, e] of this.map) {
      if (this.used <= this.budget) break;
      this.map.delete(k);
      this.used -= e.bytes;
    }
  }

  get size(): number {
    return this.map.size;
  }

  /** Whether anything can be kept (a budget of 0 keeps nothing). */
  get keeps(): boolean {
    return this.budget > 0;
  }

  clear(): void {
    this.map.clear();
    this.used = 0;
  }
}
