/**
 * Bundles the annotation app (src/app/ui) with esbuild into a static folder: index.html, app.css, app.js (the
 * page, with NiiVue) and worker.js (the session worker, with `keyslice/browser`), and beside them the itk-wasm
 * files that read a DICOM series and write a DICOM SEG in the page (the pipeline worker and two pipelines, see
 * {@link ITK_FILES}). Everything comes from the installed packages; nothing is loaded from elsewhere at run time.
 * Run by `npm run build`.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { appDir, ITK_FILES, ITK_PIPELINES, ITK_WORKER } from './files-node.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export async function buildApp(out = appDir()): Promise<{ bytes: Record<string, number> }> {
  const esbuild = await import('esbuild');
  await fsp.mkdir(out, { recursive: true });
  await esbuild.build({
    entryPoints: { app: path.join(root, 'src/app/ui/main.ts'), worker: path.join(root, 'src/app/ui/worker.ts') },
    outdir: out,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    logLevel: 'error',
    alias: { 'keyslice/browser': path.join(root, 'src/browser.ts') },
    // Surfaces (src/mesh) keep vtk.js's console chatter quiet through node:async_hooks; the worker has small
    // stand-ins for the two Node modules involved.
    plugins: [
      {
        name: 'node-shims',
        setup(b) {
          const shims: Record<string, string> = { 'node:async_hooks': 'async-hooks.ts', 'node:util': 'util.ts' };
          b.onResolve({ filter: /^node:(async_hooks|util)$/ }, (args) => ({ path: path.join(root, 'src/app/ui/shims', shims[args.path]) }));
        },
      },
    ],
  });
  for (const f of ['index.html', 'app.css']) await fsp.copyFile(path.join(root, 'src/app/static', f), path.join(out, f));
  for (const [from, to] of itkSources()) await fsp.copyFile(from, path.join(out, to));
  const bytes: Record<string, number> = {};
  for (const f of await fsp.readdir(out)) bytes[f] = (await fsp.stat(path.join(out, f))).size;
  return { bytes };
}

/** Where each of {@link ITK_FILES} comes from in the installed packages: [source, name in the build]. */
function itkSources(): [string, string][] {
  const require = createRequire(import.meta.url);
  const dicom = path.dirname(require.resolve('@itk-wasm/dicom'));
  const itk = path.dirname(require.resolve('itk-wasm'));
  const out: [string, string][] = [[path.join(itk, 'pipeline/web-workers/bundles/itk-wasm-pipeline.min.worker.js'), ITK_WORKER]];
  for (const p of ITK_PIPELINES) for (const ext of ['.js', '.wasm.zst']) out.push([path.join(dicom, 'pipelines', p + ext), p + ext]);
  if (out.length !== ITK_FILES.length) throw new Error('the itk-wasm file list is out of step');
  return out;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const t0 = Date.now();
  buildApp(process.argv[2] ? path.resolve(process.argv[2]) : undefined).then(
    ({ bytes }) => {
      if (process.env.KEYSLICE_APP_BUILD_LOG) console.log(`app built in ${Date.now() - t0} ms:`, bytes);
    },
    (err: unknown) => {
      console.error(`app build failed: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}
