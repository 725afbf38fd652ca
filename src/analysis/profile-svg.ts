/**
 * SVG plot of similarity profiles: one panel per region (whole slices, then each annotated object's region),
 * slice index on x, [0, 1] on y. Lines: SSIM of each neighbouring pair (plotted between the two slices),
 * histogram distance, predictability of each slice from its neighbours; shaded: runs of redundant slices; red
 * marks: change points (solid for similarity breaks, dashed for outliers); black ticks: key slices.
 */
import { COLORS, esc, svgOpen } from '../util/svg.js';
import type { RegionProfile } from './profile.js';

export interface ProfilePanel {
  title: string;
  profile: RegionProfile;
  /** Key slices to mark (0-based). */
  keySlices?: number[];
}

const SERIES = [
  { name: 'SSIM of neighbours', color: COLORS[0], dash: '' },
  { name: 'histogram distance', color: COLORS[4], dash: ' stroke-dasharray="4,3"' },
  { name: 'predictability', color: COLORS[2], dash: '' },
];

export function profileSvg(panels: ProfilePanel[], count: number): string {
  const W = Math.max(520, Math.min(1400, 60 + count * 6));
  const ph = 200;
  const m = { l: 44, r: 14, t: 26, b: 34 };
  const perRow = Math.max(1, Math.floor((W - 20) / 170));
  const legendH = 22 * Math.ceil((SERIES.length + 2) / perRow) + 10;
  const H = panels.length * ph + legendH;
  const out = svgOpen(W, H);
  const w = W - m.l - m.r;
  const h = ph - m.t - m.b;
  const X = (slice: number): number => m.l + (count > 1 ? slice / (count - 1) : 0.5) * w;
  panels.forEach((p, n) => {
    const oy = n * ph + m.t;
    const Y = (v: number): number => oy + (1 - Math.max(0, Math.min(1, v))) * h;
    out.push(`<text x="${m.l + w / 2}" y="${oy - 8}" text-anchor="middle" font-weight="bold">${esc(p.title)}</text>`);
    for (const [a, b] of p.profile.redundantRuns) {
      const x0 = X(a - 0.5);
      out.push(`<rect x="${x0.toFixed(1)}" y="${oy}" width="${(X(b + 0.5) - x0).toFixed(1)}" height="${h}" fill="#2ca02c" fill-opacity="0.12"/>`);
    }
    out.push(`<rect x="${m.l}" y="${oy}" width="${w}" height="${h}" fill="none" stroke="#999"/>`);
    for (const v of [0, 0.25, 0.5, 0.75, 1]) {
      out.push(`<line x1="${m.l}" x2="${m.l + w}" y1="${Y(v)}" y2="${Y(v)}" stroke="#eee"/>`);
      out.push(`<text x="${m.l - 4}" y="${Y(v) + 4}" text-anchor="end">${v.toFixed(2)}</text>`);
    }
    const step = Math.max(1, Math.ceil(count / 12 / 5) * 5);
    for (let s = 0; s < count; s += step) out.push(`<text x="${X(s).toFixed(1)}" y="${oy + h + 14}" text-anchor="middle">${s}</text>`);
    out.push(`<text x="${m.l + w / 2}" y="${oy + h + 28}" text-anchor="middle">slice</text>`);
    for (const c of p.profile.changePoints) {
      const x = X(c.slice + 0.5).toFixed(1);
      const dash = c.reason === 'outlier' ? ' stroke-dasharray="3,3"' : '';
      out.push(`<line x1="${x}" x2="${x}" y1="${oy}" y2="${oy + h}" stroke="#d62728"${dash}/>`);
    }
    for (const k of p.keySlices ?? []) {
      const x = X(k).toFixed(1);
      out.push(`<line x1="${x}" x2="${x}" y1="${oy + h - 8}" y2="${oy + h}" stroke="black" stroke-width="2"/>`);
    }
    const line = (pts: [number, number][], s: (typeof SERIES)[number]): void => {
      if (pts.length) {
        const d = pts.map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(' ');
        out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.5"${s.dash} points="${d}"/>`);
      }
    };
    line(p.profile.pairs.map((q) => [q.slice + 0.5, q.ssim]), SERIES[0]);
    line(p.profile.pairs.map((q) => [q.slice + 0.5, q.histogram]), SERIES[1]);
    line(p.profile.predictability.flatMap((v, s) => (v === null ? [] : [[s, v] as [number, number]])), SERIES[2]);
  });
  const at = (i: number): [number, number] => [10 + (i % perRow) * 170, panels.length * ph + 18 + Math.floor(i / perRow) * 22];
  SERIES.forEach((s, i) => {
    const [x, y] = at(i);
    out.push(`<line x1="${x}" x2="${x + 24}" y1="${y - 4}" y2="${y - 4}" stroke="${s.color}" stroke-width="2"${s.dash}/>`);
    out.push(`<text x="${x + 30}" y="${y}">${esc(s.name)}</text>`);
  });
  const [rx, ry] = at(SERIES.length);
  out.push(`<rect x="${rx}" y="${ry - 10}" width="24" height="10" fill="#2ca02c" fill-opacity="0.25"/>`);
  out.push(`<text x="${rx + 30}" y="${ry}">redundant slices</text>`);
  const [cx, cy] = at(SERIES.length + 1);
  out.push(`<line x1="${cx + 12}" x2="${cx + 12}" y1="${cy - 12}" y2="${cy + 2}" stroke="#d62728"/>`);
  out.push(`<text x="${cx + 30}" y="${cy}">change point (dashed: outlier)</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
