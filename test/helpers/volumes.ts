/** Small generated volumes for propagation tests. */
import { rng as seededRng } from '../../src/demo/phantom.js';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { KeySlice } from '../../src/annotations/types.js';
import { writeVolume } from '../../src/volume/io-node.js';
import { IDENTITY_DIRECTION, SliceGeometry, withGeometry, type Volume } from '../../src/volume/volume.js';

export interface Blob {
  image: Volume<Float32Array>;
  /** 1 inside the object. */
  truth: Uint8Array;
  nx: number;
  ny: number;
  nz: number;
}

/**
 * A bright ellipsoid-like object (radius varying with z, zero outside [z0, z1]) in a darker, noisy background,
 * with a dark distractor disc nearby. Slice axis 2, spacing 1 x 1 x `dz` mm.
 */
export function makeBlob(
  opts: { nx?: number; ny?: number; nz?: number; z0?: number; z1?: number; rmax?: number; noise?: number; dz?: number; seed?: number } = {},
): Blob {
  const nx = opts.nx ?? 48;
  const ny = opts.ny ?? 48;
  const nz = opts.nz ?? 20;
  const z0 = opts.z0 ?? 4;
  const z1 = opts.z1 ?? 15;
  const rmax = opts.rmax ?? 12;
  const noise = opts.noise ?? 8;
  const rng = seededRng(opts.seed ?? 7);
  const data = new Float32Array(nx * ny * nz);
  const truth = new Uint8Array(nx * ny * nz);
  const cz = (z0 + z1) / 2;
  const hz = (z1 - z0) / 2 + 0.5;
  for (let z = 0; z < nz; z++) {
    const r = z >= z0 && z <= z1 ? rmax * Math.sqrt(Math.max(0, 1 - ((z - cz) / hz) ** 2)) : 0;
    const cx = nx / 2 + 0.3 * (z - cz);
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++) {
        const i = x + nx * (y + ny * z);
        const inside = r > 0 && (x - cx) ** 2 + (y - ny / 2) ** 2 <= r * r;
        const gauss = Math.sqrt(-2 * Math.log(rng() + 1e-12)) * Math.cos(2 * Math.PI * rng());
        let v = inside ? 100 : 20;
        if ((x - 8) ** 2 + (y - 8) ** 2 <= 16) v = -40;
        data[i] = v + noise * gauss;
        truth[i] = inside ? 1 : 0;
      }
    }
  }
  const image: Volume<Float32Array> = {
    size: [nx, ny, nz],
    spacing: [1, 1, opts.dz ?? 2],
    origin: [0, 0, 0],
    direction: IDENTITY_DIRECTION,
    data,
  };
  return { image, truth, nx, ny, nz };
}

/**
 * One bright object along the slice axis labelled in two parts that touch, with the image showing no end
 * between them: along the slice axis (slices z0..split and split+1..z1) or side by side (x below `split`, x from
 * it on, on every slice).
 */
export function touchingParts(split: number, along: 'slices' | 'side') {
  const blob = makeBlob({ nx: 40, ny: 40, nz: 30, z0: 2, z1: 27, rmax: 10, seed: 5 });
  const sg = new SliceGeometry(blob.image, 2);
  const truth = new Uint8Array(blob.truth.length);
  for (let i = 0; i < truth.length; i++) {
    if (blob.truth[i]) truth[i] = (along === 'slices' ? Math.floor(i / sg.area) : i % blob.nx) <= split ? 1 : 2;
  }
  const key = (value: number, w: number): KeySlice => ({ index: w, empty: false, mask: sg.maskOf(truth, w, value) ?? undefined, points: [], negativePoints: [] });
  return { blob, sg, truth, key };
}

export function dice(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let na = 0;
  let nb = 0;
  let both = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ? 1 : 0;
    const y = b[i] ? 1 : 0;
    na += x;
    nb += y;
    both += x & y;
  }
  return na + nb === 0 ? 1 : (2 * both) / (na + nb);
}

/** A dataset folder of small blobs (image and label volume per seed) with its keyslice-dataset.json. */
export async function writeBlobDataset(dir: string, seeds: number[], blob: Parameters<typeof makeBlob>[0] = { nx: 32, ny: 32, nz: 12, z0: 2, z1: 9, rmax: 9 }): Promise<void> {
  const cases = [];
  for (const seed of seeds) {
    const b = makeBlob({ ...blob, seed });
    await writeVolume(b.image, path.join(dir, `img${seed}.nii.gz`));
    await writeVolume(withGeometry(b.image, b.truth), path.join(dir, `lab${seed}.nii.gz`));
    cases.push({ id: `c${seed}`, image: `img${seed}.nii.gz`, label: `lab${seed}.nii.gz`, labels: [1] });
  }
  writeFileSync(path.join(dir, 'keyslice-dataset.json'), JSON.stringify({ name: 'blobs', modality: 'MR', cases }));
}

/** Blob volumes as labelled cases (`blob<seed>`, label 1), with the blob itself. */
export function blobCases(seeds: number[]) {
  return seeds.map((seed) => {
    const b = makeBlob({ nx: 40, ny: 40, nz: 14, z0: 2, z1: 11, rmax: 10, seed });
    return { id: `blob${seed}`, image: b.image, truth: withGeometry(b.image, b.truth), values: [1], blob: b };
  });
}
