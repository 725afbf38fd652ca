/**
 * A trained correspondence adapter on onnxruntime (Node or browser, through `OnnxRuntime`), and the term it adds
 * to the classic engine's propagation cuts: the previous slice's mask carried to the next slice by the learned
 * slice-to-slice attention, as logits weighted by the manifest's `guideWeight`.
 */
import type { PixelGuide } from '../../engines/classic/engine.js';
import type { PropagationStep, RoiImage } from '../../propagation/types.js';
import { floatData, type GraphSession, type OnnxRuntime } from '../onnx/runtime.js';
import { carryByAffinity, edgeProfile, probabilityLogits } from './correspondence.js';
import type { AdapterManifest } from './manifest.js';
import { KeysliceError } from '../../util/errors.js';

/** The correspondence module's shape (refusing an adapter of another kind). */
function correspondenceShape(m: AdapterManifest): NonNullable<AdapterManifest['correspondence']> {
  if (!m.correspondence) throw new KeysliceError('INVALID_MODEL', `a ${m.kind} adapter has no correspondence module`);
  return m.correspondence;
}

export interface CorrespondenceModel {
  manifest: AdapterManifest;
  /** Features (channels x nu x nv) of a windowed slice. */
  features(windowed: Float32Array, nu: number, nv: number): Promise<Float32Array>;
  /** Graph runs and their seconds so far. */
  readonly usage: { runs: number; seconds: number };
  release(): Promise<void>;
}

export async function correspondenceModel(runtime: OnnxRuntime, graph: string | Uint8Array, manifest: AdapterManifest): Promise<CorrespondenceModel> {
  const session: GraphSession = await runtime.load(graph);
  const input = session.inputs[0]?.name ?? 'edges';
  const output = session.outputs[0]?.name ?? 'features';
  const usage = { runs: 0, seconds: 0 };
  const { inputChannels } = correspondenceShape(manifest);
  return {
    manifest,
    usage,
    async features(windowed, nu, nv) {
      const t0 = performance.now();
      const edges = edgeProfile(windowed, nu, nv);
      const res = await session.run({ [input]: runtime.float32(edges, [1, inputChannels, nv, nu]) }, [output]);
      usage.runs++;
      usage.seconds += (performance.now() - t0) / 1000;
      return floatData(res[output], `adapter output ${output}`);
    },
    release: () => session.release(),
  };
}

/** Per-image state of an adapter term: guides for the propagation steps. */
export interface AdapterGuides {
  guide(step: PropagationStep): Promise<PixelGuide | null>;
}

/** What the classic engine takes as `adapter`: opened once per object on its ROI image. */
export interface CutAdapter {
  open(img: RoiImage): AdapterGuides;
}

/**
 * The previous slice's mask carried by `model` (see the module comment); `weight` defaults to the manifest's.
 * By default the term joins only the cuts beyond the outermost key slices, where the previous mask is the only
 * shape evidence (as the hybrid engine weighs its model there only); between key slices the interpolation of
 * the key masks already guides the cut, and on the leave-one-out benchmark the term pulled it away there.
 * `betweenKeys` adds it there too. With `whereUnsure` (default) the term counts at each pixel only as far as the
 * cut's own costs leave it open (see `PixelGuide`): the carried mask keeps roughly the area it came from, which
 * helps where the intensity models cannot tell the object from its surroundings, and hurts at the object's ends,
 * where it tapers and the image says so.
 */
export interface TermOptions {
  /** The term's weight (default: the manifest's `guideWeight`). */
  weight?: number;
  /** Add the term between key slices too (default false). */
  betweenKeys?: boolean;
  /** Weigh it by the cut's own uncertainty (default true; see `PixelGuide`). */
  whereUnsure?: boolean;
}

export function correspondenceTerm(model: CorrespondenceModel, options: TermOptions = {}): CutAdapter {
  const { weight, betweenKeys = false, whereUnsure = true } = options;
  const { channels, radius } = correspondenceShape(model.manifest);
  return {
    open(img) {
      const cache = new Map<number, Promise<Float32Array>>();
      const features = (w: number): Promise<Float32Array> => {
        let f = cache.get(w);
        if (!f) {
          f = model.features(img.windowed(w), img.nu, img.nv);
          cache.set(w, f);
        }
        return f;
      };
      return {
        async guide(step) {
          const w = weight ?? model.manifest.guideWeight;
          if (w <= 0 || (!betweenKeys && step.front.between)) return null;
          const [fa, fb] = await Promise.all([features(step.from), features(step.to)]);
          const p = carryByAffinity(fa, fb, channels, img.nu, img.nv, radius, step.mask);
          return { logits: probabilityLogits(p), weight: w, whereUnsure };
        },
      };
    },
  };
}
