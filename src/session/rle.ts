/**
 * Run-length encoding of 2D masks for the wire: `counts` alternate runs of 0 and 1, starting with a run of 0
 * (possibly of length 0), over the mask read with u fastest (`mask[u + nu * v]`), as COCO's uncompressed RLE
 * does in its own (column-major) order. A mask may be sent whole or as the part inside its box.
 */
import { boundingBox2d } from '../morphology/binary.js';
import { KeysliceError } from '../util/errors.js';

export type MaskBox = [number, number, number, number];

/** Box around the set pixels of a `nu x nv` mask ([u0, v0, u1, v1] inclusive), or null when none is set. */
export const maskBox: (mask: Uint8Array, nu: number, nv: number) => MaskBox | null = boundingBox2d;

/** Run lengths of `mask` inside `box` (the whole slice when null). */
export function encodeRle(mask: Uint8Array, nu: number, nv: number, box: MaskBox | null = null): number[] {
  const [u0, v0, u1, v1] = box ?? [0, 0, nu - 1, nv - 1];
  const counts: number[] = [];
  let cur = 0;
  let run = 0;
  for (let v = v0; v <= v1; v++) {
    const row = v * nu;
    for (let u = u0; u <= u1; u++) {
      const x = mask[row + u] ? 1 : 0;
      if (x === cur) run++;
      else {
        counts.push(run);
        cur = x;
        run = 1;
      }
    }
  }
  counts.push(run);
  return counts;
}

/**
 * The full `nu x nv` mask from run lengths over `box` (the whole slice when absent). Refuses counts that are
 * not whole numbers >= 0 or do not add up to the box's pixel count, and boxes outside the slice.
 */
export function decodeRle(counts: unknown, nu: number, nv: number, box: unknown = null, field = 'mask'): Uint8Array {
  let b: MaskBox = [0, 0, nu - 1, nv - 1];
  if (box !== null && box !== undefined) {
    if (!Array.isArray(box) || box.length !== 4 || !box.every((x) => Number.isInteger(x))) {
      throw new KeysliceError('INVALID_ANNOTATION', `${field}.box must be [u0, v0, u1, v1] whole numbers`);
    }
    const [u0, v0, u1, v1] = box as number[];
    if (u0 < 0 || v0 < 0 || u1 >= nu || v1 >= nv || u1 < u0 || v1 < v0) {
      throw new KeysliceError('INVALID_ANNOTATION', `${field}.box [${box.join(', ')}] is not inside the ${nu}x${nv} slice`);
    }
    b = [u0, v0, u1, v1];
  }
  if (!Array.isArray(counts)) throw new KeysliceError('INVALID_ANNOTATION', `${field}.rle must be a list of run lengths`);
  const w = b[2] - b[0] + 1;
  const n = w * (b[3] - b[1] + 1);
  let total = 0;
  for (const c of counts) {
    if (typeof c !== 'number' || !Number.isInteger(c) || c < 0) {
      throw new KeysliceError('INVALID_ANNOTATION', `${field}.rle holds ${JSON.stringify(c)}, not a run length`);
    }
    total += c;
  }
  if (total !== n) throw new KeysliceError('INVALID_ANNOTATION', `${field}.rle covers ${total} pixels, the box has ${n}`);
  const mask = new Uint8Array(nu * nv);
  let i = 0;
  let on = false;
  for (const c of counts as number[]) {
    if (on) {
      for (let k = i; k < i + c; k++) mask[b[0] + (k % w) + nu * (b[1] + Math.floor(k / w))] = 1;
    }
    i += c;
    on = !on;
  }
  return mask;
}
