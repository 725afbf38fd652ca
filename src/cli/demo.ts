/** `keyslice demo`: a generated CT phantom segmented from a few key slices, with its scores. */
import { runDemo } from '../demo/run-demo.js';
import { parse } from './args.js';
import { ProgressReporter } from './progress.js';

export async function cmdDemo(args: string[]): Promise<void> {
  const v = parse(args, { out: { type: 'string' }, engine: { type: 'string' } });
  const outDir = (v.out as string | undefined) ?? 'keyslice-demo';
  const progress = new ProgressReporter();
  progress.log('building a CT phantom (128x128x24, 0.8x0.8x5 mm) with an organ and a lesion...');
  const res = await runDemo({ outDir, engine: v.engine as string | undefined });
  console.log(`engine ${res.engine}: segmented ${res.labels.length} objects in ${res.seconds.toFixed(2)} s`);
  for (const l of res.labels) {
    const m = l.metrics;
    console.log(
      `  ${l.name.padEnd(7)} ${l.prompt} prompts on slices ${l.keySlices.join(',').padEnd(8)} Dice ${m.dice.toFixed(3)}  ` +
        `HD95 ${m.hd95 === null ? 'inf' : m.hd95.toFixed(1)} mm  NSD@2mm ${m.nsd.toFixed(3)}`,
    );
  }
  console.log(`files in ${outDir}/:`);
  for (const [k, f] of Object.entries(res.files)) console.log(`  ${k.padEnd(13)} ${f}`);
}
