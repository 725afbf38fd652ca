/**
 * Index conversion between a volume's voxel order and the RAS-ordered bitmap a viewer such as NiiVue keeps its
 * drawing in. NiiVue reorients every image to the closest RAS grid by a permutation and flips of the voxel axes,
 * chosen from the voxel-to-RAS matrix (largest component per column, the first axis first); the drawing bitmap
 * is stored in that order. The layout here is computed from the volume's own geometry with the same rule, so
 * slices pass between the session (voxel order) and the drawing (RAS order) without assuming the file's order.
 */
import type { Geometry, SliceAxis, Vec3 } from '../volume/volume.js';

export interface RasLayout {
  /** Voxels per RAS axis (R, A, S). */
  dims: Vec3;
  /** For each RAS axis: the voxel axis along it. */
  axisOf: [SliceAxis, SliceAxis, SliceAxis];
  /** For each RAS axis: whether the voxel axis runs against it (towards L, P or I). */
  flip: [boolean, boolean, boolean];
  /** NiiVue's `img2RASstart`: voxel-order index of RAS voxel (0, 0, 0). */
  start: number;
  /** NiiVue's `img2RASstep`: voxel-order index step per RAS axis (negative where flipped). */
  step: Vec3;
}

/** The voxel-to-RAS matrix (3x3, row-major, spacing included) of an LPS geometry. */
export function rasMatrix(g: Geometry): number[] {
  const sign = [-1, -1, 1];
  const m: number[] = [];
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) m.push(sign[r] * g.direction[r * 3 + c] * g.spacing[c]);
  return m;
}

/** The RAS layout of a grid (see the module comment). */
export function rasLayout(g: Geometry): RasLayout {
  const m = rasMatrix(g);
  const a = (r: number, c: number) => Math.abs(m[r * 3 + c]);
  // World axis of voxel axis 0: the largest component, ties to the first.
  let w0 = 0;
  if (a(1, 0) > a(0, 0)) w0 = 1;
  if (a(2, 0) > a(0, 0) && a(2, 0) > a(1, 0)) w0 = 2;
  // World axis of voxel axis 1: the larger of the two left, ties to the later.
  const [p, q] = [0, 1, 2].filter((r) => r !== w0);
  const w1 = a(p, 1) > a(q, 1) ? p : q;
  const w2 = 3 - w0 - w1;
  const worldOf = [w0, w1, w2];
  const axisOf = [0, 0, 0] as [SliceAxis, SliceAxis, SliceAxis];
  for (let c = 0; c < 3; c++) axisOf[worldOf[c]] = c as SliceAxis;
  const flip = [0, 1, 2].map((r) => m[r * 3 + axisOf[r]] < 0) as [boolean, boolean, boolean];
  const dims = axisOf.map((c) => g.size[c]) as Vec3;
  const inStep = [1, g.size[0], g.size[0] * g.size[1]];
  let start = 0;
  const step = [0, 0, 0] as Vec3;
  for (let r = 0; r < 3; r++) {
    step[r] = inStep[axisOf[r]];
    if (flip[r]) {
      start += step[r] * (dims[r] - 1);
      step[r] = -step[r];
    }
  }
  return { dims, axisOf, flip, start, step };
}

/** The RAS axis a voxel axis lies along (0 = R: sagittal slices, 1 = A: coronal, 2 = S: axial). */
export function rasAxisOfVoxelAxis(layout: RasLayout, axis: SliceAxis): 0 | 1 | 2 {
  return layout.axisOf.indexOf(axis) as 0 | 1 | 2;
}

/** For each voxel axis: the RAS-order index stride and whether it runs against RAS. */
function voxelStrides(layout: RasLayout): { stride: Vec3; flip: [boolean, boolean, boolean]; n: Vec3 } {
  const rasStride = [1, layout.dims[0], layout.dims[0] * layout.dims[1]];
  const stride = [0, 0, 0] as Vec3;
  const flip = [false, false, false] as [boolean, boolean, boolean];
  const n = [0, 0, 0] as Vec3;
  for (let r = 0; r < 3; r++) {
    const c = layout.axisOf[r];
    stride[c] = rasStride[r];
    flip[c] = layout.flip[r];
    n[c] = layout.dims[r];
  }
  return { stride, flip, n };
}

/** RAS-order index of voxel (x, y, z). */
export function rasIndex(layout: RasLayout, p: Vec3): number {
  const { stride, flip, n } = voxelStrides(layout);
  let i = 0;
  for (let c = 0; c < 3; c++) i += stride[c] * (flip[c] ? n[c] - 1 - p[c] : p[c]);
  return i;
}

type Typed = Uint8Array | Uint16Array | Int16Array | Float32Array;

/** A voxel-order array in RAS order (a new array of the same type). */
export function toRasOrder<T extends Typed>(data: T, layout: RasLayout): T {
  const out = new (data.constructor as new (n: number) => T)(data.length);
  const [dx, dy, dz] = layout.dims;
  let i = 0;
  for (let k = 0; k < dz; k++) {
    for (let j = 0; j < dy; j++) {
      let src = layout.start + j * layout.step[1] + k * layout.step[2];
      for (let x = 0; x < dx; x++, src += layout.step[0]) out[i++] = data[src];
    }
  }
  return out;
}

/** A RAS-order array back in voxel order (a new array of the same type). */
export function fromRasOrder<T extends Typed>(ras: T, layout: RasLayout): T {
  const out = new (ras.constructor as new (n: number) => T)(ras.length);
  const [dx, dy, dz] = layout.dims;
  let i = 0;
  for (let k = 0; k < dz; k++) {
    for (let j = 0; j < dy; j++) {
      let dst = layout.start + j * layout.step[1] + k * layout.step[2];
      for (let x = 0; x < dx; x++, dst += layout.step[0]) out[dst] = ras[i++];
    }
  }
  return out;
}

/** The in-plane axes of a slice along `axis`, in increasing order (the session's u and v). */
function inPlane(axis: SliceAxis): [SliceAxis, SliceAxis] {
  return ([0, 1, 2] as SliceAxis[]).filter((c) => c !== axis) as [SliceAxis, SliceAxis];
}

/** Calls `f(uvIndex, rasIndex)` for each pixel of slice `slice` along voxel axis `axis`. */
function eachPixel(layout: RasLayout, axis: SliceAxis, slice: number, f: (uv: number, ras: number) => void): void {
  const { stride, flip, n } = voxelStrides(layout);
  const [ua, va] = inPlane(axis);
  const at = (c: SliceAxis, x: number) => stride[c] * (flip[c] ? n[c] - 1 - x : x);
  const base = at(axis, slice);
  const nu = n[ua];
  const nv = n[va];
  for (let v = 0; v < nv; v++) {
    const row = base + at(va, v);
    for (let u = 0; u < nu; u++) f(u + nu * v, row + at(ua, u));
  }
}

/** The mask (`nu x nv`, 1 = set) of the pixels equal to `value` on one slice of a RAS-order bitmap. */
export function sliceFromRas(ras: ArrayLike<number>, layout: RasLayout, axis: SliceAxis, slice: number, value: number): Uint8Array {
  const [ua, va] = inPlane(axis);
  const size = voxelStrides(layout).n;
  const out = new Uint8Array(size[ua] * size[va]);
  eachPixel(layout, axis, slice, (uv, r) => {
    if (ras[r] === value) out[uv] = 1;
  });
  return out;
}

/**
 * Writes a slice mask into a RAS-order bitmap as `value`: set pixels become `value`; pixels holding `value`
 * outside the mask become 0. Returns the count of bitmap voxels changed.
 */
export function sliceToRas(ras: Uint8Array, layout: RasLayout, axis: SliceAxis, slice: number, mask: Uint8Array, value: number): number {
  let changed = 0;
  eachPixel(layout, axis, slice, (uv, r) => {
    const want = mask[uv] ? value : ras[r] === value ? 0 : ras[r];
    if (ras[r] !== want) {
      ras[r] = want;
      changed++;
    }
  });
  return changed;
}

/** Slices (along voxel axis `axis`) on which two RAS-order bitmaps differ. */
export function changedSlices(a: Uint8Array, b: Uint8Array, layout: RasLayout, axis: SliceAxis): number[] {
  const r = rasAxisOfVoxelAxis(layout, axis);
  const stride = [1, layout.dims[0], layout.dims[0] * layout.dims[1]][r];
  const out = new Set<number>();
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      const ri = Math.floor(i / stride) % layout.dims[r];
      out.add(layout.flip[r] ? layout.dims[r] - 1 - ri : ri);
    }
  }
  return [...out].sort((x, y) => x - y);
}

/** RAS voxel coordinates of voxel (x, y, z) (fractional coordinates map the same way). */
export function rasOfVoxel(layout: RasLayout, p: Vec3): Vec3 {
  return [0, 1, 2].map((r) => (layout.flip[r] ? layout.dims[r] - 1 - p[layout.axisOf[r]] : p[layout.axisOf[r]])) as Vec3;
}

/** Voxel (x, y, z) of RAS voxel coordinates: the inverse of {@link rasOfVoxel}. */
export function voxelOfRas(layout: RasLayout, ras: Vec3): Vec3 {
  const out: Vec3 = [0, 0, 0];
  for (let r = 0; r < 3; r++) out[layout.axisOf[r]] = layout.flip[r] ? layout.dims[r] - 1 - ras[r] : ras[r];
  return out;
}

/**
 * The outer corners, in RAS voxel coordinates, of a box `[u0, v0, u1, v1]` (inclusive voxels) on slice `slice`
 * along voxel axis `axis`: the box's outline runs half a voxel outside the centres of its edge voxels.
 */
export function boxCornersRas(layout: RasLayout, axis: SliceAxis, slice: number, [u0, v0, u1, v1]: readonly number[]): [Vec3, Vec3] {
  const [ua, va] = inPlane(axis);
  const corner = (u: number, v: number): Vec3 => {
    const p: Vec3 = [0, 0, 0];
    p[axis] = slice;
    p[ua] = u;
    p[va] = v;
    return rasOfVoxel(layout, p);
  };
  return [corner(u0 - 0.5, v0 - 0.5), corner(u1 + 0.5, v1 + 0.5)];
}
