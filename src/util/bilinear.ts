/**
 * Bilinear sampling of a `w` x `h` grid (`src[x + w * y]`) at (x, y), pixel centres at integers: beyond half a
 * pixel outside the grid it returns `outside`; within that margin the edge pixels extend.
 */
export function bilinear(src: ArrayLike<number>, w: number, h: number, x: number, y: number, outside: number): number {
  if (x < -0.5 || y < -0.5 || x > w - 0.5 || y > h - 0.5) return outside;
  const xc = Math.min(Math.max(x, 0), w - 1);
  const yc = Math.min(Math.max(y, 0), h - 1);
  const x0 = Math.floor(xc);
  const y0 = Math.floor(yc);
  const x1 = Math.min(x0 + 1, w - 1);
  const y1 = Math.min(y0 + 1, h - 1);
  const fx = xc - x0;
  const fy = yc - y0;
  const a = src[x0 + w * y0] * (1 - fx) + src[x1 + w * y0] * fx;
  const b = src[x0 + w * y1] * (1 - fx) + src[x1 + w * y1] * fx;
  return a * (1 - fy) + b * fy;
}

/** Bilinear sampling with the grid's edge extended without end (coordinates clamped to the grid). */
export function bilinearClamped(src: ArrayLike<number>, w: number, h: number, x: number, y: number): number {
  return bilinear(src, w, h, Math.min(Math.max(x, 0), w - 1), Math.min(Math.max(y, 0), h - 1), 0);
}
