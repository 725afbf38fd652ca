/** Reads an adapter folder (Node): its manifest, checked, and its graph on onnxruntime-node. */
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { KeysliceError } from '../../util/errors.js';
import { nodeRuntime } from '../onnx/runtime-node.js';
import type { RuntimeOptions } from '../onnx/runtime.js';
import { ADAPTER_MANIFEST, checkAdapterManifest, type AdapterManifest } from './manifest.js';
import { correspondenceModel, type CorrespondenceModel } from './model.js';

export async function readAdapterManifest(dir: string): Promise<AdapterManifest> {
  const file = path.join(dir, ADAPTER_MANIFEST);
  if (!existsSync(file)) throw new KeysliceError('FILE_NOT_FOUND', `no ${ADAPTER_MANIFEST} in the adapter folder`, dir);
  let doc: unknown;
  try {
    doc = JSON.parse(await fsp.readFile(file, 'utf8'));
  } catch (e) {
    throw new KeysliceError('INVALID_MODEL', `unreadable adapter manifest (${(e as Error).message})`, file);
  }
  return checkAdapterManifest(doc, file);
}

export async function loadAdapter(dir: string, options: RuntimeOptions = {}): Promise<CorrespondenceModel> {
  const manifest = await readAdapterManifest(dir);
  const graph = path.join(dir, manifest.graph);
  if (!existsSync(graph)) throw new KeysliceError('FILE_NOT_FOUND', `the adapter's graph is missing`, graph);
  try {
    return await correspondenceModel(await nodeRuntime(options), graph, manifest);
  } catch (e) {
    throw new KeysliceError('INVALID_MODEL', `onnxruntime could not load the adapter's graph (${(e as Error).message})`, graph, { cause: e });
  }
}

/** What a user should know before using an adapter: that it did not beat the unadapted engine in validation. */
export async function adapterWarnings(dir: string): Promise<string[]> {
  const v = (await readAdapterManifest(dir)).validation;
  if (v.usable) return [];
  const by = v.gain === null ? '' : ` (validation Dice ${v.adaptedDice?.toFixed(3)} against ${v.unadaptedDice?.toFixed(3)} unadapted)`;
  return [`${dir}: this adapter is not marked usable: it did not beat the unadapted engine on its validation cases${by}; ${v.note}`];
}
