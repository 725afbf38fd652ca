/**
 * The training loop shared by the adapters: Adam over `variables`, batches from `nextBatch`, epochs of
 * `stepsPerEpoch` steps; after every epoch the mean loss over `validation` is measured and the weights of the
 * best epoch kept (`snapshot`); training stops after `patience` epochs without improvement, or at `maxSteps`.
 */
import type { Scalar, Variable } from '@tensorflow/tfjs-core';
import type { Tf } from './tf.js';

export interface FitProgress {
  step: number;
  maxSteps: number;
  /** Mean training loss over the epoch so far. */
  loss: number;
  /** Validation loss after the last finished epoch (null before the first). */
  validationLoss: number | null;
}

/** The loop's settings as the adapters' options give them (learning rate 0.003, 20 steps per epoch, patience 3). */
export interface FitOptions {
  learningRate?: number;
  stepsPerEpoch?: number;
  maxSteps?: number;
  patience?: number;
  onProgress?: (p: FitProgress) => void;
}

export function fitSettings(o: FitOptions, maxSteps: number): Pick<FitSpec<unknown, unknown>, 'learningRate' | 'stepsPerEpoch' | 'maxSteps' | 'patience' | 'onProgress'> {
  return { learningRate: o.learningRate ?? 0.003, stepsPerEpoch: o.stepsPerEpoch ?? 20, maxSteps: o.maxSteps ?? maxSteps, patience: o.patience ?? 3, onProgress: o.onProgress };
}

export interface FitSpec<B, W> {
  variables: Variable[];
  /** The next training batch (null: none to be had this step). */
  nextBatch: () => B | null;
  /** Loss of a batch (a scalar tensor; called inside the optimizer's tape). */
  loss: (b: B) => Scalar;
  validation: B[];
  /** A copy of the current weights. */
  snapshot: () => W;
  learningRate: number;
  stepsPerEpoch: number;
  maxSteps: number;
  patience: number;
  onProgress?: (p: FitProgress) => void;
}

export interface FitResult<W> {
  weights: W;
  /** Mean training loss per epoch, and validation loss after each. */
  loss: number[];
  validationLoss: number[];
  /** Validation loss before training. */
  initialValidationLoss: number;
  steps: number;
  seconds: number;
  stoppedEarly: boolean;
}

export async function fit<B, W>(tf: Tf, spec: FitSpec<B, W>): Promise<FitResult<W>> {
  const t0 = performance.now();
  const optimizer = tf.train.adam(spec.learningRate);
  const lossValue = (b: B): number => {
    const l = spec.loss(b);
    const v = l.dataSync()[0];
    l.dispose();
    return v;
  };
  const validate = (): number => spec.validation.reduce((s, b) => s + lossValue(b), 0) / Math.max(1, spec.validation.length);
  const initialValidationLoss = validate();
  let best = { loss: initialValidationLoss, weights: spec.snapshot() };
  const losses: number[] = [];
  const valLosses: number[] = [];
  let step = 0;
  let stale = 0;
  let stoppedEarly = false;
  try {
    while (step < spec.maxSteps) {
      let sum = 0;
      let n = 0;
      for (let s = 0; s < spec.stepsPerEpoch && step < spec.maxSteps; s++, step++) {
        const b = spec.nextBatch();
        if (b === null) continue;
        const cost = optimizer.minimize(() => spec.loss(b), true, spec.variables);
        sum += cost ? cost.dataSync()[0] : NaN;
        cost?.dispose();
        n++;
        spec.onProgress?.({ step: step + 1, maxSteps: spec.maxSteps, loss: sum / n, validationLoss: valLosses.at(-1) ?? null });
        // Let timers and I/O run between steps.
        if (step % 8 === 0) await new Promise((r) => setImmediate(r));
      }
      losses.push(sum / Math.max(1, n));
      const vl = validate();
      valLosses.push(vl);
      spec.onProgress?.({ step, maxSteps: spec.maxSteps, loss: sum / Math.max(1, n), validationLoss: vl });
      if (vl < best.loss - 1e-5) {
        best = { loss: vl, weights: spec.snapshot() };
        stale = 0;
      } else if (++stale >= spec.patience) {
        stoppedEarly = step < spec.maxSteps;
        break;
      }
    }
  } finally {
    optimizer.dispose();
  }
  return { weights: best.weights, loss: losses, validationLoss: valLosses, initialValidationLoss, steps: step, seconds: (performance.now() - t0) / 1000, stoppedEarly };
}
