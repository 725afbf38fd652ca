/**
 * Training material from a volume: its slices along the default slice axis, windowed as the engines see them,
 * their edge profiles, and (where a label volume is given) each object's mask per slice. `samplePairs` cuts
 * batches of neighbouring slice pairs out of it.
 */
import { applyWindow, intensityWindow } from '../analysis/window.js';
import { EDGE_CHANNELS, edgeProfile } from '../models/adapter/correspondence.js';
import { defaultSliceAxis, labelValues, SliceGeometry, type LabelArray, type Volume } from '../volume/volume.js';

export interface TrainingVolume {
  id: string;
  nu: number;
  nv: number;
  count: number;
  windowed: Float32Array[];
  /** Edge profile per slice (channel-major). */
  edges: Float32Array[];
  /** Per object: its mask per slice (null where absent); empty without labels. */
  objects: (Uint8Array | null)[][];
}

export function trainingVolume(id: string, image: Volume, labels?: Volume<LabelArray>, values?: number[]): TrainingVolume {
  const sg = new SliceGeometry(image, defaultSliceAxis(image.spacing));
  const win = intensityWindow(image);
  const raw = new Float32Array(sg.area);
  const windowed: Float32Array[] = [];
  const edges: Float32Array[] = [];
  for (let w = 0; w < sg.count; w++) {
    sg.extract(image.data, w, raw);
    const s = applyWindow(raw, win);
    windowed.push(s);
    edges.push(edgeProfile(s, sg.nu, sg.nv));
  }
  const objects = labels ? (values ?? labelValues(labels.data)).map((v) => Array.from({ length: sg.count }, (_, w) => sg.maskOf(labels.data, w, v))) : [];
  return { id, nu: sg.nu, nv: sg.nv, count: sg.count, windowed, edges, objects };
}

/** A batch of slice pairs (source -> target), cropped to h x w, NHWC. */
export interface PairBatch {
  size: number;
  h: number;
  w: number;
  srcEdges: Float32Array;
  tgtEdges: Float32Array;
  srcValues: Float32Array;
  tgtValues: Float32Array;
  /** Object masks of the pairs (supervised batches), else null. */
  srcMask: Float32Array | null;
  tgtMask: Float32Array | null;
}

export interface PairPick {
  from: number;
  to: number;
  object: number | null;
  /** Crop origin. */
  u0: number;
  v0: number;
}

/** Crop size for a volume: `crop` or the slice, whichever is smaller. */
export function cropSize(vol: TrainingVolume, crop: number): { h: number; w: number } {
  return { h: Math.min(crop, vol.nv), w: Math.min(crop, vol.nu) };
}

/** Bounding-box centre of a mask, or null. */
function centre(m: Uint8Array | null, nu: number): [number, number] | null {
  if (!m) return null;
  let su = 0;
  let sv = 0;
  let n = 0;
  for (let i = 0; i < m.length; i++) {
    if (!m[i]) continue;
    su += i % nu;
    sv += Math.floor(i / nu);
    n++;
  }
  return n ? [su / n, sv / n] : null;
}

/**
 * A random pair: neighbouring slices in either direction; with `supervised`, one where an object is present on
 * either slice, cropped around it (with jitter); else anywhere.
 */
export function randomPair(vol: TrainingVolume, crop: number, rand: () => number, supervised: boolean): PairPick | null {
  const { h, w } = cropSize(vol, crop);
  const clampU = (u: number) => Math.max(0, Math.min(vol.nu - w, Math.round(u)));
  const clampV = (v: number) => Math.max(0, Math.min(vol.nv - h, Math.round(v)));
  for (let attempt = 0; attempt < 50; attempt++) {
    const a = Math.floor(rand() * (vol.count - 1));
    const [from, to] = rand() < 0.5 ? [a, a + 1] : [a + 1, a];
    if (!supervised) return { from, to, object: null, u0: clampU(rand() * (vol.nu - w + 1) - 0.5), v0: clampV(rand() * (vol.nv - h + 1) - 0.5) };
    if (!vol.objects.length) return null;
    const object = Math.floor(rand() * vol.objects.length);
    const c = centre(vol.objects[object][from], vol.nu) ?? centre(vol.objects[object][to], vol.nu);
    if (!c) continue;
    const jitter = () => (rand() - 0.5) * 0.5;
    return { from, to, object, u0: clampU(c[0] - w / 2 + jitter() * w), v0: clampV(c[1] - h / 2 + jitter() * h) };
  }
  return null;
}

/** The pairs of `picks` (all from `vol`) as a batch. */
export function pairBatch(vol: TrainingVolume, picks: PairPick[], crop: number): PairBatch {
  const { h, w } = cropSize(vol, crop);
  const B = picks.length;
  const C = EDGE_CHANNELS;
  const n = vol.nu * vol.nv;
  const px = h * w;
  const supervised = picks.every((p) => p.object !== null);
  const b: PairBatch = {
    size: B,
    h,
    w,
    srcEdges: new Float32Array(B * px * C),
    tgtEdges: new Float32Array(B * px * C),
    srcValues: new Float32Array(B * px),
    tgtValues: new Float32Array(B * px),
    srcMask: supervised ? new Float32Array(B * px) : null,
    tgtMask: supervised ? new Float32Array(B * px) : null,
  };
  for (const [k, p] of picks.entries()) {
    const ms = p.object !== null ? vol.objects[p.object][p.from] : null;
    const mt = p.object !== null ? vol.objects[p.object][p.to] : null;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = p.u0 + x + vol.nu * (p.v0 + y);
        const o = k * px + y * w + x;
        b.srcValues[o] = vol.windowed[p.from][i];
        b.tgtValues[o] = vol.windowed[p.to][i];
        for (let c = 0; c < C; c++) {
          b.srcEdges[o * C + c] = vol.edges[p.from][c * n + i];
          b.tgtEdges[o * C + c] = vol.edges[p.to][c * n + i];
        }
        if (b.srcMask && b.tgtMask) {
          b.srcMask[o] = ms ? ms[i] : 0;
          b.tgtMask[o] = mt ? mt[i] : 0;
        }
      }
    }
  }
  return b;
}

/**
 * Fixed validation pairs of a volume: up to `max` forward pairs spread over its slices (over the object's slices
 * when supervised), cropped at the centre (or around the object).
 */
export function validationPairs(vol: TrainingVolume, crop: number, supervised: boolean, max = 16): PairPick[] {
  const { h, w } = cropSize(vol, crop);
  const picks: PairPick[] = [];
  const all: PairPick[] = [];
  for (let a = 0; a + 1 < vol.count; a++) {
    if (!supervised) {
      all.push({ from: a, to: a + 1, object: null, u0: Math.floor((vol.nu - w) / 2), v0: Math.floor((vol.nv - h) / 2) });
      continue;
    }
    for (const [o, masks] of vol.objects.entries()) {
      const c = centre(masks[a], vol.nu) ?? centre(masks[a + 1], vol.nu);
      if (!c) continue;
      const u0 = Math.max(0, Math.min(vol.nu - w, Math.round(c[0] - w / 2)));
      const v0 = Math.max(0, Math.min(vol.nv - h, Math.round(c[1] - h / 2)));
      all.push({ from: a, to: a + 1, object: o, u0, v0 });
    }
  }
  const step = Math.max(1, all.length / max);
  for (let x = 0; x < all.length && picks.length < max; x += step) picks.push(all[Math.floor(x)]);
  return picks;
}
