/**
 * NIfTI-1 header geometry in ITK's conventions, so that a volume read here has exactly the spacing, origin and
 * direction that ITK's NIfTI reader (and so itk-wasm) gives the same file:
 * - spacing is pixdim[1..3] (0 or non-finite read as 1); spacing and origin are scaled to mm by the spatial
 *   unit of `xyzt_units` (metres, microns; anything else is mm);
 * - the voxel-to-RAS matrix is the sform when it is a rotation plus scaling and its code asks for it (scanner
 *   anatomical, or the qform is unknown), otherwise the qform; with neither code set, the grid sits at the origin
 *   with identity directions;
 * - RAS is turned into LPS (x and y negated) and the matrix columns are normalised into direction cosines.
 *
 * Matrices are handled as ITK's NIfTI library handles them: float32 values (`mat44`), the qform built from its
 * quaternion in double precision and rounded to float32.
 */
import type { Vec3 } from './volume.js';

/** The header fields geometry depends on (raw values as stored in the file). */
export interface NiftiGeometryFields {
  /** dim[0..7]. */
  dims: readonly number[];
  /** pixdim[0..7]; pixdim[0] is qfac. */
  pixDims: readonly number[];
  xyztUnits: number;
  qformCode: number;
  sformCode: number;
  quaternB: number;
  quaternC: number;
  quaternD: number;
  qoffset: readonly [number, number, number];
  /** srow_x, srow_y, srow_z (4 values each, row-major). */
  srow: readonly number[];
}

export interface GridGeometry {
  spacing: Vec3;
  origin: Vec3;
  /** Row-major 3x3, column c the direction of axis c (LPS). */
  direction: number[];
}

/** 4x4 row-major float32 matrix, as niftilib's mat44. */
export type Mat44 = Float32Array;

const XFORM_UNKNOWN = 0;
const XFORM_SCANNER_ANAT = 1;

const fixFloat = (x: number): number => (Number.isFinite(x) ? x : 0);

/** niftilib's grid spacing: pixdim[1..3], 1 where it is 0 or not finite (for 3D and higher headers). */
export function niftiPixdim(fields: NiftiGeometryFields): Vec3 {
  return [1, 2, 3].map((i) => {
    const p = fields.pixDims[i];
    return p === 0 || !Number.isFinite(p) ? 1 : p;
  }) as Vec3;
}

/** The qform matrix from quaternion, offsets, grid spacing and qfac (niftilib's quatern_to_mat44). */
export function quaternToMat44(b0: number, c0: number, d0: number, q: readonly number[], d: Vec3, qfac: number): Mat44 {
  const m = new Float32Array(16);
  let b = b0;
  let c = c0;
  let dd = d0;
  let a = 1 - (b * b + c * c + dd * dd);
  if (a < 1e-7) {
    a = 1 / Math.sqrt(b * b + c * c + dd * dd);
    b *= a;
    c *= a;
    dd *= a;
    a = 0;
  } else {
    a = Math.sqrt(a);
  }
  const xd = d[0] > 0 ? d[0] : 1;
  const yd = d[1] > 0 ? d[1] : 1;
  let zd = d[2] > 0 ? d[2] : 1;
  if (qfac < 0) zd = -zd;
  m[0] = (a * a + b * b - c * c - dd * dd) * xd;
  m[1] = 2 * (b * c - a * dd) * yd;
  m[2] = 2 * (b * dd + a * c) * zd;
  m[3] = q[0];
  m[4] = 2 * (b * c + a * dd) * xd;
  m[5] = (a * a + c * c - b * b - dd * dd) * yd;
  m[6] = 2 * (c * dd - a * b) * zd;
  m[7] = q[1];
  m[8] = 2 * (b * dd - a * c) * xd;
  m[9] = 2 * (c * dd + a * b) * yd;
  m[10] = (a * a + dd * dd - c * c - b * b) * zd;
  m[11] = q[2];
  m[15] = 1;
  return m;
}

function qformMatrix(f: NiftiGeometryFields): Mat44 {
  if (f.qformCode <= 0) {
    const d = niftiPixdim(f);
    const m = new Float32Array(16);
    m[0] = d[0];
    m[5] = d[1];
    m[10] = d[2];
    m[15] = 1;
    return m;
  }
  const qfac = f.pixDims[0] < 0 ? -1 : 1;
  const q = f.qoffset.map(fixFloat);
  return quaternToMat44(fixFloat(f.quaternB), fixFloat(f.quaternC), fixFloat(f.quaternD), q, niftiPixdim(f), qfac);
}

function sformMatrix(f: NiftiGeometryFields): Mat44 {
  const m = new Float32Array(16);
  if (f.sformCode <= 0) return m; // niftilib leaves an unused sform all zero
  for (let i = 0; i < 12; i++) m[i] = f.srow[i];
  m[15] = 1;
  return m;
}

/** Element-wise closeness of rotation/scale, translation and bottom row, as ITK checks it first. */
function nearlySame(s: Mat44, q: Mat44): boolean {
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) if (!(Math.abs(s[r * 4 + c] - q[r * 4 + c]) <= 1e-5)) return false;
  let t = 0;
  for (let r = 0; r < 4; r++) t += Math.abs(s[r * 4 + 3] - q[r * 4 + 3]);
  if (!(t <= 1e-7)) return false;
  let bottom = 0;
  for (let c = 0; c < 4; c++) bottom += Math.abs(s[12 + c] - q[12 + c]);
  return bottom <= 1e-7;
}

/** Whether the sform is an invertible affine whose 3x3 part is a rotation times per-axis scales. */
function rotationTimesScale(s: Mat44): boolean {
  if (Math.abs(s[15] - 1) + Math.abs(s[12]) + Math.abs(s[13]) + Math.abs(s[14]) > 1.1920928955078125e-7) return false;
  const cols: number[][] = [];
  for (let c = 0; c < 3; c++) {
    const v = [s[c], s[4 + c], s[8 + c]];
    const n = Math.hypot(v[0], v[1], v[2]);
    if (!(n > 0) || !Number.isFinite(n)) return false;
    cols.push(v.map((x) => Math.fround(x / n)));
  }
  // R R^T must be the identity within 1e-4 (rows of R dotted).
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      let dot = 0;
      for (let k = 0; k < 3; k++) dot += cols[k][i] * cols[k][j];
      if (!(Math.abs(dot - (i === j ? 1 : 0)) <= 1e-4)) return false;
    }
  }
  return true;
}

/**
 * The matrix ITK takes the grid's placement from, or null where ITK's choice rests on a singular-value
 * comparison of two differing matrices (both codes known, the sform neither scanner-anatomical nor equal to
 * the qform) or where ITK refuses the file: the caller then asks ITK.
 */
export function chooseNiftiMatrix(f: NiftiGeometryFields): Mat44 | 'identity' | null {
  if (f.qformCode === XFORM_UNKNOWN && f.sformCode === XFORM_UNKNOWN) return 'identity';
  const q = qformMatrix(f);
  const s = sformMatrix(f);
  const similar = nearlySame(s, q);
  let preferS = similar;
  if (!preferS || f.sformCode !== XFORM_UNKNOWN) {
    if (rotationTimesScale(s)) {
      if (f.qformCode <= 0 && f.sformCode > 0) preferS = true;
      else if (f.sformCode === XFORM_SCANNER_ANAT) preferS = true;
      else if (f.qformCode > 0 && f.sformCode > 0) {
        if (!s.every((v, i) => v === q[i])) return null;
        preferS = true;
      }
    }
  }
  if (preferS) return s;
  if (f.qformCode > 0) return q;
  return null;
}

/** ITK's spatial unit scale: metres and microns to mm, anything else as mm. */
function unitScale(xyztUnits: number): number {
  const space = xyztUnits & 0x07;
  if (space === 1) return 1e3;
  if (space === 3) return 1e-3;
  return 1;
}

/** Spacing, origin and direction (LPS) of a NIfTI-1 header, or null when ITK must decide (see above). */
export function niftiGridGeometry(f: NiftiGeometryFields): GridGeometry | null {
  const scale = unitScale(f.xyztUnits);
  const d = niftiPixdim(f);
  const spacing = d.map((x) => x * scale) as Vec3;
  const m = chooseNiftiMatrix(f);
  if (m === null) return null;
  if (m === 'identity') return { spacing, origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
  const origin: Vec3 = [-m[3] * scale, -m[7] * scale, m[11] * scale];
  const direction = new Array<number>(9).fill(0);
  for (let c = 0; c < 3; c++) {
    const v = [-m[c], -m[4 + c], m[8 + c]];
    let sum = 0;
    for (const x of v) sum += x * x;
    const n = sum === 0 ? 1 : Math.sqrt(sum);
    for (let r = 0; r < 3; r++) direction[r * 3 + c] = v[r] / n;
  }
  return { spacing, origin, direction };
}

/** The quaternion (b, c, d) and qfac of a proper or improper rotation (row-major 3x3, RAS). */
export function rotationToQuaternion(rIn: readonly number[]): { b: number; c: number; d: number; qfac: number } {
  const r = [...rIn];
  const det =
    r[0] * (r[4] * r[8] - r[5] * r[7]) - r[1] * (r[3] * r[8] - r[5] * r[6]) + r[2] * (r[3] * r[7] - r[4] * r[6]);
  let qfac = 1;
  if (det < 0) {
    qfac = -1;
    r[2] = -r[2];
    r[5] = -r[5];
    r[8] = -r[8];
  }
  const [r11, r12, r13, r21, r22, r23, r31, r32, r33] = r;
  let a = r11 + r22 + r33 + 1;
  let b: number;
  let c: number;
  let d: number;
  if (a > 0.5) {
    a = 0.5 * Math.sqrt(a);
    b = (0.25 * (r32 - r23)) / a;
    c = (0.25 * (r13 - r31)) / a;
    d = (0.25 * (r21 - r12)) / a;
  } else {
    const xd = 1 + r11 - (r22 + r33);
    const yd = 1 + r22 - (r11 + r33);
    const zd = 1 + r33 - (r11 + r22);
    if (xd > 1) {
      b = 0.5 * Math.sqrt(xd);
      c = (0.25 * (r12 + r21)) / b;
      d = (0.25 * (r13 + r31)) / b;
      a = (0.25 * (r32 - r23)) / b;
    } else if (yd > 1) {
      c = 0.5 * Math.sqrt(yd);
      b = (0.25 * (r12 + r21)) / c;
      d = (0.25 * (r23 + r32)) / c;
      a = (0.25 * (r13 - r31)) / c;
    } else {
      d = 0.5 * Math.sqrt(zd);
      b = (0.25 * (r13 + r31)) / d;
      c = (0.25 * (r23 + r32)) / d;
      a = (0.25 * (r21 - r12)) / d;
    }
    if (a < 0) {
      b = -b;
      c = -c;
      d = -d;
    }
  }
  return { b, c, d, qfac };
}
