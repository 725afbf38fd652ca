/** `keyslice mesh`: one surface mesh (STL and/or OBJ) per label of a label volume. */
import { promises as fsp } from 'node:fs';
import { KeysliceError } from '../util/errors.js';
import { labelInfos, parseColorTable, parseLabelNames } from '../labels/label-table.js';
import { parseMeshFormats, writeMeshes } from '../mesh/mesh-files-node.js';
import { colorTablePaths, readAnnotationLabels } from '../volume/label-io-node.js';
import { labelValues } from '../volume/volume.js';
import { need, parse } from './args.js';

/** Flags shared by `mesh` and `segment --mesh`. */
export const MESH_FLAGS = {
  'mesh-format': { type: 'string' },
  smooth: { type: 'string' },
  decimate: { type: 'string' },
} as const;

/** Surface options of {@link MESH_FLAGS}. */
export function meshOptions(v: Record<string, unknown>): { formats?: ('stl' | 'obj')[]; smoothing?: number; decimate?: number } {
  const num = (name: string, max: number): number | undefined => {
    if (v[name] === undefined) return undefined;
    const x = Number(v[name]);
    if (!Number.isFinite(x) || x < 0 || x > max) throw new KeysliceError('USAGE', `--${name} must be a number from 0 to ${max}, got "${String(v[name])}"`);
    return x;
  };
  return {
    ...(typeof v['mesh-format'] === 'string' ? { formats: parseMeshFormats(v['mesh-format']) } : {}),
    ...(v.smooth !== undefined ? { smoothing: num('smooth', 200) } : {}),
    ...(v.decimate !== undefined ? { decimate: num('decimate', 20) } : {}),
  };
}

export async function cmdMesh(args: string[]): Promise<void> {
  const v = parse(args, { labels: { type: 'string' }, out: { type: 'string' }, 'label-names': { type: 'string' }, ...MESH_FLAGS });
  const file = need(v, 'labels');
  const dir = need(v, 'out');
  const options = meshOptions(v);
  const { volume, infos: carried } = await readAnnotationLabels(file);
  const table = await fsp.readFile(colorTablePaths(file).ctbl, 'utf8').then(parseColorTable, () => []);
  const overrides = typeof v['label-names'] === 'string' ? parseLabelNames(v['label-names']) : undefined;
  const infos = labelInfos(labelValues(volume.data), carried.length ? carried : table, overrides);
  if (infos.length === 0) throw new KeysliceError('INVALID_ANNOTATION', 'label volume holds no label voxel: no mesh to make', file);
  const rows = await writeMeshes(volume, infos, dir, { ...options, protect: [file] });
  for (const r of rows) {
    console.log(`label ${r.value} (${r.name}): ${r.triangles} triangles, mesh ${r.meshMl.toFixed(2)} mL, voxels ${r.labelMl.toFixed(2)} mL: ${r.files.join(', ')}`);
  }
}
