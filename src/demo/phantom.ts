/**
 * A synthetic abdominal CT phantom with known truth: body (fat and soft tissue), spine, a contrast-enhanced
 * organ of irregular shape and a hypodense lesion inside it, on thick slices with partial-volume averaging
 * along the slice axis, light in-plane blur and Gaussian noise. Values are Hounsfield units (int16).
 */
import { IDENTITY_DIRECTION, withGeometry, type Geometry, type Vec3, type Volume } from '../volume/volume.js';

export interface PhantomOptions {
  /** Voxels per axis (default 128 x 128 x 24). */
  size?: Vec3;
  /** mm (default 0.8 x 0.8 x 5: thick axial slices). */
  spacing?: Vec3;
  /** Noise standard deviation, HU (default 15). */
  noiseHu?: number;
  /** Random seed (default 1). */
  seed?: number;
}

export interface Phantom {
  image: Volume<Int16Array>;
  /** 1 = organ (lesion excluded), 2 = lesion. */
  truth: Volume<Uint8Array>;
  labelNames: Record<number, string>;
}

/** Small deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(rand: () => number): number {
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

const HU = { air: -1000, fat: -100, tissue: 45, bone: 500, organ: 120, lesion: 35 };

/** Tissue class at a physical point (mm, relative to the volume centre): 0 air ... see HU table. */
function tissueAt(x: number, y: number, z: number, half: Vec3): { hu: number; label: number } {
  const bx = half[0] * 0.9;
  const by = half[1] * 0.7;
  const body = (x / bx) ** 2 + (y / by) ** 2;
  if (body > 1) return { hu: HU.air, label: 0 };
  const spine = Math.hypot(x, y - by * 0.6) < 9;
  if (spine) return { hu: HU.bone, label: 0 };
  // Organ: an ellipsoid whose radius varies smoothly with angle and height, so slices differ in shape.
  const ox = x + bx * 0.25;
  const oy = y + by * 0.05;
  const rz = half[2] * 0.75;
  const zz = z / rz;
  if (Math.abs(zz) < 1) {
    const ang = Math.atan2(oy, ox);
    const r = 0.42 * bx * Math.sqrt(1 - zz * zz) * (1 + 0.18 * Math.sin(3 * ang + 2 * zz) + 0.08 * Math.cos(5 * ang));
    if (Math.hypot(ox, oy * 1.3) < r) {
      const lesion = Math.hypot(ox - 0.15 * bx, oy + 0.05 * by, z - 0.1 * rz) < 11;
      return lesion ? { hu: HU.lesion, label: 2 } : { hu: HU.organ, label: 1 };
    }
  }
  const fatShell = body > 0.82;
  return { hu: fatShell ? HU.fat : HU.tissue, label: 0 };
}

/** Builds the phantom. Deterministic for a given seed. */
export function makePhantom(options: PhantomOptions = {}): Phantom {
  const size = options.size ?? [128, 128, 24];
  const spacing = options.spacing ?? [0.8, 0.8, 5];
  const noise = options.noiseHu ?? 15;
  const rand = rng(options.seed ?? 1);
  const [nx, ny, nz] = size;
  const half: Vec3 = [(nx * spacing[0]) / 2, (ny * spacing[1]) / 2, (nz * spacing[2]) / 2];
  const sub = 5; // samples across each thick slice: partial-volume averaging
  const n = nx * ny * nz;
  const hu = new Float32Array(n);
  const truth = new Uint8Array(n);
  const votes = new Uint8Array(3);
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      const y = (j + 0.5) * spacing[1] - half[1];
      for (let i = 0; i < nx; i++) {
        const x = (i + 0.5) * spacing[0] - half[0];
        votes.fill(0);
        let sum = 0;
        for (let s = 0; s < sub; s++) {
          const z = (k + (s + 0.5) / sub) * spacing[2] - half[2];
          const t = tissueAt(x, y, z, half);
          sum += t.hu;
          votes[t.label]++;
        }
        const idx = i + nx * (j + ny * k);
        hu[idx] = sum / sub;
        truth[idx] = votes[2] * 2 > sub ? 2 : votes[1] + votes[2] > sub / 2 ? 1 : 0;
      }
    }
  }
  // Light in-plane blur (scanner point-spread), then noise.
  const img = new Int16Array(n);
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        let s = 0;
        let c = 0;
        for (let dj = -1; dj <= 1; dj++) {
          for (let di = -1; di <= 1; di++) {
            const ii = i + di;
            const jj = j + dj;
            if (ii < 0 || jj < 0 || ii >= nx || jj >= ny) continue;
            const w = di === 0 && dj === 0 ? 4 : di === 0 || dj === 0 ? 2 : 1;
            s += w * hu[ii + nx * (jj + ny * k)];
            c += w;
          }
        }
        const v = s / c + noise * gaussian(rand);
        img[i + nx * (j + ny * k)] = Math.max(-1024, Math.min(3071, Math.round(v)));
      }
    }
  }
  const geometry: Geometry = { size, spacing, origin: [-half[0], -half[1], -half[2]], direction: IDENTITY_DIRECTION };
  return { image: withGeometry(geometry, img), truth: withGeometry(geometry, truth), labelNames: { 1: 'organ', 2: 'lesion' } };
}
