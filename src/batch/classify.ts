/**
 * Which failures of a study are worth another attempt. Input problems (a missing, unreadable or invalid file,
 * a bad option, an output that would overwrite an input) fail the same way every time, so they fail once;
 * anything else (a write that failed, a crashed or killed process, an unexpected error) is retried with backoff.
 */
import { EXIT_CODES, KeysliceError, type KeysliceErrorCode } from '../util/errors.js';

/** Error codes that no retry can fix. */
export function isPermanent(code: KeysliceErrorCode): boolean {
  return code === 'USAGE' || code === 'OUTPUT_CONFLICT' || EXIT_CODES[code] === 3;
}

/** A failure as the queue stores it: `CODE: message` for keyslice's errors, else the message. */
export interface ClassifiedFailure {
  message: string;
  code?: KeysliceErrorCode;
  permanent: boolean;
}

export function classifyFailure(err: unknown): ClassifiedFailure {
  if (err instanceof KeysliceError) return { message: `${err.code}: ${err.message}`, code: err.code, permanent: isPermanent(err.code) };
  return { message: err instanceof Error ? err.message : String(err), permanent: false };
}

/** The error code at the start of a stored failure reason, if it is one of keyslice's. */
export function failureCode(reason: string | undefined): string | undefined {
  const m = /^([A-Z_]+): /.exec(reason ?? '');
  return m && m[1] in EXIT_CODES ? m[1] : undefined;
}
