/**
 * The methods a benchmark compares, behind one signature: one object's annotation in, a binary mask on the
 * image grid out.
 * - `keyslice:<engine>`: keyslice's own engines, through `segment()`, the code path of `keyslice segment`;
 *   `keyslice:<engine>/noskip` runs the engine on every slice (no reuse of near-duplicates, no skipping of
 *   redundant slices), the baseline for the engine calls that skipping saves and what it costs in Dice;
 *   `keyslice:sam/mosaicN` and `keyslice:hybrid/mosaicN` tile N x N slices of a front into one encoder input
 *   (`--sam-mosaic N`), so that one run can compare them with the engine's default;
 * - `mci`: ITK morphological contour interpolation with default options on the key masks (3D Slicer's
 *   "Fill between slices");
 * - `linear`: NiiVue's `interpolateMaskSlices` (intensity-guided blend, its defaults), run between each pair of
 *   consecutive key slices as a NiiVue user would, with the image's data and maximum as NiiVue passes them.
 * Peers take masks; a box key slice is given to them as the filled rectangle, points as small discs.
 */
import { morphologicalContourInterpolationNode } from '@itk-wasm/morphological-contour-interpolation';
import { interpolateMaskSlices } from '@niivue/niivue/drawing';
import { Image, ImageType, IntTypes, PixelTypes } from 'itk-wasm';
import { fillBox, promptMask } from '../annotations/rasterize.js';
import { keyBoxes, type LabelAnnotation } from '../annotations/types.js';
import { stackKeyMasks } from '../interpolation/mci.js';
import { maskOf } from '../metrics/metrics.js';
import { maskOfValueInPlace } from '../morphology/binary.js';
import { allEngineNames, MODEL_ENGINES, resolveEngine } from '../pipeline/engines-node.js';
import { checkEngineSettings, defaultSamMosaic, engineSpec } from '../pipeline/engines.js';
import { DEFAULT_ENGINE, engineNames, segment } from '../pipeline/segment.js';
import type { SliceEngine } from '../propagation/types.js';
import { KeysliceError } from '../util/errors.js';
import type { SliceGeometry, SliceAxis, Volume } from '../volume/volume.js';
import { referenceEncoderRun, type ReferenceRun } from './reference.js';

export interface MethodInput {
  image: Volume;
  axis: SliceAxis;
  sg: SliceGeometry;
  /** One object; its value is the label value. */
  label: LabelAnnotation;
  /**
   * Every object of the scan annotated with it, in order (`label` among them): keyslice segments them together,
   * as a user's labels are (one object's end may be where another begins). Peers segment `label` alone.
   */
  labels?: LabelAnnotation[];
}

export interface MethodOutput {
  /** Binary mask (1 = object) in the image's voxel layout. */
  mask: Uint8Array;
  /** keyslice's engines: engine calls made, and calls saved by reusing or skipping redundant slices. */
  engineCalls?: number;
  callsSaved?: number;
  /** keyslice's engines: the engine's counters over the run (model engines: encoder and decoder runs and seconds). */
  engineStats?: Record<string, number>;
  /** keyslice's engines: seconds of the extent engine's runs that bound the fronts (model engines), over all labels. */
  extentSeconds?: number;
  /** Objects segmented in the run (keyslice's engines segment every object of the scan together; default 1). */
  objects?: number;
}

export interface BenchMethod {
  name: string;
  run(input: MethodInput): Promise<MethodOutput>;
  /** The model engines: one reference encoder run of their model, timed now (see `reference.ts`). */
  reference?: () => Promise<ReferenceRun>;
}

/** Key masks for peers: the drawn mask, the filled box rectangles, or the points' small discs (`promptMask`). */
function peerKeyMask(k: LabelAnnotation['keySlices'][number], nu: number, nv: number): Uint8Array | null {
  if (k.empty) return null;
  if (k.mask) return k.mask;
  const boxes = keyBoxes(k);
  const m = boxes.length > 0 ? new Uint8Array(nu * nv) : (promptMask(k, nu, nv) as Uint8Array);
  for (const b of boxes) fillBox(m, nu, nv, b);
  return m;
}

/** Stack of slices (slice axis last) → image voxel layout. */
function stackToVolume(stack: ArrayLike<number>, sg: SliceGeometry): Uint8Array {
  const out = new Uint8Array(sg.area * sg.count);
  const area = sg.area;
  const s = new Uint8Array(area);
  for (let w = 0; w < sg.count; w++) {
    for (let i = 0; i < area; i++) s[i] = stack[w * area + i] ? 1 : 0;
    sg.insert(out, w, s);
  }
  return out;
}

function keyStack(input: MethodInput): Uint8Array {
  const { sg, label } = input;
  const keys = label.keySlices.map((k) => ({ index: k.index, mask: peerKeyMask(k, sg.nu, sg.nv) }));
  return stackKeyMasks({ nu: sg.nu, nv: sg.nv, count: sg.count }, keys);
}

export const mciMethod: BenchMethod = {
  name: 'mci',
  async run(input) {
    const { sg } = input;
    const image = new Image(new ImageType(3, IntTypes.UInt8, PixelTypes.Scalar, 1));
    image.size = [sg.nu, sg.nv, sg.count];
    image.spacing = [sg.du, sg.dv, sg.dw];
    image.data = keyStack(input);
    const { outputImage } = await morphologicalContourInterpolationNode(image);
    return { mask: stackToVolume(outputImage.data as Uint8Array, sg) };
  },
};

export const linearBlendMethod: BenchMethod = {
  name: 'linear',
  async run(input) {
    const { sg, image, label } = input;
    const bitmap = keyStack(input);
    const intensity = new Float32Array(sg.area * sg.count);
    const slice = new Float32Array(sg.area);
    let maxVal = -Infinity;
    for (let w = 0; w < sg.count; w++) {
      sg.extract(image.data, w, slice);
      intensity.set(slice, w * sg.area);
      for (let i = 0; i < slice.length; i++) if (slice[i] > maxVal) maxVal = slice[i];
    }
    const keys = label.keySlices.filter((k) => !k.empty).map((k) => k.index);
    const dims = { dimX: sg.nu, dimY: sg.nv, dimZ: sg.count };
    for (let n = 0; n + 1 < keys.length; n++) {
      if (keys[n + 1] - keys[n] < 2) continue;
      interpolateMaskSlices(bitmap, dims, intensity, maxVal, keys[n], keys[n + 1], {}, () => {});
    }
    return { mask: stackToVolume(bitmap, sg) };
  },
};

/** Stop rules that turn off reusing near-duplicate slices and skipping redundant ones. */
export const NO_SKIPPING = { duplicateSsim: 2, skipPredictability: 2 };

/**
 * `keyslice:<engine>`, or `keyslice:<engine>/noskip` (every slice runs the engine: the baseline for savings), or
 * `keyslice:<engine>/mosaicN` (a SAM-format engine with N x N slices per encoder input). `model`: the model
 * engines' model folder (default: the built-in model).
 */
function engineMethod(name: string, noSkip = false, samMosaic?: number, model?: string): BenchMethod {
  let engine: Promise<SliceEngine> | undefined;
  const format = engineSpec(name).model;
  return {
    name: `keyslice:${name}${noSkip ? '/noskip' : ''}${samMosaic !== undefined ? `/mosaic${samMosaic}` : ''}`,
    ...(format !== 'none' ? { reference: () => referenceEncoderRun(format, model) } : {}),
    async run(input) {
      // No embeddings kept between runs: each simulated user starts cold, and times say so.
      engine ??= resolveEngine(name, { memoryCacheBytes: 0, ...(samMosaic !== undefined ? { samMosaic } : {}), ...(model !== undefined ? { model } : {}) });
      const { labels, report } = await segment(
        input.image,
        { axis: input.axis, labels: input.labels ?? [input.label] },
        { engine: await engine, ...(noSkip ? { stopRules: NO_SKIPPING } : {}) },
      );
      // The label volume becomes the mask in place where it is bytes (a large scan's copy is not free).
      const data = labels.data;
      const mask = data instanceof Uint8Array ? maskOfValueInPlace(data, input.label.value) : maskOf(data, input.label.value);
      const l = report.labels.find((x) => x.value === input.label.value);
      return {
        mask,
        engineCalls: l?.engineCalls ?? 0,
        callsSaved: l ? l.reusedSlices + l.skippedSlices - l.skipsRejected : 0,
        ...(report.engineStats ? { engineStats: { ...report.engineStats } } : {}),
        ...(report.labels.some((x) => x.extentRun) ? { extentSeconds: report.labels.reduce((s, x) => s + (x.extentRun?.seconds ?? 0), 0) } : {}),
        objects: report.labels.length,
      };
    },
  };
}

/**
 * Default method list: keyslice's weight-free engines (except the key-slice-only baseline), the default engine
 * without skipping (the baseline of what skipping saves), and the peers; the model engines (`keyslice:sam`,
 * `keyslice:hybrid`, `keyslice:medsam2`) take minutes per dataset on a CPU and are named explicitly.
 */
export function defaultMethodNames(): string[] {
  return [
    ...engineNames()
      .filter((e) => e !== 'keyslices')
      .flatMap((e) => (e === DEFAULT_ENGINE ? [`keyslice:${e}`, `keyslice:${e}/noskip`] : [`keyslice:${e}`])),
    'mci',
    'linear',
  ];
}

/**
 * The method `name`. `settings.samMosaic` (N > 1) runs the SAM-format engines named (`keyslice:sam`,
 * `keyslice:hybrid`) as their `/mosaicN` form, and leaves the other methods as they are; `settings.model` is the
 * model folder of the model engines (default: the built-in SAM-format model; `medsam2` needs one); the other
 * methods ignore it.
 */
export function getMethod(name: string, settings: { samMosaic?: number; model?: string } = {}): BenchMethod {
  if (name === 'mci') return mciMethod;
  if (name === 'linear') return linearBlendMethod;
  const m = /^(?:keyslice:)?([a-z0-9]+)(?:\/(noskip|mosaic(\d+)))?$/.exec(name);
  const engine = m?.[1] ?? '';
  if (m && allEngineNames().includes(engine)) {
    const mosaic = m[3] !== undefined ? Number(m[3]) : settings.samMosaic;
    if (m[3] !== undefined && engineSpec(engine).model !== 'sam') {
      throw new KeysliceError('USAGE', `bench method "${name}": /mosaicN is for the engines with a SAM-format model (${MODEL_ENGINES.filter((e) => engineSpec(e).model === 'sam').join(', ')})`);
    }
    // A mosaic other than the engine's default names the method after it (`keyslice:hybrid/mosaic1`).
    const tiled = mosaic !== undefined && mosaic !== defaultSamMosaic(engine) && engineSpec(engine).model === 'sam' ? mosaic : undefined;
    if (tiled !== undefined) checkEngineSettings(engine, { samMosaic: tiled });
    return engineMethod(engine, m[2] === 'noskip', tiled, engineSpec(engine).model === 'none' ? undefined : settings.model);
  }
  const known = ['mci', 'linear', ...allEngineNames().map((e) => `keyslice:${e}`), 'keyslice:<engine>/noskip', 'keyslice:sam/mosaicN', 'keyslice:hybrid/mosaicN'];
  throw new KeysliceError('USAGE', `unknown bench method "${name}" (available: ${known.join(', ')})`);
}
