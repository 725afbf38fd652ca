/**
 * Dice of engines on labelled cases under the benchmark's simulated annotator: for each object, prompt kind
 * (mask, box) and budget, the key slices of `selectKeySlices` get the truth mask or its tight box, the engine
 * segments the object, and the 3D Dice against the truth is recorded.
 */
import { segment } from '../pipeline/segment.js';
import type { SliceEngine } from '../propagation/types.js';
import { selectKeySlices, simulateLabel, sliceAreas, type PromptKind } from '../simulate/annotator.js';
import { defaultSliceAxis, SliceGeometry, type LabelArray, type Volume } from '../volume/volume.js';

export interface LabelledCase {
  id: string;
  image: Volume;
  truth: Volume<LabelArray>;
  /** Label values that are objects. */
  values: number[];
}

export interface DiceProtocol {
  kinds: PromptKind[];
  budgets: number[];
  /**
   * Propagate only within the object's slices widened by this many slices on each side (none by default: the
   * fronts run as far as the engine takes them). Recording runs use it to spend no encoder runs far past the object.
   */
  margin?: number;
}

export const VALIDATION_PROTOCOL: DiceProtocol = { kinds: ['mask', 'box'], budgets: [1, 2] };

function dice(pred: ArrayLike<number>, value: number, truth: ArrayLike<number>, tv: number): number {
  let p = 0;
  let t = 0;
  let both = 0;
  for (let i = 0; i < truth.length; i++) {
    const a = pred[i] === value ? 1 : 0;
    const b = truth[i] === tv ? 1 : 0;
    p += a;
    t += b;
    both += a & b;
  }
  return p + t === 0 ? 1 : (2 * both) / (p + t);
}

/** The object's slices (areas > 0) widened by `margin` slices on each side, within the volume; undefined without a margin. */
export function withinMargin(areas: number[], margin: number | undefined): [number, number] | undefined {
  if (margin === undefined) return undefined;
  const first = areas.findIndex((a) => a > 0);
  const last = areas.length - 1 - [...areas].reverse().findIndex((a) => a > 0);
  return [Math.max(0, first - margin), Math.min(areas.length - 1, last + margin)];
}

/** Dice of each engine over every run of the protocol on the cases, in the same order for every engine. */
/** `onRun` is told of each object before its runs (a recording engine learns what it is looking at). */
export async function protocolDice(
  cases: LabelledCase[],
  engines: SliceEngine[],
  protocol: DiceProtocol = VALIDATION_PROTOCOL,
  onRun?: (c: LabelledCase, value: number, sg: SliceGeometry) => void,
): Promise<number[][]> {
  const out = engines.map(() => [] as number[]);
  for (const c of cases) {
    const axis = defaultSliceAxis(c.image.spacing);
    const sg = new SliceGeometry(c.image, axis);
    for (const value of c.values) {
      const areas = sliceAreas(c.truth.data, sg, value);
      if (!areas.some((a) => a > 0)) continue;
      onRun?.(c, value, sg);
      const range = withinMargin(areas, protocol.margin);
      for (const kind of protocol.kinds) {
        for (const k of protocol.budgets) {
          const label = simulateLabel(c.truth.data, sg, value, selectKeySlices(areas, k), kind);
          for (const [e, engine] of engines.entries()) {
            const { labels } = await segment(c.image, { axis, labels: [label] }, { engine, range });
            out[e].push(dice(labels.data, value, c.truth.data, value));
          }
        }
      }
    }
  }
  return out;
}

export const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
