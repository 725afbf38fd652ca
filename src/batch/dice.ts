/** Dice overlap per label value between an output label volume and a truth label volume on the same grid. */

/**
 * Dice of each of `labels` (default: every non-zero value in either volume), as `{ value: dice }`. A label
 * absent from both volumes scores 1.
 */
export function diceByLabel(pred: ArrayLike<number>, truth: ArrayLike<number>, labels?: number[]): Record<string, number> {
  if (pred.length !== truth.length) throw new Error('output and truth differ in length');
  const np = new Map<number, number>();
  const nt = new Map<number, number>();
  const inter = new Map<number, number>();
  const bump = (m: Map<number, number>, v: number) => m.set(v, (m.get(v) ?? 0) + 1);
  for (let i = 0; i < pred.length; i++) {
    const p = pred[i];
    const t = truth[i];
    if (p !== 0) bump(np, p);
    if (t !== 0) bump(nt, t);
    if (p !== 0 && p === t) bump(inter, p);
  }
  const values = labels ?? [...new Set([...np.keys(), ...nt.keys()])].sort((a, b) => a - b);
  const out: Record<string, number> = {};
  for (const v of values) {
    const a = np.get(v) ?? 0;
    const b = nt.get(v) ?? 0;
    out[String(v)] = a + b === 0 ? 1 : (2 * (inter.get(v) ?? 0)) / (a + b);
  }
  return out;
}
