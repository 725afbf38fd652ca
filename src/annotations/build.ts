/**
 * Combines the two annotation inputs (a sparse label volume with its key-slice list, and a prompts file) into
 * one validated {@link Annotations} object on the image grid.
 */
import { KeysliceError } from '../util/errors.js';
import {
  defaultSliceAxis,
  gridDifference,
  labelValues,
  SliceGeometry,
  type Geometry,
  type LabelArray,
  type SliceAxis,
  type Volume,
} from '../volume/volume.js';
import type { PromptsFile } from './prompts.js';
import { emptyKeySlice, hasObjectPrompt, keyBoxes, type Annotations, type LabelAnnotation } from './types.js';

export interface SparseInput {
  volume: Volume<LabelArray>;
  /** File name, for messages. */
  file: string;
  /** Exactly these slices are annotated; 'auto': every slice holding a label voxel. */
  keySlices: number[] | 'auto';
}

export interface PromptsInput {
  doc: PromptsFile;
  file: string;
}

export interface BuildOptions {
  sparse?: SparseInput;
  prompts?: PromptsInput;
  /** Explicit slice axis; otherwise the prompts file's, otherwise {@link defaultSliceAxis}. */
  axis?: SliceAxis;
  /** Image file name, for messages. */
  imageFile?: string;
}

export interface BuildResult {
  annotations: Annotations;
  warnings: string[];
}

/** Parses a `--key-slices` value: 'auto' or a comma list of 0-based indices (ranges `a-b` allowed). */
export function parseKeySliceList(text: string): number[] | 'auto' {
  const t = text.trim();
  if (t === 'auto') return 'auto';
  const out = new Set<number>();
  for (const part of t.split(',')) {
    const p = part.trim();
    const m = /^(\d+)(?:-(\d+))?$/.exec(p);
    if (!m) throw new KeysliceError('USAGE', `--key-slices: "${p}" is not a slice index (use e.g. 3,9,15 or 3-5 or auto)`);
    const a = Number(m[1]);
    const b = m[2] !== undefined ? Number(m[2]) : a;
    if (b < a) throw new KeysliceError('USAGE', `--key-slices: range "${p}" runs backwards`);
    for (let i = a; i <= b; i++) out.add(i);
  }
  return [...out].sort((x, y) => x - y);
}

function resolveAxis(image: Geometry, opts: BuildOptions): SliceAxis {
  const fromFile = opts.prompts?.doc.sliceAxis;
  if (opts.axis !== undefined && fromFile !== undefined && opts.axis !== fromFile) {
    throw new KeysliceError(
      'USAGE',
      `--slice-axis ${opts.axis} contradicts "sliceAxis": ${fromFile} in the prompts file`,
      opts.prompts?.file,
    );
  }
  return opts.axis ?? fromFile ?? defaultSliceAxis(image.spacing);
}

export function buildAnnotations(image: Geometry, opts: BuildOptions): BuildResult {
  if (!opts.sparse && !opts.prompts) throw new KeysliceError('USAGE', 'no annotations given: pass a sparse label volume with key slices, a prompts file, or both');
  const axis = resolveAxis(image, opts);
  const sg = new SliceGeometry(image, axis);
  const warnings: string[] = [];
  const labels = new Map<number, LabelAnnotation>();
  const getLabel = (value: number): LabelAnnotation => {
    let l = labels.get(value);
    if (!l) {
      l = { value, keySlices: [] };
      labels.set(value, l);
    }
    return l;
  };
  const rangeText = `0..${sg.count - 1} along axis ${axis}`;

  if (opts.sparse) {
    const { volume, file } = opts.sparse;
    const diff = gridDifference(image, volume);
    if (diff !== null) {
      throw new KeysliceError(
        'GRID_MISMATCH',
        `annotation grid does not match the image${opts.imageFile ? ` ${opts.imageFile}` : ''}: ${diff}. ` +
          'Resample the annotations onto the image grid first.',
        file,
      );
    }
    // Label voxels per slice, counted once.
    const labelled = Array.from({ length: sg.count }, (_, w) => sg.area - sg.countEqual(volume.data, w, 0));
    let slices: number[];
    if (opts.sparse.keySlices === 'auto') {
      slices = labelled.flatMap((n, w) => (n > 0 ? [w] : []));
      if (slices.length === 0) throw new KeysliceError('INVALID_ANNOTATION', 'annotation volume holds no label voxel', file);
    } else {
      slices = opts.sparse.keySlices;
      for (const w of slices) {
        if (w < 0 || w >= sg.count) {
          throw new KeysliceError('INVALID_ANNOTATION', `key slice ${w} is out of range ${rangeText}`, file);
        }
      }
    }
    const listed = new Set(slices);
    const outside = labelled.reduce((sum, n, w) => (listed.has(w) ? sum : sum + n), 0);
    if (outside > 0) {
      warnings.push(`${file}: ${outside} label voxel(s) lie outside the listed key slices and are ignored`);
    }
    const values = new Set<number>();
    const buf = new Uint16Array(sg.area);
    for (const w of slices) for (const v of labelValues(sg.extract(volume.data, w, buf))) values.add(v);
    if (values.size === 0) {
      throw new KeysliceError('INVALID_ANNOTATION', `the listed key slices (${slices.join(', ')}) hold no label voxel`, file);
    }
    for (const value of [...values].sort((a, b) => a - b)) {
      const label = getLabel(value);
      for (const w of slices) {
        const ks = emptyKeySlice(w);
        const mask = sg.maskOf(volume.data, w, value);
        if (mask === null) ks.empty = true;
        else ks.mask = mask;
        label.keySlices.push(ks);
      }
    }
  }

  if (opts.prompts) {
    const { doc, file } = opts.prompts;
    const inSlice = (p: readonly number[], field: string) => {
      if (p[0] >= sg.nu || p[1] >= sg.nv) {
        throw new KeysliceError(
          'INVALID_PROMPTS',
          `${field} ${JSON.stringify(p)} lies outside the slice (i 0..${sg.nu - 1}, j 0..${sg.nv - 1})`,
          file,
        );
      }
    };
    for (const pl of doc.labels) {
      const label = getLabel(pl.value);
      if (pl.name !== undefined) label.name = pl.name;
      if (pl.color !== undefined) label.color = pl.color;
      for (const pk of pl.keySlices) {
        const where = `label ${pl.value}, slice ${pk.slice}:`;
        if (pk.slice >= sg.count) {
          throw new KeysliceError('INVALID_PROMPTS', `${where} key slice is out of range ${rangeText}`, file);
        }
        for (const b of keyBoxes(pk)) {
          inSlice([b[0], b[1]], `${where} box corner`);
          inSlice([b[2], b[3]], `${where} box corner`);
        }
        for (const p of pk.points ?? []) inSlice(p, `${where} point`);
        for (const p of pk.negativePoints ?? []) inSlice(p, `${where} negative point`);
        let ks = label.keySlices.find((k) => k.index === pk.slice);
        if (!ks) {
          ks = emptyKeySlice(pk.slice);
          label.keySlices.push(ks);
        } else if (ks.empty !== !!pk.empty && (ks.empty || ks.mask)) {
          throw new KeysliceError(
            'INVALID_ANNOTATION',
            `${where} the annotation volume ${opts.sparse?.file ?? ''} and the prompts file disagree on whether the object is present`,
            file,
          );
        }
        ks.empty = !!pk.empty;
        if (pk.box) ks.box = pk.box;
        if (pk.boxes) ks.boxes = pk.boxes;
        ks.points.push(...(pk.points ?? []));
        ks.negativePoints.push(...(pk.negativePoints ?? []));
      }
    }
  }

  const out: LabelAnnotation[] = [];
  for (const l of [...labels.values()].sort((a, b) => a.value - b.value)) {
    l.keySlices.sort((a, b) => a.index - b.index);
    if (!l.keySlices.some(hasObjectPrompt)) {
      throw new KeysliceError(
        'INVALID_ANNOTATION',
        `label ${l.value}${l.name ? ` (${l.name})` : ''} has no key slice showing the object (only "empty" slices or negative points)`,
        opts.prompts?.file ?? opts.sparse?.file,
      );
    }
    out.push(l);
  }
  return { annotations: { axis, labels: out }, warnings };
}
