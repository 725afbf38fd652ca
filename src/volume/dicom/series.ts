/**
 * Grouping DICOM files into series and checking that a series makes one regular volume: same orientation,
 * size, pixel spacing and rescale on every slice, and slices evenly spaced along the slice normal with none
 * missing. Pure functions over parsed headers; the messages name the series and the slice positions involved.
 */
import { KeysliceError } from '../../util/errors.js';
import type { Vec3, VoxelArray } from '../volume.js';
import type { DicomHeader } from './header.js';
import { resampleSlices } from './resample-slices.js';

export interface DicomFile {
  file: string;
  header: DicomHeader;
}

export interface SeriesSummary {
  uid: string;
  description: string;
  modality: string;
  /** Image files (slices, or one multi-frame file). */
  files: number;
  /** Folder holding the first file. */
  folder: string;
}

/** Relative tolerance on the slice step: steps further than this from the median step are a gap or unevenness. */
export const SLICE_STEP_TOLERANCE = 0.05;

/** Files holding an image (pixel data, a series UID, a size): the ones a volume can be built from. */
export function isImageFile(h: DicomHeader): boolean {
  return h.hasPixelData && !!h.seriesInstanceUid && (h.rows ?? 0) > 0 && (h.columns ?? 0) > 0;
}

/** Image files grouped by series instance UID, in order of first appearance. */
export function groupSeries(files: DicomFile[]): Map<string, DicomFile[]> {
  const out = new Map<string, DicomFile[]>();
  for (const f of files) {
    if (!isImageFile(f.header)) continue;
    const uid = f.header.seriesInstanceUid as string;
    let g = out.get(uid);
    if (!g) out.set(uid, (g = []));
    g.push(f);
  }
  return out;
}

export function summarize(uid: string, files: DicomFile[], folderOf: (file: string) => string): SeriesSummary {
  const h = files[0].header;
  return {
    uid,
    description: h.seriesDescription ?? '',
    modality: h.modality ?? '',
    files: files.length,
    folder: folderOf(files[0].file),
  };
}

/** One line per series, for messages and listings. */
export function formatSeriesList(list: SeriesSummary[]): string {
  return list
    .map((s) => `  ${s.uid}  ${s.modality || '-'}  "${s.description}"  ${s.files} file(s)  in ${s.folder}`)
    .join('\n');
}

export interface SeriesPlan {
  /** Files sorted by position along the slice normal. */
  files: string[];
  /** Each file's position along the normal, mm, ascending. */
  positions: number[];
  /** Median step between neighbouring slices, mm. */
  step: number;
  /** Steps that differ from the median by more than {@link SLICE_STEP_TOLERANCE}: index i is between slices i and i+1. */
  gaps: { index: number; from: number; to: number }[];
  /** Row direction, column direction, normal (columns of the direction matrix). */
  axes: [Vec3, Vec3, Vec3];
  /** Position of the first slice's first voxel, mm. */
  origin: Vec3;
}

function cross(a: readonly number[], b: readonly number[]): Vec3 {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

function dot(a: readonly number[], b: readonly number[]): number {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

const fmt = (x: number) => String(+x.toFixed(3));

/** The first attribute on which the slices of a series disagree, as a sentence, or null. */
function mixedAttribute(files: DicomFile[]): string | null {
  const first = files[0].header;
  const checks: [string, (h: DicomHeader) => string][] = [
    ['image size (rows x columns)', (h) => `${h.rows}x${h.columns}`],
    ['orientation (0020,0037)', (h) => (h.imageOrientation ?? []).map((x) => x.toFixed(4)).join('\\')],
    ['pixel spacing (0028,0030)', (h) => (h.pixelSpacing ?? []).map((x) => x.toFixed(5)).join('\\')],
    ['rescale slope and intercept (0028,1053/1052)', (h) => `${h.rescaleSlope ?? 1}/${h.rescaleIntercept ?? 0}`],
  ];
  for (const [name, key] of checks) {
    const ref = key(first);
    const odd = files.find((f) => key(f.header) !== ref);
    if (odd) return `${name} differs within the series: ${ref} in ${files[0].file}, ${key(odd.header)} in ${odd.file}`;
  }
  return null;
}

/**
 * Orders a single-frame series along its slice normal and checks that it is one regular volume. Throws
 * DICOM_MIXED_SERIES for slices that disagree (orientation, size, spacing, rescale, duplicate or sheared
 * positions); gaps and uneven steps are returned in `gaps` for the caller to refuse or repair.
 */
export function planSeries(files: DicomFile[], where: string): SeriesPlan {
  const mixed = mixedAttribute(files);
  if (mixed) throw new KeysliceError('DICOM_MIXED_SERIES', mixed, where);
  const h0 = files[0].header;
  const iop = h0.imageOrientation;
  const missing = files.find((f) => !f.header.imagePosition);
  if (!iop || missing) {
    throw new KeysliceError('DICOM_MIXED_SERIES', `slice without image position or orientation (0020,0032/0037): ${(missing ?? files[0]).file}`, where);
  }
  const row: Vec3 = [iop[0], iop[1], iop[2]];
  const col: Vec3 = [iop[3], iop[4], iop[5]];
  const normal = cross(row, col);
  const sorted = files
    .map((f) => ({ f, d: dot(f.header.imagePosition as Vec3, normal) }))
    .sort((a, b) => a.d - b.d);
  const positions = sorted.map((s) => s.d);
  for (let i = 1; i < sorted.length; i++) {
    if (positions[i] - positions[i - 1] < 1e-3) {
      throw new KeysliceError(
        'DICOM_MIXED_SERIES',
        `two slices at the same position ${fmt(positions[i])} mm along the slice normal: ${sorted[i - 1].f.file} and ${sorted[i].f.file}`,
        where,
      );
    }
  }
  const steps = positions.slice(1).map((p, i) => p - positions[i]);
  const step = steps.length ? [...steps].sort((a, b) => a - b)[Math.floor(steps.length / 2)] : 1;
  const gaps = steps.flatMap((s, i) =>
    Math.abs(s - step) > SLICE_STEP_TOLERANCE * step ? [{ index: i, from: positions[i], to: positions[i + 1] }] : [],
  );
  const origin = sorted[0].f.header.imagePosition as Vec3;
  const spacing = h0.pixelSpacing ?? [1, 1];
  // Positions must lie on the normal through the first slice (a tilted gantry shears the volume).
  for (const s of sorted) {
    const p = s.f.header.imagePosition as Vec3;
    const off = [p[0] - origin[0], p[1] - origin[1], p[2] - origin[2]];
    const inPlane = Math.hypot(dot(off, row), dot(off, col));
    if (inPlane > 0.05 * Math.min(spacing[0], spacing[1])) {
      throw new KeysliceError(
        'DICOM_MIXED_SERIES',
        `slice ${s.f.file} is shifted ${fmt(inPlane)} mm in-plane from the first slice (sheared series, e.g. gantry tilt); resample it first`,
        where,
      );
    }
  }
  return { files: sorted.map((s) => s.f.file), positions, step, gaps, axes: [row, col, normal], origin: [...origin] as Vec3 };
}

/** A sentence naming the gaps of a plan by the slice positions around them. */
export function describeGaps(plan: SeriesPlan): string {
  const shown = plan.gaps.slice(0, 5).map((g) => {
    const missing = Math.round((g.to - g.from) / plan.step) - 1;
    const what = missing >= 1 ? `${missing} slice(s) missing` : 'uneven step';
    return `${what} between positions ${fmt(g.from)} and ${fmt(g.to)} mm (step ${fmt(g.to - g.from)} mm)`;
  });
  const more = plan.gaps.length > 5 ? `, and ${plan.gaps.length - 5} more` : '';
  return `slices are not evenly spaced (usual step ${fmt(plan.step)} mm): ${shown.join('; ')}${more}`;
}

/** The parts of an itk-wasm image that {@link placeSeriesImage} reads and sets. */
export interface SeriesImage {
  size: number[];
  spacing: number[];
  origin: number[];
  direction: unknown;
  data: unknown;
}

/**
 * Gives an image read from a plan's files (in the plan's order, one slice each) the geometry of the checked slice
 * positions: origin at the first slice, direction from the orientation and the slice normal, spacing from the
 * pixel spacing and the mean step; slices over a gap are resampled onto even steps. Returns notes for the user.
 * The same in Node and in a browser, so that both readers give a series the same geometry.
 */
export function placeSeriesImage(image: SeriesImage, plan: SeriesPlan, first: DicomHeader, where: string): string[] {
  if (image.size[2] !== plan.files.length) {
    throw new KeysliceError('DICOM_MIXED_SERIES', `the DICOM reader made ${image.size[2]} slices of ${plan.files.length} files`, where);
  }
  const [row, col, normal] = plan.axes;
  const ps = first.pixelSpacing ?? [1, 1];
  const n = plan.positions.length;
  const evenStep = (plan.positions[n - 1] - plan.positions[0]) / (n - 1);
  image.origin = [...plan.origin];
  image.direction = Float64Array.from([row[0], col[0], normal[0], row[1], col[1], normal[1], row[2], col[2], normal[2]]);
  image.spacing = [ps[1], ps[0], evenStep];
  if (plan.gaps.length === 0) return [];
  const area = image.size[0] * image.size[1];
  const r = resampleSlices(image.data as VoxelArray, area, plan.positions, plan.step);
  image.data = r.data;
  image.size = [image.size[0], image.size[1], r.count];
  image.spacing = [ps[1], ps[0], plan.step];
  return [
    `${where}: ${describeGaps(plan)}; accepted with --allow-gaps: resampled ${n} slices onto ${r.count} slices ` +
      `${+plan.step.toFixed(3)} mm apart (${r.interpolated} interpolated linearly)`,
  ];
}
