/**
 * NumPy `.npy` arrays (format 1.0 to 3.0): the float32 or float64 little-endian C-order arrays in which exported
 * model constants are usually saved. Read as float32.
 */

export interface NpyArray {
  shape: number[];
  data: Float32Array;
}

/** Parses `.npy` bytes; `what` names the array in errors. */
export function parseNpy(bytes: Uint8Array, what: string): NpyArray {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || !magic.every((b, i) => bytes[i] === b)) throw new Error(`${what}: not a .npy file (no \\x93NUMPY magic)`);
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder(major >= 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw new Error(`${what}: unreadable .npy header ${JSON.stringify(header.trim())}`);
  if (fortran === 'True') throw new Error(`${what}: Fortran-ordered arrays are not supported; save it with np.ascontiguousarray`);
  const shape = shapeText.split(',').map((x) => x.trim()).filter((x) => x !== '').map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`${what}: bad shape (${shapeText})`);
  const n = shape.reduce((a, b) => a * b, 1);
  const offset = start + headerLen;
  const body = bytes.subarray(offset);
  const data = new Float32Array(n);
  const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  if (descr === '<f4' || descr === '|f4') {
    if (body.length < 4 * n) throw new Error(`${what}: truncated (${body.length} bytes for ${n} float32 values)`);
    for (let i = 0; i < n; i++) data[i] = dv.getFloat32(4 * i, true);
  } else if (descr === '<f8') {
    if (body.length < 8 * n) throw new Error(`${what}: truncated (${body.length} bytes for ${n} float64 values)`);
    for (let i = 0; i < n; i++) data[i] = dv.getFloat64(8 * i, true);
  } else {
    throw new Error(`${what}: element type ${descr} is not supported (use little-endian float32 or float64)`);
  }
  return { shape, data };
}

/** `.npy` bytes (format 1.0) of a float32 array, for tests and tools. */
export function encodeNpy(data: Float32Array, shape: readonly number[]): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header = `${header}${' '.repeat(pad % 64)}\n`;
  const out = new Uint8Array(10 + header.length + 4 * data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  const dv = new DataView(out.buffer, 10 + header.length);
  for (let i = 0; i < data.length; i++) dv.setFloat32(4 * i, data[i], true);
  return out;
}
