/**
 * The region a set of clicks points at on one slice, grown from the image: the object's intensity is read from
 * the neighbourhoods of the positive clicks, and the region is flooded from them over the pixels whose
 * (denoised) value lies within a tolerance of it. The image's edges bound it (a step larger than the tolerance
 * stops the flood), the negative clicks bound it (their neighbourhoods are walls, and a pixel nearer a negative
 * click than any positive one along the flood is left to the negative click), and so does a reach that grows
 * with the clicks' spread, group by group where the clicks lie on structures apart. The graph cut of the key
 * slice then draws the boundary inside a margin around it.
 */
import type { Point } from '../../annotations/types.js';
import { signedDistance2d } from '../../morphology/binary.js';

export interface PointRegionOptions {
  /** Radius (mm, at least 1.5 pixels) of the neighbourhood of a click the object's intensity is read from (default 2). */
  sampleRadiusMm: number;
  /** Tolerance in robust standard deviations of the clicks' neighbourhoods (or of the slice's noise, when larger; default 2.5). */
  tolerance: number;
  /**
   * How far the flood may reach from the nearest positive click: `reachFactor` times the object's scale (defaults
   * 1 and 5). Several clicks give the scale by their spread (the largest distance between two of them: clicks
   * spread over an object span about its radius), at least the sampling radius (clicks a pixel apart mark a
   * structure a few pixels wide, such as the tapering end of an object); a single click by twice its depth (its
   * distance to the nearest pixel out of twice the tolerance), at least `minReachPixels` pixels. Clicks on
   * structures apart (see `clickGroups`) are scaled and flooded group by group; a lone click among several takes the
   * single-click scale, at most the largest spread of the groups of several clicks, at least the sampling radius.
   */
  reachFactor: number;
  minReachPixels: number;
}

export const DEFAULT_POINT_REGION: PointRegionOptions = { sampleRadiusMm: 2, tolerance: 2.5, reachFactor: 1, minReachPixels: 5 };

export interface PointRegion {
  /** 1 = pixel reached by the flood from the positive clicks. */
  region: Uint8Array;
  /** Robust centre and spread of the object's intensity read at the clicks, and the tolerance used. */
  centre: number;
  spread: number;
  tolerance: number;
  /** How far (mm) the flood could reach from the nearest positive click. */
  reach: number;
  /**
   * The share of the region's border pixels (those with an 8-neighbour outside it) where the image stopped the
   * flood: every neighbour outside lies beyond the tolerance. Near 1 the flood found the object's edges all
   * around; low where the reach or the negative clicks bounded it in surroundings that look like the object.
   */
  edgeBound: number;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : 0;
}

/** Values of `image` within `radius` mm of each click. */
function samplesAround(image: Float32Array, nu: number, nv: number, du: number, dv: number, pts: readonly Point[], radius: number): number[] {
  const out: number[] = [];
  const ru = Math.ceil(radius / du);
  const rv = Math.ceil(radius / dv);
  for (const [ci, cj] of pts) {
    for (let j = Math.max(0, cj - rv); j <= Math.min(nv - 1, cj + rv); j++) {
      for (let i = Math.max(0, ci - ru); i <= Math.min(nu - 1, ci + ru); i++) {
        if (Math.hypot((i - ci) * du, (j - cj) * dv) <= radius) out.push(image[i + nu * j]);
      }
    }
  }
  return out;
}

/** Robust centre and spread of the object's intensity samples, and the flood's tolerance around the centre. */
function clickIntensity(samples: number[], tolerance: number, noise: number): { centre: number; spread: number; tolerance: number } {
  const centre = median(samples);
  const spread = 1.4826 * median(samples.map((x) => Math.abs(x - centre)));
  return { centre, spread, tolerance: tolerance * Math.max(spread, noise, 1e-6 * Math.abs(centre)) };
}

/**
 * Robust noise level of a slice: the median absolute difference of horizontal neighbours over sqrt(2), as a
 * standard deviation. Pairs inside a constant fill (both pixels at the value most often shared by two neighbours:
 * the zeros around a skull-stripped or resampled image, which can be most of a slice) are not noise and are left
 * out; a slice that is all fill has none (0).
 */
export function sliceNoise(image: Float32Array, nu: number, nv: number): number {
  const equal = new Map<number, number>();
  for (let j = 0; j < nv; j++) {
    for (let i = 0; i + 1 < nu; i += 2) {
      const a = image[i + nu * j];
      if (a === image[i + 1 + nu * j]) equal.set(a, (equal.get(a) ?? 0) + 1);
    }
  }
  let fill = NaN;
  let most = 0;
  for (const [value, n] of equal) if (n > most) [fill, most] = [value, n];
  const d: number[] = [];
  for (let j = 0; j < nv; j++) {
    for (let i = 0; i + 1 < nu; i += 2) {
      const a = image[i + nu * j];
      const b = image[i + 1 + nu * j];
      if (a !== fill || b !== fill) d.push(Math.abs(b - a));
    }
  }
  return (1.4826 * median(d)) / Math.SQRT2;
}

/**
 * The flood of {@link PointRegion} (see the module comment). Positive clicks are always in the region; negative
 * ones never are.
 */
export function pointRegion(
  image: Float32Array,
  g: { nu: number; nv: number; du: number; dv: number },
  points: readonly Point[],
  negativePoints: readonly Point[],
  options: Partial<PointRegionOptions> = {},
): PointRegion {
  const o = { ...DEFAULT_POINT_REGION, ...options };
  const { nu, nv, du, dv } = g;
  const n = nu * nv;
  const px = Math.max(du, dv);
  const radius = Math.max(1.5 * px, o.sampleRadiusMm);
  const noise = sliceNoise(image, nu, nv);
  let model = clickIntensity(samplesAround(image, nu, nv, du, dv, points, radius), o.tolerance, noise);
  // A click is on the object: where a clicked pixel's own value lies outside the intensity read around the clicks,
  // the neighbourhoods are mostly surroundings (an object narrower than the sampling radius, such as a lesion a
  // few pixels wide), and the object's intensity is read at the clicked pixels alone.
  if (points.some(([i, j]) => Math.abs(image[i + nu * j] - model.centre) > model.tolerance)) {
    model = clickIntensity(points.map(([i, j]) => image[i + nu * j]), o.tolerance, noise);
  }
  const { centre, spread, tolerance } = model;
  const passable = new Uint8Array(n);
  for (let i = 0; i < n; i++) passable[i] = Math.abs(image[i] - centre) <= tolerance ? 1 : 0;
  // Walls: the negative clicks' neighbourhoods (the sampling radius).
  const wall = new Uint8Array(n);
  for (const [ci, cj] of negativePoints) {
    const ru = Math.ceil(radius / du);
    const rv = Math.ceil(radius / dv);
    for (let j = Math.max(0, cj - rv); j <= Math.min(nv - 1, cj + rv); j++) {
      for (let i = Math.max(0, ci - ru); i <= Math.min(nu - 1, ci + ru); i++) if (Math.hypot((i - ci) * du, (j - cj) * dv) <= radius) wall[i + nu * j] = 1;
    }
  }
  // Clicks on separate structures (two lesions of one label on a slice) say nothing of one object's size by their
  // distance: each group of clicks joined through the object's intensity gets its own scale and reach. A lone click
  // among several marks a structure its user found no larger than those given several clicks: its single-click
  // scale is capped by the largest of their spreads (the sampling radius where every click is alone).
  const groups = points.length > 1 ? clickGroups(passable, g, points, px) : [points];
  const spreads = groups.map((group) => (group.length > 1 ? spreadOf(group, du, dv) : 0));
  const largest = Math.max(...spreads);
  // Depth of single clicks: one distance map serves every lone click.
  let depth: Float32Array | null = null;
  const singleClickScale = ([i, j]: Point): number => {
    depth ??= clickDepthMap(image, g, centre, tolerance);
    return 2 * depth[i + nu * j];
  };
  const fromPos = new Float64Array(n).fill(Infinity);
  let reach = 0;
  for (const [k, group] of groups.entries()) {
    let scale = Math.max(spreads[k], radius);
    if (points.length === 1) scale = Math.max(singleClickScale(points[0]), o.minReachPixels * px);
    else if (group.length === 1) scale = Math.max(Math.min(singleClickScale(group[0]), largest), radius);
    const r = o.reachFactor * scale;
    reach = Math.max(reach, r);
    const d = flood(passable, wall, nu, nv, du, dv, group, r);
    for (let i = 0; i < n; i++) if (d[i] < fromPos[i]) fromPos[i] = d[i];
  }
  // Path lengths (mm) of two floods over the pixels within tolerance: from the positive clicks (above) and from the
  // negative ones (breadth-first on 8-neighbours, chamfer distances). A pixel goes to the nearer side.
  const fromNeg = negativePoints.length ? flood(passable, new Uint8Array(n), nu, nv, du, dv, negativePoints, Infinity) : null;
  const region = new Uint8Array(n);
  for (let i = 0; i < n; i++) region[i] = fromPos[i] < Infinity && (!fromNeg || fromPos[i] <= fromNeg[i]) ? 1 : 0;
  for (const [i, j] of points) region[i + nu * j] = 1;
  for (const [i, j] of negativePoints) region[i + nu * j] = 0;
  return { region, centre, spread, tolerance, reach, edgeBound: edgeBoundShare(region, passable, nu, nv) };
}

/**
 * Each pixel's depth (mm) inside the pixels within twice the tolerance of the object's intensity: a single click
 * (which says nothing else about size) gives the object's scale as twice its depth (the wider tolerance keeps
 * single noisy pixels from making a click look shallow).
 */
function clickDepthMap(image: Float32Array, g: { nu: number; nv: number; du: number; dv: number }, centre: number, tolerance: number): Float32Array {
  const { nu, nv, du, dv } = g;
  const sd = signedDistance2d(Uint8Array.from(image, (x) => (Math.abs(x - centre) <= 2 * tolerance ? 1 : 0)), nu, nv, du, dv);
  for (let i = 0; i < sd.length; i++) sd[i] = -sd[i];
  return sd;
}

/**
 * The object's scale from several clicks on it: their spread, the largest distance between two of them (clicks
 * spread over an object span about its radius). Their depth is not used: where the surroundings look like the
 * object (a small structure in grey matter, a click's neighbourhood straddling the border) it measures them.
 */
function spreadOf(points: readonly Point[], du: number, dv: number): number {
  let scale = 0;
  for (const a of points) for (const b of points) scale = Math.max(scale, Math.hypot((a[0] - b[0]) * du, (a[1] - b[1]) * dv));
  return scale;
}

/** How much longer than the straight line (and by how many pixels more) a path within the object may be between two clicks on it. */
const GROUP_PATH_RATIO = 1.25;
const GROUP_PATH_PIXELS = 2;

/**
 * The clicks grouped by the structures they lie on: two clicks are on one structure when a path over the pixels
 * within the tolerance (a clicked pixel counts as within) joins them, at most a quarter longer than the straight
 * line between them (plus 2 pixels), as within one object; groups are closed under that relation (single
 * linkage). Clicks on lesions apart in the slice, joined at most by a long detour, are apart.
 */
export function clickGroups(
  passable: Uint8Array,
  g: { nu: number; nv: number; du: number; dv: number },
  points: readonly Point[],
  px: number,
): Point[][] {
  const { nu, nv, du, dv } = g;
  const m = points.length;
  // A clicked pixel is on the object even where its own value lies outside the tolerance.
  const open = Uint8Array.from(passable);
  for (const [i, j] of points) open[i + nu * j] = 1;
  const noWall = new Uint8Array(open.length);
  const parent = points.map((_, i) => i);
  const root = (i: number): number => (parent[i] === i ? i : (parent[i] = root(parent[i])));
  for (let a = 0; a < m; a++) {
    let far = 0;
    for (let b = a + 1; b < m; b++) far = Math.max(far, Math.hypot((points[a][0] - points[b][0]) * du, (points[a][1] - points[b][1]) * dv));
    if (far === 0) {
      for (let b = a + 1; b < m; b++) parent[root(b)] = root(a);
      continue;
    }
    const d = flood(open, noWall, nu, nv, du, dv, [points[a]], GROUP_PATH_RATIO * far + GROUP_PATH_PIXELS * px);
    for (let b = a + 1; b < m; b++) {
      const [i, j] = points[b];
      const straight = Math.hypot((points[a][0] - i) * du, (points[a][1] - j) * dv);
      if (d[i + nu * j] <= GROUP_PATH_RATIO * straight + GROUP_PATH_PIXELS * px) parent[root(b)] = root(a);
    }
  }
  const groups = new Map<number, Point[]>();
  points.forEach((p, i) => {
    const r = root(i);
    const group = groups.get(r);
    if (group) group.push(p);
    else groups.set(r, [p]);
  });
  return [...groups.values()];
}

/** The share of the region's border pixels whose 8-neighbours outside it are all impassable (see `edgeBound`); 0 for an empty region. */
function edgeBoundShare(region: Uint8Array, passable: Uint8Array, nu: number, nv: number): number {
  let border = 0;
  let bounded = 0;
  for (let v = 0; v < nv; v++) {
    for (let u = 0; u < nu; u++) {
      if (!region[u + nu * v]) continue;
      let outside = false;
      let open = false;
      for (let j = Math.max(0, v - 1); j <= Math.min(nv - 1, v + 1); j++) {
        for (let i = Math.max(0, u - 1); i <= Math.min(nu - 1, u + 1); i++) {
          const q = i + nu * j;
          if (region[q]) continue;
          outside = true;
          if (passable[q]) open = true;
        }
      }
      if (!outside) continue;
      border++;
      if (!open) bounded++;
    }
  }
  return border > 0 ? bounded / border : 0;
}

/**
 * Path length (mm, 8-neighbour steps) from the seeds over `passable` pixels not in `wall`, up to `reach`
 * (Infinity beyond or where unreached). A seed starts at 0 whatever its own value, unless it lies in a wall.
 */
function flood(
  passable: Uint8Array,
  wall: Uint8Array,
  nu: number,
  nv: number,
  du: number,
  dv: number,
  seeds: readonly Point[],
  reach: number,
): Float64Array {
  const n = nu * nv;
  const dist = new Float64Array(n).fill(Infinity);
  // Dijkstra with a binary heap over (distance, pixel).
  const heap: number[] = [];
  const key: number[] = [];
  const push = (d: number, i: number): void => {
    heap.push(i);
    key.push(d);
    let c = heap.length - 1;
    while (c > 0) {
      const p = (c - 1) >> 1;
      if (key[p] <= key[c]) break;
      [heap[p], heap[c]] = [heap[c], heap[p]];
      [key[p], key[c]] = [key[c], key[p]];
      c = p;
    }
  };
  const pop = (): [number, number] => {
    const top: [number, number] = [key[0], heap[0]];
    const li = heap.pop() as number;
    const lk = key.pop() as number;
    if (heap.length) {
      heap[0] = li;
      key[0] = lk;
      let c = 0;
      for (;;) {
        const l = 2 * c + 1;
        const r = l + 1;
        let m = c;
        if (l < heap.length && key[l] < key[m]) m = l;
        if (r < heap.length && key[r] < key[m]) m = r;
        if (m === c) break;
        [heap[m], heap[c]] = [heap[c], heap[m]];
        [key[m], key[c]] = [key[c], key[m]];
        c = m;
      }
    }
    return top;
  };
  for (const [i, j] of seeds) {
    const s = i + nu * j;
    if (!wall[s]) {
      dist[s] = 0;
      push(0, s);
    }
  }
  const dd = Math.hypot(du, dv);
  const steps: [number, number, number][] = [
    [1, 0, du], [-1, 0, du], [0, 1, dv], [0, -1, dv],
    [1, 1, dd], [1, -1, dd], [-1, 1, dd], [-1, -1, dd],
  ];
  while (heap.length) {
    const [d, i] = pop();
    if (d > dist[i]) continue;
    const u = i % nu;
    const v = (i - u) / nu;
    for (const [su, sv, len] of steps) {
      const uu = u + su;
      const vv = v + sv;
      if (uu < 0 || vv < 0 || uu >= nu || vv >= nv) continue;
      const j = uu + nu * vv;
      if (!passable[j] || wall[j]) continue;
      const nd = d + len;
      if (nd > reach || nd >= dist[j]) continue;
      dist[j] = nd;
      push(nd, j);
    }
  }
  return dist;
}
