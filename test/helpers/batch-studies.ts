/** Small generated studies for batch tests: phantoms written in the `--folder` layout, truth included. */
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { makePhantom } from '../../src/demo/phantom.js';
import { selectKeySlices, sliceAreas } from '../../src/simulate/annotator.js';
import { writeVolume } from '../../src/volume/io-node.js';
import { SliceGeometry, withGeometry, type Vec3 } from '../../src/volume/volume.js';

export interface PhantomStudy {
  id: string;
  dir: string;
  keySlices: number[];
}

/** Writes `n` phantom studies (seeds `seed0`, `seed0 + 1`, ...) under `root`, one sub-folder each. */
export async function writePhantomStudies(root: string, n: number, size: Vec3 = [40, 40, 10], seed0 = 1): Promise<PhantomStudy[]> {
  const out: PhantomStudy[] = [];
  for (let i = 0; i < n; i++) {
    const id = `case-${String(i).padStart(4, '0')}`;
    const dir = path.join(root, id);
    mkdirSync(dir, { recursive: true });
    const { image, truth } = makePhantom({ size, spacing: [1.5, 1.5, 5], seed: seed0 + i });
    const sg = new SliceGeometry(image, 2);
    const keys = selectKeySlices(sliceAreas(truth.data, sg, 1), 3);
    const sparse = new Uint8Array(truth.data.length);
    const s = new Uint8Array(sg.area);
    for (const w of keys) sg.insert(sparse, w, sg.extract(truth.data, w, s));
    await writeVolume(image, path.join(dir, 'image.nii.gz'));
    await writeVolume(withGeometry(image, sparse), path.join(dir, 'annotations.nii.gz'));
    await writeVolume(truth, path.join(dir, 'truth.nii.gz'));
    writeFileSync(path.join(dir, 'key-slices.txt'), `${keys.join(',')}\n`);
    out.push({ id, dir, keySlices: keys });
  }
  return out;
}

/**
 * `n` studies under `root` whose files are copies of the `templates` in turn (study i copies template
 * i % templates.length): many studies at the cost of writing a few. Only the first copy of each template
 * keeps its truth label (the others are scored by nothing).
 */
export function copyStudies(root: string, n: number, templates: PhantomStudy[]): (PhantomStudy & { template: PhantomStudy })[] {
  const out: (PhantomStudy & { template: PhantomStudy })[] = [];
  for (let i = 0; i < n; i++) {
    const t = templates[i % templates.length];
    const id = `study-${String(i).padStart(4, '0')}`;
    const dir = path.join(root, id);
    mkdirSync(dir, { recursive: true });
    for (const f of readdirSync(t.dir)) {
      if (f !== 'truth.nii.gz' || i < templates.length) copyFileSync(path.join(t.dir, f), path.join(dir, f));
    }
    out.push({ id, dir, keySlices: t.keySlices, template: t });
  }
  return out;
}
