/**
 * Image-free engines: `interp` (the interpolation prior itself, ITK morphological contour interpolation between
 * key slices, nothing beyond them) and `keyslices` (the key slices only). Boxes become inscribed ellipses and
 * points small discs (see `promptMask`).
 */
import { promptMask } from '../annotations/rasterize.js';
import { keyBoxes, type LabelAnnotation } from '../annotations/types.js';
import type { PropagationStep, SliceEngine, SliceResult } from '../propagation/types.js';

function promptNotes(label: LabelAnnotation): string[] {
  const notes: string[] = [];
  const boxes = label.keySlices.filter((k) => !k.mask && keyBoxes(k).length > 0).length;
  const pts = label.keySlices.filter((k) => !k.mask && keyBoxes(k).length === 0 && k.points.length > 0).length;
  if (boxes) notes.push(`${boxes} box prompt(s) taken as the inscribed ellipse (no image model in this engine)`);
  if (pts) notes.push(`${pts} point-only prompt(s) taken as small discs (no image model in this engine)`);
  return notes;
}

/**
 * An engine that never looks at the image: key slices from `promptMask`, and `next` for every other slice
 * (given the step and an empty mask of the ROI's size).
 */
function imageFreeEngine(
  name: string,
  description: string,
  next: (step: PropagationStep, empty: () => Uint8Array) => SliceResult,
  gapFallback: SliceEngine['gapFallback'] = 'prior',
): SliceEngine {
  return {
    name,
    description,
    gapFallback,
    interpolation: 'mci',
    promptNotes,
    imageGuided: false,
    frontsIndependent: true,
    async open(img) {
      const empty = (): Uint8Array => new Uint8Array(img.nu * img.nv);
      return {
        async segmentSlice(key) {
          return { mask: promptMask(key, img.nu, img.nv) ?? empty(), confidence: 1 };
        },
        async propagate(step) {
          return next(step, empty);
        },
      };
    },
  };
}

export const interpolationEngine = imageFreeEngine(
  'interp',
  'morphological contour interpolation between key slices (ITK, as 3D Slicer "Fill between slices"), no extrapolation',
  (step, empty) => ({ mask: step.prior ?? empty(), confidence: 1 }),
);

export const keySlicesEngine = imageFreeEngine(
  'keyslices',
  'writes the key-slice annotations only (no propagation)',
  (_step, empty) => ({ mask: empty(), confidence: 0 }),
  'none',
);
