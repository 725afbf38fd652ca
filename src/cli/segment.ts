/** `keyslice segment`: key slices in, a label volume (and its report, meshes) out. */
import { segmentFiles } from '../pipeline/segment-files.js';
import { MESH_FLAGS, meshOptions } from './mesh.js';
import { INPUT_FLAGS, inputFiles, need, parse } from './args.js';
import { EMBEDDING_CACHE_FLAGS, embeddingCacheOptions, OUTPUT_FLAGS, outputOptions, parsePost, parseRange, parseWindow, samMosaicOption } from './options.js';
import { ProgressReporter, segmentProgressLine } from './progress.js';

export async function cmdSegment(args: string[]): Promise<void> {
  const v = parse(args, {
    ...INPUT_FLAGS,
    out: { type: 'string' },
    engine: { type: 'string' },
    model: { type: 'string' },
    'execution-provider': { type: 'string' },
    ...EMBEDDING_CACHE_FLAGS,
    adapter: { type: 'string' },
    'sam-mosaic': { type: 'string' },
    window: { type: 'string' },
    range: { type: 'string' },
    post: { type: 'string' },
    report: { type: 'string' },
    quiet: { type: 'boolean' },
    ...OUTPUT_FLAGS,
    mesh: { type: 'string' },
    ...MESH_FLAGS,
  });
  const cache = embeddingCacheOptions(v);
  const progress = new ProgressReporter(process.stderr, !!v.quiet);
  const { report, warnings, written } = await segmentFiles({
    ...inputFiles(v),
    out: need(v, 'out'),
    engine: v.engine as string | undefined,
    model: v.model as string | undefined,
    executionProviders: typeof v['execution-provider'] === 'string' ? v['execution-provider'].split(',').filter(Boolean) : undefined,
    ...cache,
    adapter: v.adapter as string | undefined,
    samMosaic: samMosaicOption(v),
    range: typeof v.range === 'string' ? parseRange(v.range) : undefined,
    window: typeof v.window === 'string' ? parseWindow(v.window) : undefined,
    postprocess: typeof v.post === 'string' ? parsePost(v.post) : undefined,
    report: v.report as string | undefined,
    ...outputOptions(v),
    ...(typeof v.mesh === 'string' ? { mesh: { dir: v.mesh, ...meshOptions(v) } } : {}),
    onStage: (m) => progress.log(m),
    onProgress: (p) => {
      const line = segmentProgressLine(p);
      progress.update(line.done, line.total, line.text);
    },
  });
  for (const w of warnings) progress.log(`warning: ${w}`);
  for (const l of report.labels) {
    const ext = l.extent ? `slices ${l.extent[0]}..${l.extent[1]}` : 'empty';
    console.log(`label ${l.value}${l.name ? ` (${l.name})` : ''}: ${l.voxels} voxels, ${l.volumeMl.toFixed(2)} mL, ${ext}, ${l.seconds.toFixed(2)} s`);
    for (const f of l.fronts) {
      const end = f.last === null ? 'wrote nothing' : `to slice ${f.last}`;
      progress.log(`  front from ${f.from} ${f.direction > 0 ? 'up' : 'down'}: ${end}, stopped: ${f.stop}${f.detail ? ` (${f.detail})` : ''}`);
    }
    if (l.reusedSlices) progress.log(`  ${l.reusedSlices} near-duplicate slice(s) reused their neighbour's mask`);
    if (l.skippedSlices) {
      progress.log(`  ${l.skippedSlices} redundant slice(s) interpolated, ${l.skippedSlices - l.skipsRejected} engine call(s) saved`);
    }
    const flagged = l.postprocess.continuity?.flaggedSlices ?? [];
    if (flagged.length) progress.log(`  check slices ${flagged.join(', ')}: area jumps against both neighbours`);
    for (const n of l.notes) progress.log(`  note: ${n}`);
  }
  if (report.engineStats) {
    progress.log(`  model: ${Object.entries(report.engineStats).map(([k, x]) => `${k} ${Number.isInteger(x) ? x : x.toFixed(2)}`).join(', ')}`);
  }
  console.log(`wrote ${v.out} (engine ${report.engine}, ${report.seconds.toFixed(2)} s)`);
  if (written.length > 1) progress.log(`  also wrote ${written.filter((w) => w !== v.out).join(', ')}`);
}
