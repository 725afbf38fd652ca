/**
 * Prompts for a SAM-format decoder derived from a mask on a neighbouring slice (or from the interpolation
 * prior): its box with a margin, positive points deep inside it (maxima of the distance to its edge) and,
 * optionally, negative points just outside it.
 */
import type { SamPoint, SamPrompt } from '../../models/sam/model.js';
import { boundingBox2d, signedDistance2d } from '../../morphology/binary.js';
import { boxToInput, pointsToInput, type InputFrame } from './frame.js';

export interface MaskPromptOptions {
  /** Prompt with the mask's box (default true). */
  box: boolean;
  /** Box margin on each side as a fraction of the box's size (default 0), at least half a pixel. */
  boxMargin: number;
  /** Positive points at the deepest places of the mask (default 1); 0 for none. */
  positivePoints: number;
  /** Negative points just outside the mask's box, one beyond each side (default false). */
  negativePoints: boolean;
}

export const DEFAULT_MASK_PROMPT: MaskPromptOptions = { box: true, boxMargin: 0, positivePoints: 1, negativePoints: false };

/** Up to `n` pixels of greatest depth inside the mask, each at least the first one's depth away from the others. */
export function deepestPoints(mask: Uint8Array, nu: number, nv: number, du: number, dv: number, n: number): [number, number][] {
  if (n <= 0) return [];
  const sd = signedDistance2d(mask, nu, nv, du, dv);
  const order: number[] = [];
  for (let i = 0; i < sd.length; i++) if (mask[i]) order.push(i);
  order.sort((a, b) => sd[a] - sd[b]);
  const out: [number, number][] = [];
  const sep = order.length ? Math.max(du, dv, -sd[order[0]]) : 0;
  for (const i of order) {
    const u = i % nu;
    const v = (i - u) / nu;
    if (out.every(([a, b]) => Math.hypot((a - u) * du, (b - v) * dv) >= sep)) out.push([u, v]);
    if (out.length >= n) break;
  }
  return out;
}

/** Decoder prompts (input frame) from an ROI mask; null when the mask is empty. */
export function promptFromMask(
  mask: Uint8Array,
  nu: number,
  nv: number,
  du: number,
  dv: number,
  f: InputFrame,
  o: MaskPromptOptions = DEFAULT_MASK_PROMPT,
): SamPrompt | null {
  const bb = boundingBox2d(mask, nu, nv);
  if (!bb) return null;
  const [i0, j0, i1, j1] = bb;
  const mu = Math.max(0.5, o.boxMargin * (i1 - i0 + 1));
  const mv = Math.max(0.5, o.boxMargin * (j1 - j0 + 1));
  const points: SamPoint[] = pointsToInput(f, deepestPoints(mask, nu, nv, du, dv, o.positivePoints), 1);
  if (o.negativePoints) {
    // Beyond the box's sides, by 15 % of the mask's size (at least 2 pixels), on its centre lines.
    const nu0 = Math.max(2, 0.15 * (i1 - i0 + 1));
    const nv0 = Math.max(2, 0.15 * (j1 - j0 + 1));
    const cu = (i0 + i1) / 2;
    const cv = (j0 + j1) / 2;
    points.push(
      ...pointsToInput(
        f,
        [
          [i0 - nu0, cv],
          [i1 + nu0, cv],
          [cu, j0 - nv0],
          [cu, j1 + nv0],
        ],
        0,
      ),
    );
  }
  return o.box ? { points, box: boxToInput(f, bb, mu, mv) } : { points };
}
