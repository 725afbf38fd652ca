/**
 * Keeping third-party chatter off the terminal. WebAssembly readers and writers (itk-wasm, dcmqi) and vtk.js
 * print to the console on their own ("Build module in Debug mode...", ITK warnings, timings, library stderr).
 * {@link quietly} runs a call with the console output made within it (its asynchronous context only, so that
 * concurrent work elsewhere in the process prints as usual) captured into a log that the CLI shows with
 * `--verbose`, and {@link thirdPartyMessage} turns what a library threw, plus what it printed, into one sentence.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { format } from 'node:util';

const LOG_LIMIT = 2000;
const log: string[] = [];
const printedBy = new WeakMap<object, string[]>();
const context = new AsyncLocalStorage<string[]>();
const METHODS = ['log', 'info', 'warn', 'error', 'debug'] as const;
let installed = false;

/** Routes console output made inside a quiet context to that context's capture; anything else prints as before. */
function install(): void {
  if (installed) return;
  installed = true;
  for (const m of METHODS) {
    const original = console[m].bind(console);
    console[m] = (...args: unknown[]) => {
      const mine = context.getStore();
      if (!mine) {
        original(...args);
        return;
      }
      const line = format(...args);
      mine.push(line);
      if (log.length < LOG_LIMIT) log.push(line);
    };
  }
}

/** Lines captured so far (oldest first, at most 2000), for `--verbose`. */
export function capturedMessages(): readonly string[] {
  return log;
}

/** Empties the capture log. */
export function clearCapturedMessages(): void {
  log.length = 0;
}

/** Runs `fn` with its console output captured instead of printed; what was printed is attached to a thrown error. */
export async function quietly<T>(fn: () => Promise<T>): Promise<T> {
  install();
  const mine: string[] = [];
  try {
    return await context.run(mine, fn);
  } catch (err) {
    if (err !== null && typeof err === 'object') printedBy.set(err, mine);
    throw err;
  }
}

/** {@link quietly} for a synchronous call. */
export function quietlySync<T>(fn: () => T): T {
  install();
  return context.run([], fn);
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
