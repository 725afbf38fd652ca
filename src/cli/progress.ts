/**
 * Progress on stderr: a redrawn bar on a terminal, plain lines otherwise (logs, CI). Silent when quiet.
 */
import type { Progress } from '../pipeline/segment.js';

export class ProgressReporter {
  private readonly tty: boolean;
  private lastLine = '';
  private lastPlain = 0;

  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly quiet = false,
  ) {
    this.tty = !!stream.isTTY;
  }

  /** A message on its own line. */
  log(message: string): void {
    if (this.quiet) return;
    this.clear();
    this.stream.write(`${message}\n`);
  }

  /** Updates the bar: `done` of `total` steps, with a short label. */
  update(done: number, total: number, label: string): void {
    if (this.quiet) return;
    const frac = total > 0 ? Math.min(1, done / total) : 1;
    if (this.tty) {
      const width = 24;
      const full = Math.round(frac * width);
      const line = `[${'#'.repeat(full)}${'-'.repeat(width - full)}] ${done}/${total} ${label}`;
      this.stream.write(`\r${line.padEnd(this.lastLine.length)}`);
      this.lastLine = line;
      if (done >= total) this.clear(true);
    } else {
      // Plain lines (logs): the first and last, and at most one a second in between.
      const now = Date.now();
      if (done > 0 && done < total && now - this.lastPlain < 1000) return;
      this.lastPlain = now;
      this.stream.write(`${done}/${total} ${label}\n`);
    }
  }

  private clear(keep = false): void {
    if (!this.tty || this.lastLine === '') return;
    this.stream.write(keep ? '\n' : `\r${' '.repeat(this.lastLine.length)}\r`);
    this.lastLine = '';
  }
}

/** A segmentation progress event as the bar shows it: slices in all labels, and the label's name and slice. */
export function segmentProgressLine(p: Progress): { done: number; total: number; text: string } {
  const count = p.sliceCount ?? 1;
  const who = p.name ? `${p.name} (label ${p.label})` : `label ${p.label}`;
  if (p.slice === undefined) {
    return { done: p.done * count, total: p.total * count, text: p.done >= p.total ? 'done' : who };
  }
  return { done: p.done * count + Math.min(count, p.slicesDone ?? 0), total: p.total * count, text: `${who}: slice ${p.slice}` };
}
