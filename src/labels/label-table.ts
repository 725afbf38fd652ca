/**
 * Label names and colours, and the colour-table files that carry them beside a label volume: a 3D Slicer colour
 * table (`.ctbl`) and an ITK-SNAP label description file. Names and colours come from the prompts file or
 * `--label-names`; labels without one get `label_N` and a colour from a fixed palette.
 */
import { KeysliceError } from '../util/errors.js';

export type Rgb = [number, number, number];

export interface LabelInfo {
  value: number;
  name: string;
  /** 0..255 per channel. */
  color: Rgb;
}

/** Distinct, saturated colours for labels without one (cycled by label value). */
export const LABEL_PALETTE: readonly Rgb[] = [
  [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48], [145, 30, 180], [70, 240, 240],
  [240, 50, 230], [210, 245, 60], [250, 190, 212], [0, 128, 128], [220, 190, 255], [170, 110, 40], [255, 250, 200],
  [128, 0, 0], [170, 255, 195], [128, 128, 0], [255, 215, 180], [0, 0, 128], [128, 128, 128],
];

export function defaultColor(value: number): Rgb {
  return [...LABEL_PALETTE[(value - 1) % LABEL_PALETTE.length]] as Rgb;
}

/**
 * Parses `--label-names`: a comma list of `VALUE=NAME`, each optionally followed by `:#RRGGBB`
 * (`1=spleen,2=left kidney:#ff8000`).
 */
export function parseLabelNames(text: string): Map<number, { name: string; color?: Rgb }> {
  const out = new Map<number, { name: string; color?: Rgb }>();
  for (const part of text.split(',')) {
    const p = part.trim();
    if (p === '') continue;
    const m = /^(\d+)\s*=\s*([^:#]+?)\s*(?::\s*#([0-9a-fA-F]{6}))?$/.exec(p);
    if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535) {
      throw new KeysliceError('USAGE', `--label-names: "${p}" is not VALUE=NAME or VALUE=NAME:#RRGGBB (value 1..65535)`);
    }
    const hex = m[3];
    const color = hex ? ([0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16)) as Rgb) : undefined;
    out.set(Number(m[1]), { name: m[2], ...(color ? { color } : {}) });
  }
  return out;
}

/**
 * Names and colours for `values`: `overrides` first (`--label-names`), then `known` (prompts file), then the
 * defaults.
 */
export function labelInfos(
  values: readonly number[],
  known: readonly { value: number; name?: string; color?: Rgb }[] = [],
  overrides: Map<number, { name: string; color?: Rgb }> = new Map(),
): LabelInfo[] {
  return values.map((value) => {
    const k = known.find((x) => x.value === value);
    const o = overrides.get(value);
    return {
      value,
      name: o?.name ?? k?.name ?? `label_${value}`,
      color: o?.color ?? k?.color ?? defaultColor(value),
    };
  });
}

/** A name as one token (Slicer colour tables separate fields by spaces). */
function token(name: string): string {
  return name.trim().replace(/\s+/g, '_') || 'unnamed';
}

/** 3D Slicer colour table (`.ctbl`): `value name r g b a` per line, background 0 first. */
export function slicerColorTable(infos: readonly LabelInfo[]): string {
  const lines = ['# Color table file written by keyslice', `# ${infos.length + 1} values`, '0 Background 0 0 0 0'];
  for (const l of infos) lines.push(`${l.value} ${token(l.name)} ${l.color.join(' ')} 255`);
  return `${lines.join('\n')}\n`;
}

/** ITK-SNAP label description file: `IDX R G B A VIS MSH "LABEL"` per line. */
export function itkSnapLabelDescription(infos: readonly LabelInfo[]): string {
  const row = (v: number, [r, g, b]: Rgb, a: number, vis: number, name: string) =>
    `${String(v).padStart(5)} ${String(r).padStart(5)} ${String(g).padStart(4)} ${String(b).padStart(4)}` +
    `${String(a).padStart(9)} ${String(vis).padStart(2)} ${String(vis).padStart(2)}    "${name.replace(/"/g, "'")}"`;
  const lines = [
    '################################################',
    '# ITK-SnAP Label Description File',
    '# File format: ',
    '# IDX   -R-  -G-  -B-  -A--  VIS MSH  LABEL',
    '# Fields: ',
    '#    IDX:   Zero-based index ',
    '#    -R-:   Red color component (0..255)',
    '#    -G-:   Green color component (0..255)',
    '#    -B-:   Blue color component (0..255)',
    '#    -A-:   Label transparency (0.00 .. 1.00)',
    '#    VIS:   Label visibility (0 or 1)',
    '#    MSH:   Label mesh visibility (0 or 1)',
    '#  LABEL:   Label description ',
    '################################################',
    row(0, [0, 0, 0], 0, 0, 'Clear Label'),
    ...infos.map((l) => row(l.value, l.color, 1, 1, l.name)),
  ];
  return `${lines.join('\n')}\n`;
}

/** Parses a Slicer colour table or ITK-SNAP label description back into label infos (background dropped). */
export function parseColorTable(text: string): LabelInfo[] {
  const out: LabelInfo[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const snap = /^(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+[\d.]+\s+\d\s+\d\s+"(.*)"$/.exec(line);
    const ctbl = /^(\d+)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+\d+$/.exec(line);
    const m = snap ? [snap[1], snap[5], snap[2], snap[3], snap[4]] : ctbl ? [ctbl[1], ctbl[2], ctbl[3], ctbl[4], ctbl[5]] : null;
    if (!m || Number(m[0]) === 0) continue;
    out.push({ value: Number(m[0]), name: m[1], color: [Number(m[2]), Number(m[3]), Number(m[4])] });
  }
  return out;
}
