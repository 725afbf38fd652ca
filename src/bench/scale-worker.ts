/**
 * One measured run of the scale benchmark, in a process of its own so that its peak memory is its own: read the
 * truth's key slices (then drop the truth), read the image, segment one object with one method, write the mask.
 * Prints one JSON line: seconds per step and the peak resident memory after segmenting and at the end.
 */
import { getMethod } from './methods.js';
import { selectKeySlices, simulateLabel, sliceAreas } from '../simulate/annotator.js';
import { readLabelVolume, readVolume, writeVolume } from '../volume/io-node.js';
import { defaultSliceAxis, SliceGeometry, withGeometry } from '../volume/volume.js';
import type { LabelAnnotation } from '../annotations/types.js';

export interface ScaleJob {
  image: string;
  truth: string;
  label: number;
  keySlices: number;
  method: string;
  out: string;
}

export interface ScaleJobResult {
  readSeconds: number;
  segmentSeconds: number;
  /** CPU seconds (all threads) spent segmenting: less sensitive than wall time to a busy machine. */
  segmentCpuSeconds: number;
  writeSeconds: number;
  engineCalls: number | null;
  /** Peak resident set size (MiB) up to the end of segmentation, and over the whole run. */
  peakSegmentMiB: number;
  peakMiB: number;
  keySlices: number[];
}

const maxRssMiB = () => process.resourceUsage().maxRSS / 1024;
const now = () => performance.now() / 1000;
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const gc = (globalThis as { gc?: () => void }).gc;

export async function runScaleJob(job: ScaleJob): Promise<ScaleJobResult> {
  let label: LabelAnnotation;
  let keySlices: number[];
  {
    const truth = await readLabelVolume(job.truth);
    const sg = new SliceGeometry(truth, defaultSliceAxis(truth.spacing));
    keySlices = selectKeySlices(sliceAreas(truth.data, sg, job.label), job.keySlices);
    label = simulateLabel(truth.data, sg, job.label, keySlices, 'mask');
  }
  gc?.();
  const t0 = now();
  const image = await readVolume(job.image);
  const t1 = now();
  const axis = defaultSliceAxis(image.spacing);
  const sg = new SliceGeometry(image, axis);
  const c1 = cpu();
  const res = await getMethod(job.method).run({ image, axis, sg, label });
  const t2 = now();
  const segmentCpuSeconds = cpu() - c1;
  const peakSegmentMiB = maxRssMiB();
  await writeVolume(withGeometry(image, res.mask), job.out);
  const t3 = now();
  return {
    readSeconds: t1 - t0,
    segmentSeconds: t2 - t1,
    segmentCpuSeconds,
    writeSeconds: t3 - t2,
    engineCalls: res.engineCalls ?? null,
    peakSegmentMiB,
    peakMiB: maxRssMiB(),
    keySlices,
  };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '\0') && process.argv[2]) {
  runScaleJob(JSON.parse(process.argv[2]) as ScaleJob).then(
    (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
