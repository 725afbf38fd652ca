/**
 * Errors the server answers with: an HTTP status and a stable code, and a message that names the problem
 * without internal paths or stack traces. Body: `{"error": {"code", "message"}, "detail": message}` (`detail`
 * is where MONAI Label's clients look).
 */
import { isAbsolute } from 'node:path';
import { KeysliceError, type KeysliceErrorCode } from '../util/errors.js';

export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string>;

  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

const KEYSLICE_STATUS: Partial<Record<KeysliceErrorCode, number>> = {
  TOO_LARGE: 413,
  OUTPUT_CONFLICT: 500,
  WRITE_FAILED: 500,
};

/** An error as it crosses a worker boundary: named, no stack, no file path. */
export interface WireError {
  status: number;
  code: string;
  message: string;
}

/** The message of a KeysliceError without the internal file name it may start with. */
function clientMessage(err: KeysliceError, subject: string): string {
  // A file name of the server's own (an absolute path) is replaced by what the client sent.
  if (err.file === undefined || !isAbsolute(err.file)) return err.message;
  const m = err.message.startsWith(`${err.file}: `) ? err.message.slice(err.file.length + 2) : err.message.split(err.file).join(subject);
  return `${subject}: ${m}`;
}

/** Any thrown value as a named error for a client; unknown errors become a plain 500 with no detail. */
export function toWireError(err: unknown, subject = 'image'): WireError {
  if (err instanceof HttpError) return { status: err.status, code: err.code, message: err.message };
  if (err instanceof KeysliceError) {
    return { status: KEYSLICE_STATUS[err.code] ?? 400, code: err.code, message: clientMessage(err, subject) };
  }
  return { status: 500, code: 'INTERNAL', message: 'internal error (logged on the server)' };
}

export function fromWireError(e: WireError): HttpError {
  return new HttpError(e.status, e.code, e.message);
}

/** Fastify's own errors (body parsing, limits) by their status, with our names. */
export function fromFrameworkError(err: { statusCode?: number; code?: string; message?: string }): HttpError | null {
  const s = err.statusCode;
  if (s === 413) return new HttpError(413, 'BODY_TOO_LARGE', 'request body is larger than the server accepts (--max-upload-mb)');
  if (s === 415) return new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'content type not accepted here');
  if (s !== undefined && s >= 400 && s < 500) {
    const code = err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || /JSON/i.test(err.message ?? '') ? 'INVALID_JSON' : 'BAD_REQUEST';
    const msg = code === 'INVALID_JSON' ? 'request body is not valid JSON' : 'malformed request';
    return new HttpError(400, code, msg);
  }
  return null;
}

export function errorBody(e: HttpError | WireError): { error: { code: string; message: string }; detail: string } {
  return { error: { code: e.code, message: e.message }, detail: e.message };
}
