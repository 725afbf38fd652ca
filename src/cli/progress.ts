/**
 * Progress on stderr: a redrawn bar on a terminal, plain lines otherwise (logs, CI). Silent when quiet.
 */
export class ProgressReporter {
  private readonly tty: boolean;
  private lastLine = '';

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
      this.stream.write(`${done}/${total} ${label}\n`);
    }
  }

  private clear(keep = false): void {
    if (!this.tty || this.lastLine === '') return;
    this.stream.write(keep ? '\n' : `\r${' '.repeat(this.lastLine.length)}\r`);
    this.lastLine = '';
  }
}
