/** `node:util` for the page's worker: `format` as the console prints its arguments. */
export function format(...args: unknown[]): string {
  return args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
}
