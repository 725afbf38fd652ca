/**
 * Morphological contour interpolation (ITK's MorphologicalContourInterpolator, what 3D Slicer's "Fill between
 * slices" runs) of one binary object's key masks along the slice axis.
 *
 * The key masks are stacked as a volume whose axis 2 is the slice axis, so the wrapper's habit of ignoring
 * `axis: 0` never matters, and the key slices are restored exactly afterwards (the filter may add voxels to an
 * annotated slice when two key slices are adjacent).
 */
import { Image, ImageType, IntTypes, PixelTypes } from 'itk-wasm';

/**
 * ITK's filter from `@itk-wasm/morphological-contour-interpolation`, loaded on first use: its Node build runs the
 * filter in-process; in a browser the package's web build runs it in a web worker (serve its pipelines and set
 * their base URL with the package's `setPipelinesBaseUrl`, or it fetches them from a CDN).
 */
async function runFilter(image: Image, options: { axis: number; label: number }): Promise<Image> {
  const mod = await import('@itk-wasm/morphological-contour-interpolation');
  if (typeof process !== 'undefined' && process.versions?.node && typeof mod.morphologicalContourInterpolationNode === 'function') {
    return (await mod.morphologicalContourInterpolationNode(image, options)).outputImage;
  }
  return (await mod.morphologicalContourInterpolation(image, options)).outputImage;
}

export interface KeyMask {
  /** Slice index along the slice axis. */
  index: number;
  /** nu x nv mask (non-zero = object); `null` says the object is absent on this slice. */
  mask: Uint8Array | null;
}

export interface StackShape {
  nu: number;
  nv: number;
  /** Number of slices. */
  count: number;
}

/** Stacks key masks into `count` slices (`out[u + nu * (v + nv * w)]`, 1 = object); other slices stay 0. */
export function stackKeyMasks(shape: StackShape, keys: KeyMask[]): Uint8Array {
  const area = shape.nu * shape.nv;
  const stack = new Uint8Array(area * shape.count);
  for (const k of keys) {
    if (k.mask === null) continue;
    const base = k.index * area;
    for (let i = 0; i < area; i++) stack[base + i] = k.mask[i] ? 1 : 0;
  }
  return stack;
}

/**
 * Interpolates between key masks and returns a stack of `count` slices (layout as {@link stackKeyMasks}).
 * Slices outside the first and last key slice holding the object stay empty (MCI does not extrapolate).
 */
export async function interpolateKeyMasks(shape: StackShape, keys: KeyMask[]): Promise<Uint8Array> {
  const { nu, nv, count } = shape;
  const area = nu * nv;
  const stack = stackKeyMasks(shape, keys);
  if (keys.filter((k) => k.mask !== null).length >= 2) {
    const image = new Image(new ImageType(3, IntTypes.UInt8, PixelTypes.Scalar, 1));
    image.size = [nu, nv, count];
    image.data = stack;
    const out = (await runFilter(image, { axis: 2, label: 1 })).data as Uint8Array;
    for (let i = 0; i < stack.length; i++) stack[i] = out[i] ? 1 : 0;
  }
  for (const k of keys) {
    const dst = stack.subarray(k.index * area, (k.index + 1) * area);
    if (k.mask === null) dst.fill(0);
    else for (let i = 0; i < area; i++) dst[i] = k.mask[i] ? 1 : 0;
  }
  return stack;
}
