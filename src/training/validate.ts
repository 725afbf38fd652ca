/**
 * Dice of engines on labelled cases under the benchmark's simulated annotator: for each object, prompt kind
 * (mask, box) and budget, the key slices of `selectKeySlices` get the truth mask or its tight box, the engine
 * segments the object, and the 3D Dice against the truth is recorded.
 */
import { segment } from '../pipeline/segment.js';
import type { SliceEngine } from '../propagation/types.js';
import { selectKeySlices, simulateLabel, sliceAreas, type PromptKind } from '../simulate/annotator.js';
import { defaultSliceAxis, SliceGeometry, type LabelArray, type Volume } from '../volume/volume.js';
import type { AdapterValidation } from '../models/adapter/manifest.js';

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

/** The kinds of front an adapter may weigh apart: from a mask key slice, or from one the model drew (box, points). */
export type FrontKind = 'mask' | 'drawn';

export const FRONT_KINDS: readonly FrontKind[] = ['mask', 'drawn'];

export const frontOf = (kind: PromptKind): FrontKind => (kind === 'mask' ? 'mask' : 'drawn');

/** The kind of front each run of a protocol starts (in `protocolDice`'s order: case, object, kind, budget). */
export function runFronts(runs: number, protocol: DiceProtocol): FrontKind[] {
  const per = protocol.budgets.length;
  return Array.from({ length: runs }, (_, j) => frontOf(protocol.kinds[Math.floor(j / per) % protocol.kinds.length]));
}

/**
 * The weights worth trying on each kind of front, from a screen (cheap runs, e.g. on crops zoomed on the truth):
 * those whose mean Dice on that kind's runs beat the unadapted engine's there, the best first.
 */
export function screenedWeights(unadapted: number[], screened: { weight: number; dice: number[] }[], protocol: DiceProtocol): Record<FrontKind, number[]> {
  const fronts = runFronts(unadapted.length, protocol);
  const on = (d: number[], f: FrontKind) => mean(d.filter((_, j) => fronts[j] === f));
  const pick = (f: FrontKind) =>
    screened
      .map((s) => ({ weight: s.weight, gain: on(s.dice, f) - on(unadapted, f) }))
      .filter((s) => s.gain > 0)
      .sort((a, b) => b.gain - a.gain)
      .map((s) => s.weight);
  return { mask: pick('mask'), drawn: pick('drawn') };
}

/** What {@link chooseFrontWeights} found, per run in the order it ran them (the mask fronts' runs first). */
export interface FrontWeightChoice {
  /** The weight kept per kind of front (0: the adapter is not used there). */
  frontWeights: Record<FrontKind, number>;
  unadapted: number[];
  /** The Dice of each run at its front's chosen weight. */
  adapted: number[];
  fronts: FrontKind[];
  /** The weights run per kind of front and their mean Dice there. */
  tried: Record<FrontKind, { weight: number; dice: number }[]>;
  /** The least gain over the unadapted engine for which a weight was kept. */
  minGain: number;
}

/**
 * The least gain in mean Dice over the unadapted engine, on a kind of front's validation runs, for which a weight
 * is kept there (0.01). A few runs on one validation case do not tell a gain of a few thousandths from noise, and
 * a weight kept on such a gain can lose on the next case.
 */
export const MIN_WEIGHT_GAIN = 0.01;

/**
 * The index of the weight to keep among `means` (index 0: the unadapted engine, then one per weight run): the
 * best mean Dice, or 0 where it beats the unadapted engine's by less than `minGain`.
 */
export function bestWeightIndex(means: number[], minGain = MIN_WEIGHT_GAIN): number {
  let best = 0;
  for (let e = 1; e < means.length; e++) if (means[e] > means[best]) best = e;
  return best && means[best] - means[0] >= minGain ? best : 0;
}

/**
 * Chooses a weight per kind of front from runs of the engine exactly as `keyslice segment` runs it: its own crops
 * and fronts as far as it takes them (the protocol's `margin` is dropped). For each kind of front, the protocol's
 * runs of that kind are run by the unadapted engine (`engineAt(0)`) and by the adapted one at each weight of
 * `candidates` for it; the best mean Dice is kept, the unadapted engine where none beats it by `minGain` or more
 * ({@link MIN_WEIGHT_GAIN} by default). Kinds with no candidate run the unadapted engine only (it is the
 * reference of the figures).
 */
export async function chooseFrontWeights(
  cases: LabelledCase[],
  engineAt: (weight: number) => SliceEngine,
  candidates: Record<FrontKind, number[]>,
  protocol: DiceProtocol = VALIDATION_PROTOCOL,
  minGain = MIN_WEIGHT_GAIN,
): Promise<FrontWeightChoice> {
  const out: FrontWeightChoice = { frontWeights: { mask: 0, drawn: 0 }, unadapted: [], adapted: [], fronts: [], tried: { mask: [], drawn: [] }, minGain };
  for (const front of FRONT_KINDS) {
    const kinds = protocol.kinds.filter((k) => frontOf(k) === front);
    if (!kinds.length) continue;
    const weights = candidates[front].filter((w) => w > 0);
    const dice = await protocolDice(cases, [engineAt(0), ...weights.map(engineAt)], { kinds, budgets: protocol.budgets });
    const means = dice.map(mean);
    const best = bestWeightIndex(means, minGain);
    out.frontWeights[front] = best ? weights[best - 1] : 0;
    out.tried[front] = weights.map((weight, i) => ({ weight, dice: means[i + 1] }));
    out.unadapted.push(...dice[0]);
    out.adapted.push(...dice[best]);
    out.fronts.push(...dice[0].map(() => front));
  }
  return out;
}

/**
 * A manifest's validation record from a {@link chooseFrontWeights} run: the mean Dice of the unadapted engine
 * and of the adapted one at the chosen weights over the same runs; usable only where the adapted one is higher.
 * `what` names the engine and protocol, `screen` says how the weights run were picked (if they were).
 */
export function choiceValidation(cases: LabelledCase[], c: FrontWeightChoice, what: string, screen = ''): AdapterValidation {
  const u = mean(c.unadapted);
  const a = mean(c.adapted);
  const per = (f: FrontKind) => {
    const on = (d: number[]) => mean(d.filter((_, j) => c.fronts[j] === f));
    const run = c.tried[f].length ? `weights run ${c.tried[f].map((t) => `${t.weight}: ${t.dice.toFixed(3)}`).join(', ')}` : 'no weight worth running';
    const small = c.frontWeights[f] === 0 && c.tried[f].some((t) => t.dice > on(c.unadapted)) ? ` (gains under ${c.minGain} not counted)` : '';
    return `${f === 'mask' ? 'mask' : 'box/points'} key slices ${on(c.unadapted).toFixed(3)} unadapted, ${run}; weight ${c.frontWeights[f]} kept${small}`;
  };
  return {
    cases: cases.map((x) => x.id),
    unadaptedDice: u,
    adaptedDice: a,
    gain: a - u,
    runs: c.unadapted.length,
    usable: a > u,
    note: `${what}, each run as keyslice segment runs it (the engine's own crops)${screen ? `; ${screen}` : ''}: ${FRONT_KINDS.filter((f) => c.fronts.includes(f)).map(per).join('; ')}`,
  };
}
