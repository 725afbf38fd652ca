/**
 * Warming a session worker up: one propagation of the classic engine on a small generated phantom when the
 * worker starts, so that the first propagation a user asks for does not also pay for compiling the engine's
 * code paths in a fresh thread. It holds no session of the server and writes nothing.
 */
import { makePhantom } from '../demo/phantom.js';
import { openSession } from '../session/session.js';
import { SliceGeometry } from '../volume/volume.js';

/** Runs the warm-up propagation; returns its slices and milliseconds. */
export async function warmUpEngine(size: [number, number, number] = [96, 96, 16]): Promise<{ slices: number; ms: number }> {
  const t0 = performance.now();
  const ph = makePhantom({ size, seed: 7 });
  const sg = new SliceGeometry(ph.image, 2);
  // The key slice: the one where the phantom's organ (label 1) is largest.
  let slice = 0;
  let mask: Uint8Array | null = null;
  let area = 0;
  for (let w = 0; w < size[2]; w++) {
    const m = sg.maskOf(ph.truth.data, w, 1);
    const a = m ? m.reduce((n, x) => n + x, 0) : 0;
    if (a > area) [slice, mask, area] = [w, m, a];
  }
  if (!mask) return { slices: 0, ms: performance.now() - t0 };
  const session = await openSession(ph.image, { engine: 'classic' });
  let slices = 0;
  try {
    await session.setKeySlice(1, slice, { mask });
    for await (const u of session.propagate()) if (u) slices++;
  } finally {
    session.close();
  }
  return { slices, ms: performance.now() - t0 };
}
