/**
 * itk-wasm images and keyslice volumes, both ways, without Node: the geometry (spacing, origin, direction) is
 * carried unchanged, the voxel buffer shared.
 */
import { Image, ImageType, IntTypes, FloatTypes, PixelTypes } from 'itk-wasm';
import { KeysliceError } from '../util/errors.js';
import { type Vec3, type Volume, type VoxelArray, voxelCount } from './volume.js';

function pad3(values: ArrayLike<number>, fill: number): Vec3 {
  return [0, 1, 2].map((i) => (i < values.length ? Number(values[i]) : fill)) as Vec3;
}

/** A 2D or 3D scalar itk-wasm image as a volume (2D as one slice); `file` names it in errors. */
export function fromItkImage(image: Image, file: string): Volume {
  const dim = image.imageType.dimension;
  const size = pad3(image.size, 1);
  const spacing = pad3(image.spacing, 1);
  const origin = pad3(image.origin, 0);
  const direction = [1, 0, 0, 0, 1, 0, 0, 0, 1];
  const d = Math.min(dim, 3);
  for (let r = 0; r < d; r++) for (let c = 0; c < d; c++) direction[r * 3 + c] = Number(image.direction[r * dim + c]);
  const raw = image.data;
  if (raw === null) throw new KeysliceError('FILE_UNREADABLE', 'image has no voxel data', file);
  let data: VoxelArray;
  if (raw instanceof BigInt64Array || raw instanceof BigUint64Array) {
    data = Float64Array.from(raw, (x) => Number(x));
  } else {
    data = raw as VoxelArray;
  }
  const n = voxelCount(size);
  if (data.length < n) throw new KeysliceError('FILE_UNREADABLE', `image holds ${data.length} voxels, header says ${n}`, file);
  if (data.length > n) data = data.subarray(0, n) as VoxelArray;
  return { size, spacing, origin, direction, data };
}

function componentTypeOf(data: VoxelArray): (typeof IntTypes)[keyof typeof IntTypes] | (typeof FloatTypes)[keyof typeof FloatTypes] {
  if (data instanceof Uint8Array) return IntTypes.UInt8;
  if (data instanceof Int8Array) return IntTypes.Int8;
  if (data instanceof Uint16Array) return IntTypes.UInt16;
  if (data instanceof Int16Array) return IntTypes.Int16;
  if (data instanceof Uint32Array) return IntTypes.UInt32;
  if (data instanceof Int32Array) return IntTypes.Int32;
  if (data instanceof Float32Array) return FloatTypes.Float32;
  return FloatTypes.Float64;
}

/** The itk-wasm image of a volume (shares the voxel buffer). */
export function toItkImage(vol: Volume): Image {
  const image = new Image(new ImageType(3, componentTypeOf(vol.data), PixelTypes.Scalar, 1));
  image.size = [...vol.size];
  image.spacing = [...vol.spacing];
  image.origin = [...vol.origin];
  image.direction = Float64Array.from(vol.direction);
  image.data = vol.data;
  return image;
}

