/** Checked reading of path and query parameters: a malformed one is a 400 naming it. */
import { HttpError } from './errors.js';

export function intParam(x: unknown, name: string, min = 0, max = 2 ** 31 - 1): number {
  if (typeof x !== 'string' || !/^-?\d{1,10}$/.test(x) || Number(x) < min || Number(x) > max) {
    throw new HttpError(400, 'BAD_PARAMETER', `${name} must be a whole number ${min}..${max}`);
  }
  return Number(x);
}

export function optionalInt(x: unknown, name: string, min = 0, max = 2 ** 31 - 1): number | undefined {
  return x === undefined || x === '' ? undefined : intParam(x, name, min, max);
}

export function axisParam(x: unknown): 0 | 1 | 2 | undefined {
  const a = optionalInt(x, 'axis', 0, 2);
  return a as 0 | 1 | 2 | undefined;
}

export function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export function labelList(x: unknown): number[] | undefined {
  if (x === undefined || x === null) return undefined;
  if (!Array.isArray(x) || !x.every((v) => Number.isInteger(v) && v >= 1 && v <= 65535)) {
    throw new HttpError(400, 'BAD_PARAMETER', 'labels must be a list of label values 1..65535');
  }
  return x as number[];
}
