/**
 * The one volume type of keyslice and the geometry helpers around it.
 *
 * Conventions (used everywhere in keyslice):
 * - voxel indices are 0-based; `data[x + nx * (y + ny * z)]` is voxel (x, y, z): axis 0 varies fastest;
 * - `spacing` is in mm per axis, `origin` is the physical position (mm, ITK's LPS frame) of voxel (0, 0, 0);
 * - `direction` holds the 3x3 direction cosine matrix row-major (`direction[row * 3 + col]`, column c being the
 *   physical direction of axis c), as itk-wasm stores it;
 * - physical point of index p: origin + direction · (spacing ⊙ p).
 */

export type VoxelArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array;

export type LabelArray = Uint8Array | Uint16Array;

export type Vec3 = [number, number, number];

export interface Geometry {
  /** Voxels per axis. */
  size: Vec3;
  /** mm per voxel, per axis. */
  spacing: Vec3;
  /** Physical position of voxel (0, 0, 0), mm. */
  origin: Vec3;
  /** 3x3 direction cosines, row-major. */
  direction: readonly number[];
}

export interface Volume<T extends VoxelArray = VoxelArray> extends Geometry {
  data: T;
}

export type SliceAxis = 0 | 1 | 2;

export const IDENTITY_DIRECTION: readonly number[] = [1, 0, 0, 0, 1, 0, 0, 0, 1];

export function voxelCount(size: readonly number[]): number {
  return size[0] * size[1] * size[2];
}

export function copyGeometry(g: Geometry): Geometry {
  return {
    size: [...g.size] as Vec3,
    spacing: [...g.spacing] as Vec3,
    origin: [...g.origin] as Vec3,
    direction: [...g.direction],
  };
}

/** A new volume with the geometry of `g` and the given voxel data (whose length must match). */
export function withGeometry<T extends VoxelArray>(g: Geometry, data: T): Volume<T> {
  if (data.length !== voxelCount(g.size)) {
    throw new Error(`voxel data has ${data.length} values, the grid ${g.size.join('x')} needs ${voxelCount(g.size)}`);
  }
  return { ...copyGeometry(g), data };
}

/** A label array wide enough for the largest label value. */
export function allocLabels(n: number, maxLabel: number): LabelArray {
  return maxLabel <= 255 ? new Uint8Array(n) : new Uint16Array(n);
}

export interface GridTolerance {
  /** Relative tolerance on spacing (default 1e-4: NIfTI headers store float32). */
  spacing?: number;
  /** Absolute tolerance on origin, as a fraction of the smallest spacing (default 1e-3). */
  origin?: number;
  /** Absolute tolerance on direction cosines (default 1e-4). */
  direction?: number;
}

/**
 * Compares two grids. Returns `null` when they match within tolerance, else a sentence saying what differs.
 * The default tolerances absorb float32 header storage, nothing more.
 */
export function gridDifference(a: Geometry, b: Geometry, tol: GridTolerance = {}): string | null {
  const tSp = tol.spacing ?? 1e-4;
  const tOr = (tol.origin ?? 1e-3) * Math.min(...a.spacing);
  const tDir = tol.direction ?? 1e-4;
  const fmt = (v: readonly number[]) => `[${v.map((x) => +x.toPrecision(6)).join(', ')}]`;
  for (let i = 0; i < 3; i++) {
    if (a.size[i] !== b.size[i]) return `size differs: ${a.size.join('x')} vs ${b.size.join('x')}`;
  }
  for (let i = 0; i < 3; i++) {
    if (Math.abs(a.spacing[i] - b.spacing[i]) > tSp * Math.max(a.spacing[i], b.spacing[i])) {
      return `spacing differs: ${fmt(a.spacing)} vs ${fmt(b.spacing)} mm`;
    }
  }
  for (let i = 0; i < 3; i++) {
    if (Math.abs(a.origin[i] - b.origin[i]) > tOr) return `origin differs: ${fmt(a.origin)} vs ${fmt(b.origin)} mm`;
  }
  for (let i = 0; i < 9; i++) {
    if (Math.abs(a.direction[i] - b.direction[i]) > tDir) {
      return `direction differs: ${fmt(a.direction)} vs ${fmt(b.direction)}`;
    }
  }
  return null;
}

/**
 * The default slice axis: the axis with the largest spacing (thick slices); axis 2 when the largest spacing is
 * shared (isotropic data), so that equal spacings never pick an in-plane axis by accident.
 */
export function defaultSliceAxis(spacing: readonly number[]): SliceAxis {
  const max = Math.max(spacing[0], spacing[1], spacing[2]);
  const rel = 1e-3;
  if (spacing[2] >= max * (1 - rel)) return 2;
  if (spacing[1] >= max * (1 - rel)) return 1;
  return 0;
}

/** The two in-plane axes of a slice, in increasing axis order: [u, v]. */
export function inPlaneAxes(axis: SliceAxis): [SliceAxis, SliceAxis] {
  return axis === 0 ? [1, 2] : axis === 1 ? [0, 2] : [0, 1];
}

/**
 * Index arithmetic for slices along one axis. A slice is a 2D array of nu x nv values with
 * `slice[u + nu * v]`, u and v being the in-plane axes in increasing order.
 */
export class SliceGeometry {
  readonly axis: SliceAxis;
  readonly nu: number;
  readonly nv: number;
  readonly count: number;
  /** Voxel stride along u, v and the slice axis in the volume's flat data. */
  readonly su: number;
  readonly sv: number;
  readonly sw: number;
  /** In-plane spacing (u, v) and slice spacing, mm. */
  readonly du: number;
  readonly dv: number;
  readonly dw: number;

  constructor(g: Pick<Geometry, 'size' | 'spacing'>, axis: SliceAxis) {
    const [u, v] = inPlaneAxes(axis);
    const strides = [1, g.size[0], g.size[0] * g.size[1]];
    this.axis = axis;
    this.nu = g.size[u];
    this.nv = g.size[v];
    this.count = g.size[axis];
    this.su = strides[u];
    this.sv = strides[v];
    this.sw = strides[axis];
    this.du = g.spacing[u];
    this.dv = g.spacing[v];
    this.dw = g.spacing[axis];
  }

  get area(): number {
    return this.nu * this.nv;
  }

  /** Flat volume index of in-plane (u, v) on slice w. */
  index(u: number, v: number, w: number): number {
    return u * this.su + v * this.sv + w * this.sw;
  }

  /** Copies slice w of `data` into `out` (nu * nv values) and returns `out`. */
  extract<T extends VoxelArray>(data: ArrayLike<number>, w: number, out: T): T {
    const { nu, nv, su, sv } = this;
    const base = w * this.sw;
    for (let v = 0; v < nv; v++) {
      const row = base + v * sv;
      const o = v * nu;
      for (let u = 0; u < nu; u++) out[o + u] = data[row + u * su];
    }
    return out;
  }

  /**
   * Copies the in-plane box [u0, v0] - [u1, v1] (inclusive) of slice w of `data` into `out` ((u1 - u0 + 1) x
   * (v1 - v0 + 1) values, rows along u) and returns `out`: what `extract` and cutting the box out give, reading
   * the box only.
   */
  extractBox<T extends VoxelArray>(data: ArrayLike<number>, w: number, box: { u0: number; v0: number; u1: number; v1: number }, out: T): T {
    const { su, sv } = this;
    const bu = box.u1 - box.u0 + 1;
    const base = w * this.sw + box.u0 * su;
    for (let v = box.v0; v <= box.v1; v++) {
      const row = base + v * sv;
      const o = (v - box.v0) * bu;
      for (let u = 0; u < bu; u++) out[o + u] = data[row + u * su];
    }
    return out;
  }

  /** Slice w of `data` as a new array of the same kind. */
  slice<T extends VoxelArray>(data: T, w: number): T {
    return this.extract(data, w, new (data.constructor as new (n: number) => T)(this.area));
  }

  /** Writes a 2D slice into slice w of `data`. */
  insert(data: VoxelArray, w: number, slice: ArrayLike<number>): void {
    const { nu, nv, su, sv } = this;
    const base = w * this.sw;
    for (let v = 0; v < nv; v++) {
      const row = base + v * sv;
      const o = v * nu;
      for (let u = 0; u < nu; u++) data[row + u * su] = slice[o + u];
    }
  }

  /** Binary mask (nu x nv) of the voxels equal to `value` on slice w, or null when there is none. */
  maskOf(data: ArrayLike<number>, w: number, value: number): Uint8Array | null {
    const { nu, nv, su, sv } = this;
    const base = w * this.sw;
    const mask = new Uint8Array(nu * nv);
    let n = 0;
    for (let v = 0; v < nv; v++) {
      const row = base + v * sv;
      const o = v * nu;
      for (let u = 0; u < nu; u++) {
        if (data[row + u * su] === value) {
          mask[o + u] = 1;
          n++;
        }
      }
    }
    return n > 0 ? mask : null;
  }

  /** Number of voxels equal to `value` on slice w. */
  countEqual(data: ArrayLike<number>, w: number, value: number): number {
    const { nu, nv, su, sv } = this;
    const base = w * this.sw;
    let n = 0;
    for (let v = 0; v < nv; v++) {
      const row = base + v * sv;
      for (let u = 0; u < nu; u++) if (data[row + u * su] === value) n++;
    }
    return n;
  }
}

/** Sorted distinct non-zero values of a label array. */
export function labelValues(data: ArrayLike<number>): number[] {
  const seen = new Set<number>();
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v !== 0) seen.add(v);
  }
  return [...seen].sort((a, b) => a - b);
}
