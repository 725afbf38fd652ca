/**
 * The confidence strip along the slice axis: one cell per slice coloured by the engine's confidence, key slices
 * marked with a tick in the label's colour, the current slice outlined, the suggested next slice underlined.
 */
import { confidenceColor } from '../review.js';

export interface StripState {
  confidence: Float32Array;
  keys: ReadonlyMap<number, string>;
  current: number;
  suggested: number | null;
  color: readonly number[];
}

/** The slice under a click at `x` on a strip `width` pixels wide. */
export function stripSliceAt(x: number, width: number, count: number): number {
  return Math.max(0, Math.min(count - 1, Math.floor((x / Math.max(1, width)) * count)));
}

export function drawStrip(canvas: HTMLCanvasElement, s: StripState): void {
  const w = canvas.clientWidth || 600;
  const h = canvas.clientHeight || 28;
  if (canvas.width !== w) canvas.width = w;
  if (canvas.height !== h) canvas.height = h;
  const g = canvas.getContext('2d');
  if (!g) return;
  const n = s.confidence.length;
  const cell = w / Math.max(1, n);
  g.clearRect(0, 0, w, h);
  for (let i = 0; i < n; i++) {
    g.fillStyle = confidenceColor(s.confidence[i]);
    g.fillRect(i * cell, 6, Math.max(1, cell - 1), h - 12);
  }
  g.fillStyle = `rgb(${s.color.join(',')})`;
  for (const [slice, kind] of s.keys) {
    const x = (slice + 0.5) * cell;
    g.beginPath();
    g.moveTo(x - 4, 0);
    g.lineTo(x + 4, 0);
    g.lineTo(x, 6);
    g.fill();
    if (kind === 'absent') g.fillRect(x - 3, h - 5, 6, 2);
  }
  if (s.suggested !== null) {
    g.fillStyle = '#4cc9f0';
    g.fillRect(s.suggested * cell, h - 4, Math.max(2, cell - 1), 4);
  }
  g.strokeStyle = '#fff';
  g.lineWidth = 2;
  g.strokeRect(s.current * cell + 1, 5, Math.max(2, cell - 2), h - 10);
}
