/**
 * Surface meshes of a label volume as files (Node): one binary STL and/or OBJ per label, in mm in ITK's LPS
 * frame, each saying so in its header (STL: `SPACE=LPS` in the 80-byte header, as 3D Slicer reads it; OBJ: a
 * comment), named `VALUE_NAME.stl`. STL bytes come from vtk.js's STL writer.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import vtkPolyData from '@kitware/vtk.js/Common/DataModel/PolyData.js';
import vtkSTLWriter from '@kitware/vtk.js/IO/Geometry/STLWriter.js';
import { KeysliceError } from '../util/errors.js';
import { quietlySync, thirdPartyMessage } from '../util/quiet.js';
import type { LabelInfo } from '../labels/label-table.js';
import { ensureOutputDir } from '../volume/io-node.js';
import type { LabelArray, Volume } from '../volume/volume.js';
import { enclosedVolume, type TriangleMesh } from './mesh.js';
import { labelSurface, type SurfaceOptions } from './surface.js';

export type MeshFormat = 'stl' | 'obj';

export interface MeshFilesOptions extends SurfaceOptions {
  /** Default ['stl']. */
  formats?: MeshFormat[];
  /** Paths never to write. */
  protect?: string[];
}

export interface MeshRow {
  value: number;
  name: string;
  triangles: number;
  /** Volume enclosed by the mesh, and of the label's voxels, mL. */
  meshMl: number;
  labelMl: number;
  files: string[];
}

/** Binary STL bytes of a mesh (vtk.js STL writer) with `header` (at most 80 characters) in its header. */
export function stlBytes(mesh: TriangleMesh, header: string): Uint8Array {
  const polys = new Uint32Array((mesh.triangles.length / 3) * 4);
  for (let i = 0, j = 0; i < mesh.triangles.length; i += 3, j += 4) {
    polys[j] = 3;
    polys[j + 1] = mesh.triangles[i];
    polys[j + 2] = mesh.triangles[i + 1];
    polys[j + 3] = mesh.triangles[i + 2];
  }
  const poly = vtkPolyData.newInstance();
  poly.getPoints().setData(Float32Array.from(mesh.points), 3);
  poly.getPolys().setData(polys);
  const writer = vtkSTLWriter.newInstance();
  writer.setInputData(poly);
  const out = writer.getOutputData() as ArrayBuffer | ArrayBufferView;
  const bytes = ArrayBuffer.isView(out) ? new Uint8Array(out.buffer, out.byteOffset, out.byteLength) : new Uint8Array(out);
  const head = Buffer.alloc(80, 0x20);
  head.write(header.slice(0, 80), 'latin1');
  bytes.set(head, 0);
  return bytes;
}

/** Wavefront OBJ text of a mesh, vertices in mm. */
export function objText(mesh: TriangleMesh, name: string, comment: string): string {
  const lines = [`# ${comment}`, `o ${name.replace(/\s+/g, '_')}`];
  const p = mesh.points;
  for (let i = 0; i < p.length; i += 3) lines.push(`v ${+p[i].toFixed(5)} ${+p[i + 1].toFixed(5)} ${+p[i + 2].toFixed(5)}`);
  const t = mesh.triangles;
  for (let i = 0; i < t.length; i += 3) lines.push(`f ${t[i] + 1} ${t[i + 1] + 1} ${t[i + 2] + 1}`);
  return `${lines.join('\n')}\n`;
}

function fileBase(info: LabelInfo): string {
  return `${info.value}_${info.name.replace(/[^A-Za-z0-9._-]+/g, '_')}`;
}

async function writeAtomic(file: string, data: Uint8Array | string, writer: string, protect: string[]): Promise<void> {
  for (const p of protect) if (path.resolve(p) === path.resolve(file)) throw new KeysliceError('OUTPUT_CONFLICT', 'mesh would overwrite an input file', file);
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}`);
  try {
    await fsp.writeFile(tmp, data);
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw new KeysliceError('WRITE_FAILED', `the ${writer} failed: ${thirdPartyMessage(err)}`, file, { cause: err });
  }
}

/** Writes one mesh per label of `infos` present in `labels` into `dir` (created). */
export async function writeMeshes(labels: Volume<LabelArray>, infos: readonly LabelInfo[], dir: string, options: MeshFilesOptions = {}): Promise<MeshRow[]> {
  await ensureOutputDir(dir);
  const formats = options.formats ?? ['stl'];
  const voxelMl = (labels.spacing[0] * labels.spacing[1] * labels.spacing[2]) / 1000;
  const rows: MeshRow[] = [];
  for (const info of infos) {
    const mesh = labelSurface(labels, info.value, options);
    if (!mesh) continue;
    let voxels = 0;
    for (let i = 0; i < labels.data.length; i++) if (labels.data[i] === info.value) voxels++;
    const comment = `keyslice surface of label ${info.value} (${info.name}); SPACE=LPS; units mm`;
    const files: string[] = [];
    for (const fmt of formats) {
      const file = path.join(dir, `${fileBase(info)}.${fmt}`);
      if (fmt === 'stl') await writeAtomic(file, quietlySync(() => stlBytes(mesh, `SPACE=LPS ${comment}`)), 'STL writer (vtk.js)', options.protect ?? []);
      else await writeAtomic(file, objText(mesh, info.name, comment), 'OBJ writer', options.protect ?? []);
      files.push(file);
    }
    rows.push({ value: info.value, name: info.name, triangles: mesh.triangles.length / 3, meshMl: enclosedVolume(mesh) / 1000, labelMl: voxels * voxelMl, files });
  }
  return rows;
}

/** `--mesh-format`: a comma list of stl and obj. */
export function parseMeshFormats(text: string): MeshFormat[] {
  const out = text.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  for (const f of out) if (f !== 'stl' && f !== 'obj') throw new KeysliceError('USAGE', `--mesh-format must be stl and/or obj, got "${f}"`);
  return out as MeshFormat[];
}
