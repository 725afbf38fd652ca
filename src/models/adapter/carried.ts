/**
 * A correspondence adapter (`correspondence.ts`, trained from images alone or with labels) on a model engine's
 * decoder logits (`sam`, `hybrid`): on each propagated slice the mask the decoder was prompted with (the previous
 * slice's) is carried to this slice by the learned slice-to-slice attention, and what the learned attention
 * moves, against a blind carry (the same window with equal weights: the mask blurred), is added to the
 * decoder's logits as one more term:
 *
 *   logits + weight x (logit(carried) - logit(blind)), resampled from the ROI to the decoder's frame.
 *
 * Where the module's features are zero (it tells no pixel from another) the carried and the blind masks are the
 * same numbers and the logits are left bit for bit; inside and far outside the mask both
 * are sure and cancel, so the term speaks at the mask's edge, where the learned attention says it moved.
 * As on the classic engine (`correspondenceTerm`), the term joins only fronts beyond the outermost key slices by
 * default.
 */
import { roiToMaskInput } from '../../engines/sam/frame.js';
import type { LogitResidual } from '../../engines/sam/residual.js';
import type { RoiImage } from '../../propagation/types.js';
import { carryByAffinity, probabilityLogits } from './correspondence.js';
import type { CorrespondenceModel, TermOptions } from './model.js';
import { KeysliceError } from '../../util/errors.js';

/** logit(carried) - logit(blind) of a mask carried from `source` features to `target` features (ROI pixels). */
export function carriedShift(source: Float32Array, target: Float32Array, channels: number, nu: number, nv: number, radius: number, mask: ArrayLike<number>): Float32Array {
  const carried = probabilityLogits(carryByAffinity(source, target, channels, nu, nv, radius, mask));
  const flat = new Float32Array(nu * nv);
  const blind = probabilityLogits(carryByAffinity(flat, flat, 1, nu, nv, radius, mask));
  for (let i = 0; i < carried.length; i++) carried[i] -= blind[i];
  return carried;
}

/**
 * The term of a correspondence model on a model engine's logits (see the module comment). Its weight is
 * `weight` where given, else the manifest's for the front's kind (`frontWeights`), else its `guideWeight`.
 */
export function carriedTerm(model: CorrespondenceModel, options: Omit<TermOptions, 'whereUnsure'> = {}): LogitResidual {
  const m = model.manifest;
  if (!m.correspondence) throw new KeysliceError('INVALID_MODEL', `a ${m.kind} adapter has no correspondence module`);
  const { channels, radius } = m.correspondence;
  const features = new WeakMap<RoiImage, Map<number, Promise<Float32Array>>>();
  const featuresOf = (img: RoiImage, w: number): Promise<Float32Array> => {
    let byImage = features.get(img);
    if (!byImage) features.set(img, (byImage = new Map()));
    let f = byImage.get(w);
    if (!f) byImage.set(w, (f = model.features(img.windowed(w), img.nu, img.nv)));
    return f;
  };
  return {
    async correct(input) {
      const { img, step, source, frame, logits, size } = input;
      const w = options.weight ?? (m.frontWeights ? m.frontWeights[input.drawnKey ? 'drawn' : 'mask'] : m.guideWeight);
      if (w <= 0 || (!options.betweenKeys && step.front.between)) return logits;
      const [fa, fb] = await Promise.all([featuresOf(img, step.from), featuresOf(img, step.to)]);
      const shift = roiToMaskInput(carriedShift(fa, fb, channels, img.nu, img.nv, radius, source), img.nu, img.nv, frame, size, 0);
      return logits.map((x, i) => x + w * shift[i]);
    },
  };
}
