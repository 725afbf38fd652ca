/**
 * Loading a SAM2-family model from a directory (Node): `keyslice-model.json` with `"format": "sam2"`, its graphs
 * and its `.npy` constants, all beside the manifest. Nothing is downloaded: the graphs are the user's exports.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { KeysliceError } from '../../util/errors.js';
import { readSam2Constants } from '../load.js';
import { nodeRuntime } from '../onnx/runtime-node.js';
import type { OnnxRuntime, RuntimeOptions } from '../onnx/runtime.js';
import { MANIFEST_FILE } from '../sam/manifest.js';
import { parseSam2Manifest, SAM2_CONSTANTS, type Sam2GraphName, type Sam2Manifest } from './manifest.js';
import { Sam2Model } from './model.js';

/** The manifest file of a model directory (or the file itself) and its parsed JSON. */
export function readManifestJson(dirOrFile: string): { file: string; json: unknown } {
  let st: fs.Stats;
  try {
    st = fs.statSync(dirOrFile);
  } catch {
    throw new KeysliceError('FILE_NOT_FOUND', 'no such model directory or manifest', dirOrFile);
  }
  const file = st.isDirectory() ? path.join(dirOrFile, MANIFEST_FILE) : dirOrFile;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new KeysliceError('FILE_NOT_FOUND', `no ${MANIFEST_FILE} here: a model directory holds this manifest beside its graphs`, file);
  }
  try {
    return { file, json: JSON.parse(text) };
  } catch (e) {
    throw new KeysliceError('INVALID_MODEL', `not valid JSON (${(e as Error).message})`, file);
  }
}

/** The `format` a model directory's manifest declares ("sam" when it says none). */
export function modelFormat(dirOrFile: string): string {
  const { json } = readManifestJson(dirOrFile);
  const f = json && typeof json === 'object' ? (json as Record<string, unknown>).format : undefined;
  return typeof f === 'string' ? f : 'sam';
}

/** Reads and checks a sam2 manifest; graph and constant paths resolve against its folder and must exist. */
export function readSam2Manifest(dirOrFile: string): { manifest: Sam2Manifest; file: string } {
  const { file, json } = readManifestJson(dirOrFile);
  const manifest = parseSam2Manifest(json, file);
  const base = path.dirname(file);
  for (const [k, v] of Object.entries(manifest.graphs) as [Sam2GraphName, string | null][]) {
    if (!v) continue;
    const p = path.resolve(base, v);
    if (!fs.existsSync(p)) throw new KeysliceError('FILE_NOT_FOUND', `the ${k} graph named in ${path.basename(file)} is missing`, p);
    manifest.graphs[k] = p;
  }
  for (const k of SAM2_CONSTANTS) {
    const v = manifest.constants[k];
    if (!v) continue;
    const p = path.resolve(base, v);
    if (!fs.existsSync(p)) throw new KeysliceError('FILE_NOT_FOUND', `the constant ${k} named in ${path.basename(file)} is missing`, p);
    manifest.constants[k] = p;
  }
  return { manifest, file };
}

/** Loads a SAM2-family model directory. */
export async function loadSam2Model(dir: string, options: RuntimeOptions & { runtime?: OnnxRuntime } = {}): Promise<Sam2Model> {
  const runtime = options.runtime ?? (await nodeRuntime(options));
  const { manifest, file } = readSam2Manifest(dir);
  return Sam2Model.load(manifest, await readSam2Constants(manifest, async (p) => fs.readFileSync(p)), runtime, file);
}
