/** `keyslice score`: a label volume against the truth, label by label. */
import { maskOf, objectMetrics } from '../metrics/metrics.js';
import { KeysliceError } from '../util/errors.js';
import { readAnnotationLabels } from '../volume/label-io-node.js';
import { gridDifference, labelValues } from '../volume/volume.js';
import { need, parse } from './args.js';

export async function cmdScore(args: string[]): Promise<void> {
  const v = parse(args, {
    pred: { type: 'string' },
    gt: { type: 'string' },
    label: { type: 'string', multiple: true },
    tolerance: { type: 'string' },
    json: { type: 'boolean' },
  });
  const predFile = need(v, 'pred');
  const gtFile = need(v, 'gt');
  const tol = v.tolerance === undefined ? 2 : Number(v.tolerance);
  if (!Number.isFinite(tol) || tol < 0) throw new KeysliceError('USAGE', `--tolerance must be a distance in mm >= 0, got "${String(v.tolerance)}"`);
  const pred = (await readAnnotationLabels(predFile)).volume;
  const gt = (await readAnnotationLabels(gtFile)).volume;
  const diff = gridDifference(gt, pred);
  if (diff !== null) throw new KeysliceError('GRID_MISMATCH', `grid differs from ${gtFile}: ${diff}`, predFile);
  let labels: number[];
  if (v.label !== undefined) {
    labels = (v.label as string[]).flatMap((s) => s.split(',')).map((s) => {
      const n = Number(s);
      if (!Number.isInteger(n) || n < 1) throw new KeysliceError('USAGE', `--label must be label values >= 1, got "${s}"`);
      return n;
    });
  } else {
    labels = [...new Set([...labelValues(gt.data), ...labelValues(pred.data)])].sort((a, b) => a - b);
  }
  const rows = labels.map((label) => ({
    label,
    ...objectMetrics(maskOf(pred.data, label), maskOf(gt.data, label), gt.size, gt.spacing, { nsdToleranceMm: tol }),
  }));
  if (v.json) {
    console.log(JSON.stringify(rows, null, 2));
    return;
  }
  const f = (x: number | null, d = 3) => (x === null ? 'inf' : x.toFixed(d));
  console.log(`label  dice   iou    hd95_mm  assd_mm  nsd@${tol}mm  vol_diff_mL`);
  for (const r of rows) {
    console.log(
      `${String(r.label).padEnd(6)} ${f(r.dice)}  ${f(r.iou)}  ${f(r.hd95, 2).padStart(7)}  ${f(r.assd, 2).padStart(7)}  ${f(r.nsd).padStart(8)}  ${r.volumeDiffMl.toFixed(2).padStart(11)}`,
    );
  }
}
