/**
 * Keeping third-party chatter off the terminal. WebAssembly readers and writers (itk-wasm) print to the console
 * on their own ("Build module in Debug mode...", ITK warnings, library stderr). {@link quietly} runs a call with
 * the console captured into a log that the CLI shows with `--verbose`, and {@link thirdPartyMessage} turns what
 * a library threw, plus what it printed, into one readable sentence.
 */
import { format } from 'node:util';

const LOG_LIMIT = 2000;
const log: string[] = [];
const printedBy = new WeakMap<object, string[]>();
let depth = 0;
let saved: Pick<Console, 'log' | 'info' | 'warn' | 'error' | 'debug'> | null = null;

/** Lines captured so far (oldest first), for `--verbose`. */
export function capturedMessages(): readonly string[] {
  return log;
}

/** Empties the capture log. */
export function clearCapturedMessages(): void {
  log.length = 0;
}

/** Runs `fn` with console output captured instead of printed; what was printed is attached to a thrown error. */
export async function quietly<T>(fn: () => Promise<T>): Promise<T> {
  const mine: string[] = [];
  const capture = (...args: unknown[]) => {
    const line = format(...args);
    mine.push(line);
    if (log.length < LOG_LIMIT) log.push(line);
  };
  if (depth++ === 0) {
    saved = { log: console.log, info: console.info, warn: console.warn, error: console.error, debug: console.debug };
  }
  const before = { log: console.log, info: console.info, warn: console.warn, error: console.error, debug: console.debug };
  console.log = console.info = console.warn = console.error = console.debug = capture;
  try {
    return await fn();
  } catch (err) {
    if (err !== null && typeof err === 'object') printedBy.set(err, mine);
    throw err;
  } finally {
    Object.assign(console, before);
    if (--depth === 0 && saved) {
      Object.assign(console, saved);
      saved = null;
    }
  }
}

/** What the library said about an error: its message, else its own stderr, else a plain sentence. */
export function thirdPartyMessage(err: unknown): string {
  let msg = err instanceof Error ? err.message : typeof err === 'object' && err !== null ? '' : String(err);
  const printed = err !== null && typeof err === 'object' ? (printedBy.get(err) ?? []) : [];
  if (/^\s*\d*\s*$/.test(msg) || msg === '[object Object]') {
    const said = printed
      .map((l) => l.replace(/^(stderr|stdout|exception):\s*/, '').trim())
      .filter((l) => l !== '' && !/^Exception while running pipeline|^Build module in Debug mode/.test(l));
    const errno = typeof err === 'object' && err !== null && 'errno' in err ? Number((err as { errno: unknown }).errno) : NaN;
    if (said.length) msg = said.join(' ');
    else if (Number.isFinite(errno)) msg = `file system error ${errno} inside the WebAssembly library (path not found or not accessible)`;
    else msg = 'the library failed on this file without giving a reason';
  }
  const line = msg.split('\n').find((l) => l.trim() !== '') ?? msg;
  return line.length > 240 ? `${line.slice(0, 240)}...` : line;
}
