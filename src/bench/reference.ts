/**
 * A reference for the model engines' times: one encoder run of the engine's model on a fixed synthetic input,
 * timed in the benchmark's own process just before each row (after one warm-up run per process). Seconds per object divided by it read the same on an
 * idle and on a loaded machine (both slow down alike), so a target such as "6 s per object on an idle machine"
 * can be checked as a number of reference runs.
 */
import { loadSam2Model } from '../models/sam2/load-node.js';
import { loadSamModel } from '../models/sam/load-node.js';

/** Wall and CPU seconds (the process's, all threads) of one reference encoder run. */
export interface ReferenceRun {
  seconds: number;
  cpuSeconds: number;
}

/**
 * The fixed input: a smooth, structured pattern on the 0..255 scale (so the encoder does the same work as on a
 * scan, whatever shortcuts it takes on constant input), normalised by the model's mean and std, channel-major.
 */
export function referenceFrame(size: number, mean: readonly number[], std: readonly number[]): Float32Array {
  const out = new Float32Array(3 * size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const r = Math.hypot(x - size / 2, y - size / 2) / size;
      const p = 128 + 90 * Math.sin(x / 17) * Math.cos(y / 23) + 30 * Math.cos(40 * r);
      for (let c = 0; c < 3; c++) out[c * size * size + y * size + x] = (p - mean[c]) / std[c];
    }
  }
  return out;
}

/** Times one call of `run`. */
async function timed(run: () => Promise<unknown>): Promise<ReferenceRun> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await run();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  return { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

type Encoder = () => Promise<unknown>;
const encoders = new Map<string, Promise<Encoder>>();

/** One encoder of each model (no embedding store: every call is an encoder run), loaded once per process. */
function encoderOf(format: 'sam' | 'sam2', model: string | undefined): Promise<Encoder> {
  const key = `${format}\n${model ?? ''}`;
  let e = encoders.get(key);
  if (!e) {
    e = (async (): Promise<Encoder> => {
      if (format === 'sam2') {
        if (model === undefined) throw new Error('a SAM2-family model needs a model folder');
        const m = await loadSam2Model(model);
        const input = referenceFrame(m.manifest.inputSize, m.manifest.mean, m.manifest.std);
        return () => m.encodeImage(input);
      }
      const m = await loadSamModel(model, { memoryCacheBytes: 0 });
      const input = referenceFrame(m.manifest.inputSize, m.manifest.mean, m.manifest.std);
      return () => m.encode(input);
    })().then(async (run) => {
      // One warm-up run when the model is loaded: the first run of a session sets it up.
      await run();
      return run;
    });
    encoders.set(key, e);
  }
  return e;
}

/**
 * One reference encoder run of a model (`sam`: SAM-format, the built-in one when `model` is undefined; `sam2`: a
 * SAM2-family model folder), timed now; the model is loaded, and run once to warm up, on the first call.
 */
export async function referenceEncoderRun(format: 'sam' | 'sam2', model?: string): Promise<ReferenceRun> {
  return timed(await encoderOf(format, model));
}
