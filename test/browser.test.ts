import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import * as ortWeb from 'onnxruntime-web';
import * as browser from '../src/browser.js';
import { loadSamModel } from '../src/models/sam/load-node.js';
import { loadSam2Model } from '../src/models/sam2/load-node.js';
import { segment } from '../src/pipeline/segment.js';
import { KeysliceError } from '../src/util/errors.js';
import { SliceGeometry } from '../src/volume/volume.js';
import { writeBrightnessModel } from './helpers/onnx-graphs.js';
import { writeSam2Model } from './helpers/sam2-graphs.js';
import { makeBlob } from './helpers/volumes.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'keyslice-browser-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Bare module specifiers imported (statically or dynamically) anywhere in the module graph of `entry`. */
function bareImports(entry: string): { files: number; specifiers: Set<string> } {
  const seen = new Set<string>();
  const specifiers = new Set<string>();
  const walk = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const code = fs
      .readFileSync(file, 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/^\s*\/\/.*$/gm, '');
    const statements = /^\s*(?:import|export)\s[^;]*?\bfrom\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;
    for (const m of code.matchAll(statements)) {
      const spec = m[1] ?? m[2] ?? m[3];
      if (spec.startsWith('.')) walk(path.resolve(path.dirname(file), spec));
      else specifiers.add(spec);
    }
  };
  walk(entry);
  return { files: seen.size, specifiers };
}

/** A model's files read from a folder, as a browser reads them from its server. */
function folderFiles(dir: string): browser.ReadModelFile {
  return async (name) => new Uint8Array(fs.readFileSync(path.join(dir, name)));
}

/** onnxruntime-web (wasm) as keyslice wraps it, counting the graph runs it serves. */
const web = (): browser.OnnxRuntime & { runs: number } => {
  ortWeb.env.wasm.numThreads = 1;
  const rt = browser.ortRuntime(ortWeb, 'onnxruntime-web', { executionProviders: ['wasm'] });
  const counted = {
    ...rt,
    runs: 0,
    async load(source: string | Uint8Array) {
      const g = await rt.load(source);
      return { ...g, inputs: g.inputs, outputs: g.outputs, run: (...a: Parameters<typeof g.run>) => (counted.runs++, g.run(...a)) };
    },
  };
  return counted;
};

describe('browser entry point (keyslice/browser)', () => {
  it('imports nothing from Node: no built-in module, no Node-only package, anywhere in its module graph', () => {
    const entry = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'src', 'browser.js');
    const { files, specifiers } = bareImports(entry);
    assert.ok(files > 30, `walked ${files} modules`);
    // The walk sees the pipeline's lazy import of ITK's contour interpolation (its web build runs in a worker).
    assert.ok(specifiers.has('@itk-wasm/morphological-contour-interpolation'), [...specifiers].join());
    const allowed = new Set(['itk-wasm', '@itk-wasm/morphological-contour-interpolation']);
    assert.deepEqual([...specifiers].filter((s) => !allowed.has(s)), [], 'imports outside the browser-safe set');
    // And the Node entry does pull in Node (the walk would notice it).
    const nodeEntry = bareImports(path.join(path.dirname(entry), 'index.js')).specifiers;
    assert.ok(nodeEntry.has('node:fs') && nodeEntry.has('onnxruntime-node'), [...nodeEntry].join());
  });

  it('package.json maps keyslice/browser to it', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'package.json'), 'utf8'));
    assert.equal(pkg.exports['./browser'].default, './dist/src/browser.js');
    assert.equal(pkg.exports['./browser'].types, './dist/src/browser.d.ts');
  });

  const blob = makeBlob({ nx: 48, ny: 48, nz: 20, noise: 4 });
  const sg = new SliceGeometry(blob.image, 2);
  const key = sg.maskOf(blob.truth, 9, 1) as Uint8Array;
  const annotations = { axis: 2 as const, labels: [{ value: 1, keySlices: [{ index: 9, empty: false, mask: key, points: [], negativePoints: [] }] }] };

  it('runs the hybrid engine on onnxruntime-web (wasm) with the result onnxruntime-node gives', async () => {
    const dir = writeBrightnessModel(path.join(tmp, 'sam'));
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'keyslice-model.json'), 'utf8'));
    const rt = web();
    assert.match(rt.name, /onnxruntime-web \(wasm\)/);
    const model = await browser.openSamModel(json, rt, folderFiles(dir));
    const onWeb = await browser.segment(blob.image, annotations, { engine: browser.hybridEngine(model) });
    const onNode = await segment(blob.image, annotations, { engine: browser.hybridEngine(await loadSamModel(dir)) });
    const a = onWeb.report.labels[0];
    const b = onNode.report.labels[0];
    assert.ok(a.voxels > 500, `${a.voxels} voxels`);
    assert.deepEqual(a.extent, b.extent);
    let differ = 0;
    for (let i = 0; i < onWeb.labels.data.length; i++) if (onWeb.labels.data[i] !== onNode.labels.data[i]) differ++;
    // Both runtimes compute in float32; a logit on a cut's edge may round the other way.
    assert.ok(differ <= 0.01 * a.voxels, `${differ} voxels differ of ${a.voxels}`);
    assert.ok((onWeb.report.engineStats?.encoderCalls ?? 0) > 0 && rt.runs > 0, 'the model ran on onnxruntime-web');
  });

  it('opens a sam2 model from its files and tracks the object with it', async () => {
    const dir = writeSam2Model(path.join(tmp, 'sam2'));
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'keyslice-model.json'), 'utf8'));
    const rt = web();
    const model = await browser.openModel(json, rt, folderFiles(dir));
    assert.ok(model instanceof browser.Sam2Model);
    const single = { skipPredictability: 2, duplicateSsim: 2 };
    const onWeb = await browser.segment(blob.image, annotations, { engine: browser.medsam2Engine(model), stopRules: single });
    const onNode = await segment(blob.image, annotations, { engine: browser.medsam2Engine(await loadSam2Model(dir)), stopRules: single });
    assert.deepEqual(onWeb.report.labels[0].extent, [4, 15]);
    assert.deepEqual(onWeb.report.labels[0].extent, onNode.report.labels[0].extent);
    assert.ok(rt.runs > 0, 'the model ran on onnxruntime-web');
  });

  it('reads model files relative to a folder URL and names the file in every error', async () => {
    const asked: string[] = [];
    const fetchFake = async (url: string) => {
      asked.push(url);
      const ok = url.endsWith('/models/toy/encoder.onnx');
      return { ok, status: ok ? 200 : 404, statusText: ok ? 'OK' : 'Not Found', arrayBuffer: async () => new Uint8Array([1, 2, 3]).buffer };
    };
    const read = browser.modelFilesAt('https://host.example/models/toy/', fetchFake);
    assert.deepEqual(Array.from(await read('encoder.onnx')), [1, 2, 3]);
    await assert.rejects(read('sub/decoder.onnx'), (e: unknown) => {
      assert.ok(e instanceof KeysliceError && e.code === 'FILE_NOT_FOUND', String(e));
      assert.match(e.message, /https:\/\/host\.example\/models\/toy\/sub\/decoder\.onnx.*HTTP 404 Not Found/);
      return true;
    });
    assert.deepEqual(asked, ['https://host.example/models/toy/encoder.onnx', 'https://host.example/models/toy/sub/decoder.onnx']);

    const dir = writeBrightnessModel(path.join(tmp, 'errors'));
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'keyslice-model.json'), 'utf8'));
    await assert.rejects(browser.openSamModel({ ...json, inputSize: -1 }, web(), folderFiles(dir), { where: 'https://host.example/m.json' }), (e: unknown) => {
      assert.ok(e instanceof KeysliceError && e.code === 'INVALID_MODEL', String(e));
      assert.match(e.message, /https:\/\/host\.example\/m\.json/);
      return true;
    });
    await assert.rejects(browser.openSamModel({ ...json, decoder: 'gone.onnx' }, web(), folderFiles(dir)), (e: unknown) => {
      assert.ok(e instanceof KeysliceError && e.code === 'FILE_NOT_FOUND', String(e));
      assert.match(e.message, /gone\.onnx.*decoder graph could not be read/);
      return true;
    });
  });
});
