/**
 * Image-free engines: `interp` (the interpolation prior itself, ITK morphological contour interpolation between
 * key slices, nothing beyond them) and `keyslices` (the key slices only). Boxes become inscribed ellipses and
 * points small discs (see `promptMask`).
 */
import { promptMask } from '../annotations/rasterize.js';
import type { KeySlice, LabelAnnotation } from '../annotations/types.js';
import type { RoiImage, SliceEngine, SliceResult } from '../propagation/types.js';

function promptNotes(label: LabelAnnotation): string[] {
  const notes: string[] = [];
  const boxes = label.keySlices.filter((k) => !k.mask && k.box).length;
  const pts = label.keySlices.filter((k) => !k.mask && !k.box && k.points.length > 0).length;
  if (boxes) notes.push(`${boxes} box prompt(s) taken as the inscribed ellipse (no image model in this engine)`);
  if (pts) notes.push(`${pts} point-only prompt(s) taken as small discs (no image model in this engine)`);
  return notes;
}

/** A key slice's image-free mask (see `promptMask`). */
function promptSlice(img: RoiImage, key: KeySlice): SliceResult {
  return { mask: promptMask(key, img.nu, img.nv) ?? new Uint8Array(img.nu * img.nv), confidence: 1 };
}

export const interpolationEngine: SliceEngine = {
  name: 'interp',
  description: 'morphological contour interpolation between key slices (ITK, as 3D Slicer "Fill between slices"), no extrapolation',
  promptNotes,
  imageGuided: false,
  async open(img) {
    return {
      async segmentSlice(key) {
        return promptSlice(img, key);
      },
      async propagate(step) {
        return { mask: step.prior ?? new Uint8Array(img.nu * img.nv), confidence: 1 };
      },
    };
  },
};

export const keySlicesEngine: SliceEngine = {
  name: 'keyslices',
  description: 'writes the key-slice annotations only (no propagation)',
  gapFallback: 'none',
  promptNotes,
  imageGuided: false,
  async open(img) {
    return {
      async segmentSlice(key) {
        return promptSlice(img, key);
      },
      async propagate() {
        return { mask: new Uint8Array(img.nu * img.nv), confidence: 0 };
      },
    };
  },
};
