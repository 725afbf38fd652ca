import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { after, describe, it } from 'node:test';
import type { KeySlice } from '../src/annotations/types.js';
import { chooseCandidate, medsam2Engine, stability, type Medsam2Trace } from '../src/engines/medsam2/engine.js';
import { memoryBank, selectConditioning, sinePositionEncoding } from '../src/engines/medsam2/memory.js';
import { encodeNpy, parseNpy } from '../src/models/npy.js';
import { parseSam2Manifest } from '../src/models/sam2/manifest.js';
import { loadSam2Model } from '../src/models/sam2/load-node.js';
import { resolveEngine } from '../src/pipeline/engines-node.js';
import { segment } from '../src/pipeline/segment.js';
import { KeysliceError } from '../src/util/errors.js';
import { SliceGeometry, withGeometry } from '../src/volume/volume.js';
import { writeVolume } from '../src/volume/io-node.js';
import { CLI } from './helpers/paths.js';
import { C, HW, M, MEM_POS, NO_OBJ_PTR, PROJ_B, PROJ_W, S, TPOS, writeSam2Model } from './helpers/sam2-graphs.js';
import { dice, makeBlob } from './helpers/volumes.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'keyslice-medsam2-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const RULES = { numMaskmem: 7, maxObjPtrs: 16, maxConditioningFrames: -1 };
const refs = (b: ReturnType<typeof memoryBank>) => ({
  memories: b.memories.map((m) => `${m.slice}/${m.tposIndex}${m.conditioning ? 'c' : ''}`),
  pointers: b.pointers.map((p) => `${p.slice}@${p.position}${p.conditioning ? 'c' : ''}`),
});

async function rejects(p: Promise<unknown> | (() => unknown), pattern: RegExp, code?: string): Promise<void> {
  const check = (e: unknown): boolean => {
    assert.ok(e instanceof KeysliceError, String(e));
    if (code) assert.equal(e.code, code);
    assert.match(e.message, pattern);
    return true;
  };
  if (typeof p === 'function') assert.throws(p, check);
  else await assert.rejects(p, check);
}

describe('medsam2 memory bank (SAM2 track_step rules, key slices as conditioning frames)', () => {
  it('conditioning memories first, then up to six recent frames of the pass, each with its temporal row', () => {
    const b = memoryBank({ slice: 18, dir: 1, conditioning: [10, 30], pass: new Set([11, 12, 13, 14, 15, 16, 17]), count: 40 }, RULES);
    assert.deepEqual(refs(b), {
      memories: ['10/6c', '30/6c', '12/5', '13/4', '14/3', '15/2', '16/1', '17/0'],
      // Pointers: conditioning frames behind the slice only (30 lies ahead), then the pass's up to 15 back.
      pointers: ['10@8c', '17@1', '16@2', '15@3', '14@4', '13@5', '12@6', '11@7'],
    });
    assert.equal(b.positionScale, 15);
  });

  it('a pass running down looks up: its past is above it', () => {
    const b = memoryBank({ slice: 25, dir: -1, conditioning: [10, 30], pass: new Set([26, 27, 28, 29]), count: 40 }, RULES);
    assert.deepEqual(refs(b), {
      memories: ['10/6c', '30/6c', '29/3', '28/2', '27/1', '26/0'],
      pointers: ['30@5c', '26@1', '27@2', '28@3', '29@4'],
    });
  });

  it('a skipped slice leaves a gap; a short volume caps the pointers and their scale', () => {
    const b = memoryBank({ slice: 5, dir: 1, conditioning: [1], pass: new Set([2, 4]), count: 8 }, RULES);
    assert.deepEqual(refs(b), { memories: ['1/6c', '2/2', '4/0'], pointers: ['1@4c', '4@1', '2@3'] });
    assert.equal(b.positionScale, 7);
  });

  it('with a cap on conditioning frames: the closest before and after, then the nearest; an unselected one nearby counts as recent', () => {
    assert.deepEqual(selectConditioning(20, [2, 10, 19, 22, 40], 3), { selected: [10, 19, 22], unselected: [2, 40] });
    assert.deepEqual(selectConditioning(20, [2, 10, 19, 22, 40], -1).selected, [2, 10, 19, 22, 40]);
    const b = memoryBank({ slice: 20, dir: 1, conditioning: [15, 18, 30, 50], pass: new Set([19]), count: 60 }, { ...RULES, maxConditioningFrames: 2 });
    assert.deepEqual(refs(b), { memories: ['18/6c', '30/6c', '15/4c', '19/0'], pointers: ['18@2c', '19@1', '15@5c'] });
  });

  it('encodes pointer positions with SAM2\'s 1D sine encoding', () => {
    const pe = sinePositionEncoding([0, 0.5], 4);
    assert.deepEqual(Array.from(pe.slice(0, 4)), [0, 0, 1, 1]);
    const s = Math.fround(Math.sin(0.5));
    const c = Math.fround(Math.cos(0.5));
    assert.deepEqual(Array.from(pe.slice(4)), [s, s, c, c]);
    const wide = sinePositionEncoding([3], 8);
    // dim 8: 4 sines at 3 / 10000^(0, 0, 0.5, 0.5), then the cosines.
    assert.ok(Math.abs(wide[2] - Math.sin(3 / 100)) < 1e-7 && Math.abs(wide[7] - Math.cos(3 / 100)) < 1e-7);
  });
});

describe('medsam2 candidate masks', () => {
  const plane = (v: number) => new Float32Array(16).fill(v);
  const d = { masks: [plane(5), plane(5), plane(5), plane(5)], iou: [0.5, 0.7, 0.9, 0.8], pointers: [plane(0), plane(1), plane(2), plane(3)] };
  const dyn = { on: true, delta: 0.05, threshold: 0.98 };

  it('several candidates: the best predicted IoU among the multimask outputs, with its own pointer', () => {
    assert.deepEqual(chooseCandidate(d, true, dyn), { mask: 2, pointer: 2 });
    assert.deepEqual(chooseCandidate({ ...d, masks: d.masks.slice(1), iou: d.iou.slice(1), pointers: d.pointers.slice(1) }, true, dyn), { mask: 1, pointer: 1 });
    assert.deepEqual(chooseCandidate({ masks: [plane(1)], iou: [0.3], pointers: [plane(0)] }, true, dyn), { mask: 0, pointer: 0 });
  });

  it('one mask: the single output while stable, else the best candidate (the pointer stays the single token)', () => {
    assert.deepEqual(chooseCandidate(d, false, dyn), { mask: 0, pointer: 0 });
    const unstable = { ...d, masks: [Float32Array.from({ length: 16 }, (_, i) => (i % 2 ? 0.01 : 5)), ...d.masks.slice(1)] };
    assert.ok(stability(unstable.masks[0], 0.05) < 0.98);
    assert.deepEqual(chooseCandidate(unstable, false, dyn), { mask: 2, pointer: 0 });
    assert.deepEqual(chooseCandidate(unstable, false, { ...dyn, on: false }), { mask: 0, pointer: 0 });
  });
});

describe('sam2 model manifest, constants and graph checks', () => {
  const dir = writeSam2Model(path.join(tmp, 'checks'));
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'keyslice-model.json'), 'utf8'));

  it('parses the manifest with defaults, and names the field of every mistake', () => {
    const m = parseSam2Manifest(manifest, 'm.json');
    assert.equal(m.inputSize, S);
    assert.equal(m.resize, 'stretch');
    assert.equal(m.tensors.maskDecoder.objectScoreLogits, 'object_score_logits');
    assert.equal(m.settings.maxObjPtrs, 16);
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ graphs: { ...manifest.graphs, memoryAttention: undefined } }, /m\.json: "graphs\.memoryAttention" must name/],
      [{ graphs: { ...manifest.graphs, promptEncoder: 'p.onnx' } }, /"graphs\.promptEncoder" is not a graph/],
      [{ tensors: { imageEncoder: { pixFeat: null } } }, /"tensors\.imageEncoder\.pixFeat" cannot be null/],
      [{ tensors: { maskDecoder: { scores: 'x' } } }, /"tensors\.maskDecoder\.scores" is not a role of the maskDecoder graph/],
      [{ tensors: { maskDecoder: { maskInput: null } } }, /"tensors\.maskDecoder\.maskInput" and "hasMaskInput" go together/],
      [{ constants: { ...manifest.constants, maskDownsampleBias: undefined } }, /"constants\.maskDownsampleWeight" and "constants\.maskDownsampleBias" go together/],
      [{ constants: { noObjPtr: 'x.npy' } }, /"constants\.noMemEmbed" is required/],
      [{ settings: { maxObjPtrs: 'many' } }, /"settings\.maxObjPtrs" must be a number/],
      [{ settings: { maxConditioningFrames: 1 } }, /"settings\.maxConditioningFrames" must be a whole number: 2 or more/],
      [{ inputSize: 100 }, /"inputSize" must be a positive multiple of 16/],
      [{ format: 'sam' }, /"format" must be "sam2"/],
    ];
    for (const [over, pattern] of bad) rejects(() => parseSam2Manifest({ ...manifest, ...over }, 'm.json'), pattern, 'INVALID_MODEL');
  });

  it('reads .npy constants (float32 and float64) and refuses what it cannot read', () => {
    const a = parseNpy(encodeNpy(Float32Array.of(1.5, -2, 3), [3]), 'a.npy');
    assert.deepEqual(a.shape, [3]);
    assert.deepEqual(Array.from(a.data), [1.5, -2, 3]);
    const f64 = encodeNpy(Float32Array.of(0), [1]);
    assert.throws(() => parseNpy(f64.subarray(0, 8), 'x.npy'), /x\.npy/);
    assert.throws(() => parseNpy(new TextEncoder().encode('not numpy at all'), 'y.npy'), /y\.npy: not a \.npy file/);
  });

  it('refuses graphs that do not fit the manifest, naming the graph, the tensor and the problem', async () => {
    const variant = (name: string, o: Parameters<typeof writeSam2Model>[1], over: Record<string, unknown> = {}) => writeSam2Model(path.join(tmp, name), o, over);
    await rejects(loadSam2Model(variant('size', { imageSide: 96 })), /image encoder input "image" is \[1,3,96,96\] but the manifest's inputSize is 128/, 'INVALID_MODEL');
    await rejects(loadSam2Model(variant('renamed', { pixFeatName: 'features' })), /the imageEncoder graph has no output "pix_feat".*its outputs: "features"/, 'INVALID_MODEL');
    await rejects(
      loadSam2Model(variant('unmapped', {}, { tensors: { maskDecoder: { maskInput: null, hasMaskInput: null } } })),
      /input "mask_input" of the maskDecoder graph is not mapped to a role/,
      'INVALID_MODEL',
    );
    const missing = variant('missing', {});
    fs.rmSync(path.join(missing, 'no_obj_ptr.npy'));
    await rejects(loadSam2Model(missing), /the constant noObjPtr named in keyslice-model\.json is missing/, 'FILE_NOT_FOUND');
    const short = variant('short', {});
    fs.writeFileSync(path.join(short, 'no_mem_embed.npy'), encodeNpy(new Float32Array(3), [3]));
    await rejects(loadSam2Model(short), /constants\.noMemEmbed holds 3 values; the features have 8 channels/, 'INVALID_MODEL');
    const notNpy = variant('notnpy', {});
    fs.writeFileSync(path.join(notNpy, 'no_obj_ptr.npy'), 'text');
    await rejects(loadSam2Model(notNpy), /constant noObjPtr: no_obj_ptr\.npy: not a \.npy file/, 'INVALID_MODEL');
    await rejects(resolveEngine('medsam2'), /engine medsam2 needs --model DIR/, 'USAGE');
  });
});

describe('medsam2 engine on generated graphs', () => {
  const blob = makeBlob({ nx: 48, ny: 48, nz: 20, noise: 4 });
  const sg = new SliceGeometry(blob.image, 2);
  const maskKey = (index: number): KeySlice => ({ index, empty: false, mask: sg.maskOf(blob.truth, index, 1) as Uint8Array, points: [], negativePoints: [] });
  const single = { skipPredictability: 2, duplicateSsim: 2 };
  const dirContract = writeSam2Model(path.join(tmp, 'e2e'));
  const run = async (keys: KeySlice[], stopRules = single) => {
    const model = await loadSam2Model(dirContract);
    const traces: Medsam2Trace[] = [];
    const r = await segment(blob.image, { axis: 2, labels: [{ value: 1, keySlices: keys }] }, { engine: medsam2Engine(model, { trace: (e) => traces.push(e) }), stopRules });
    return { ...r, traces, at: (slice: number, key?: number) => traces.find((t) => t.slice === slice && (key === undefined || t.pass?.key === key)) as Medsam2Trace };
  };

  it('follows the object from a drawn key mask and ends it where the object score says it is absent', async () => {
    const { labels, report, traces } = await run([maskKey(9)]);
    const d = dice(Uint8Array.from(labels.data, (x) => (x === 1 ? 1 : 0)), blob.truth);
    assert.ok(d > 0.7, `Dice ${d.toFixed(3)}`); // the toy encoder sees 16-pixel blocks
    const l = report.labels[0];
    assert.deepEqual(l.extent, [4, 15]);
    for (const f of l.fronts) {
      assert.equal(f.stop, 'object-ended');
      assert.match(f.detail ?? '', /object score -\d+\.\d+ <= 0: absent/);
    }
    const key = traces.find((t) => t.kind === 'key-mask') as Medsam2Trace;
    assert.equal(key.slice, 9);
    assert.equal(key.maskForMem, 'sigmoid', 'a drawn mask is memorised from its logits, not binarised');
    assert.equal(key.objectScore, 10, 'object score of a drawn mask: 20 x 1 - 10');
    assert.equal(Math.floor(key.pointer[0] / 100), 1, 'its pointer is the single-mask token');
    assert.equal(key.maskPrompt, 'mask-input');
    assert.equal(report.engineStats?.memoryAttentionCalls, traces.filter((t) => t.kind === 'track').length);
  });

  it('passes exactly the memories, temporal encodings and pointers SAM2 would, and gates on the object score', async () => {
    const { traces, at } = await run([maskKey(9)]);
    const stored = new Map<number, Float32Array>(traces.map((t) => [t.slice, t.pointer]));
    // Going up from 9 one slice at a time; the object is gone on slice 16.
    const t16 = at(16);
    assert.deepEqual(t16.memories?.map((m) => `${m.slice}/${m.tposIndex}`), ['9/6', '10/5', '11/4', '12/3', '13/2', '14/1', '15/0']);
    assert.deepEqual(t16.pointers?.map((p) => `${p.slice}@${p.position}`), ['9@7', '15@1', '14@2', '13@3', '12@4', '11@5', '10@6']);
    // Each memory's positional encoding is the memory encoder's plus its row of the temporal table.
    t16.memories?.forEach((m, i) => {
      const pos = t16.memoryPos?.[i] as Float32Array;
      assert.equal(pos.length, HW * M);
      for (let tok = 0; tok < HW; tok++) {
        for (let ch = 0; ch < M; ch++) {
          assert.equal(pos[tok * M + ch], Math.fround(MEM_POS[ch * HW + tok] + TPOS[m.tposIndex * M + ch]), `memory ${m.slice} token ${tok}`);
        }
      }
    });
    // The pointers are those stored on their slices; their encodings, sines of position / 15 projected to M.
    t16.pointers?.forEach((p, i) => assert.deepEqual(Array.from(t16.pointerValues?.[i] ?? []), Array.from(stored.get(p.slice) ?? []), `pointer of slice ${p.slice}`));
    const sines = sinePositionEncoding((t16.pointers ?? []).map((p) => p.position / 15), C);
    (t16.pointers ?? []).forEach((_, n) => {
      for (let o = 0; o < M; o++) {
        let s = PROJ_B[o];
        for (let c = 0; c < C; c++) s += PROJ_W[o * C + c] * sines[n * C + c];
        assert.ok(Math.abs((t16.pointerPos?.[n * M + o] ?? NaN) - s) < 1e-5, `pointer ${n} encoding ${o}`);
      }
    });
    // Tracked slices compare the decoder's candidates: the best predicted IoU is candidate 2, token 3's pointer.
    const t12 = at(12);
    assert.equal(t12.multimask, true);
    assert.equal(t12.chosen, 2);
    assert.equal(Math.floor(t12.pointer[0] / 100), 3);
    assert.equal(t12.maskForMem, 'sigmoid');
    // Slice 16: the object score is <= 0, the pointer stored is no_obj_ptr and nothing is segmented.
    assert.equal(t16.present, false);
    assert.ok(t16.objectScore <= 0);
    assert.deepEqual(Array.from(t16.pointer), Array.from(NO_OBJ_PTR));
    assert.ok(at(15).present && at(15).objectScore > 0);
  });

  it('restarts at every key slice: each front is its own pass; key slices ahead give memories but no pointers', async () => {
    const { at } = await run([maskKey(6), maskKey(13)]);
    const view = (t: Medsam2Trace) => ({ m: t.memories?.map((m) => `${m.slice}/${m.tposIndex}`), p: t.pointers?.map((p) => `${p.slice}@${p.position}`) });
    assert.deepEqual(view(at(7, 6)), { m: ['6/6', '13/6'], p: ['6@1'] }, 'first slice of the pass up from 6');
    assert.deepEqual(view(at(8, 6)), { m: ['6/6', '13/6', '7/0'], p: ['6@2', '7@1'] });
    assert.deepEqual(view(at(12, 13)), { m: ['6/6', '13/6'], p: ['13@1'] }, 'first slice of the pass down from 13');
    assert.deepEqual(view(at(11, 13)), { m: ['6/6', '13/6', '12/0'], p: ['13@2', '12@1'] }, 'nothing from the other pass');
    assert.deepEqual(view(at(5, 6)), { m: ['6/6', '13/6'], p: ['6@1', '13@8'] }, 'outward from 6: both key slices lie behind');
    assert.deepEqual(view(at(14, 13)), { m: ['6/6', '13/6'], p: ['6@8', '13@1'] }, 'outward from 13: both key slices lie behind');
  });

  it('decodes a box (one mask, binarised memory) and a click (the best of several candidates)', async () => {
    const box = sg.maskOf(blob.truth, 9, 1) as Uint8Array;
    let i0 = 99;
    let j0 = 99;
    let i1 = -1;
    let j1 = -1;
    for (let j = 0; j < 48; j++) for (let i = 0; i < 48; i++) if (box[i + 48 * j]) [i0, j0, i1, j1] = [Math.min(i0, i), Math.min(j0, j), Math.max(i1, i), Math.max(j1, j)];
    const b = await run([{ index: 9, empty: false, box: [i0, j0, i1, j1], points: [], negativePoints: [] }]);
    const kb = b.at(9);
    assert.equal(kb.kind, 'key-prompt');
    assert.deepEqual([kb.multimask, kb.chosen, kb.maskForMem], [false, 0, 'binarised']);
    assert.deepEqual(b.report.labels[0].extent, [4, 15]);
    const p = await run([{ index: 9, empty: false, points: [[24, 24]], negativePoints: [] }]);
    const kp = p.at(9);
    assert.deepEqual([kp.multimask, kp.chosen, Math.floor(kp.pointer[0] / 100)], [true, 2, 3]);
  });

  it('skips redundant slices like any engine: the pass has a gap and the bank says so', async () => {
    const { traces, report } = await run([maskKey(9)], { skipPredictability: 0, skipAgreement: 0, duplicateSsim: 2 } as typeof single);
    const l = report.labels[0];
    assert.ok(l.skippedSlices > 0, 'some slices were interpolated');
    const tracked = new Set(traces.filter((t) => t.kind === 'track').map((t) => t.slice));
    for (const s of l.slices.filter((x) => x.skipped)) assert.ok(!tracked.has(s.slice), `skipped slice ${s.slice} never tracked`);
    for (const t of traces.filter((x) => x.kind === 'track')) for (const m of t.memories ?? []) assert.ok(m.conditioning || tracked.has(m.slice), `memory of slice ${m.slice} exists`);
  });

  it('feeds a drawn mask to the decoder as mask_downsample(mask): the pointer moves by the mask input\'s mean', async () => {
    const model = await loadSam2Model(dirContract);
    const f = await model.encodeImage(new Float32Array(3 * S * S).fill(0.3));
    const maskS = new Float32Array(S * S);
    for (let y = 0; y < S / 2; y++) for (let x = 0; x < S; x++) maskS[x + S * y] = 1;
    const down = await model.maskDownsample(maskS);
    assert.equal(down.length, (S / 4) ** 2);
    assert.ok(Math.abs(down[0] - 1) < 1e-6 && Math.abs(down[down.length - 1]) < 1e-6, 'a 4 x 4 mean (weights 1/16, bias 0)');
    const plain = await model.decode(f.pixFeat, f, { points: [] });
    const masked = await model.decode(f.pixFeat, f, { points: [], maskInput: down });
    const mean = down.reduce((a, b) => a + b, 0) / down.length;
    for (let c = 0; c < C; c++) assert.ok(Math.abs(masked.pointers[0][c] - plain.pointers[0][c] - mean) < 1e-4, `pointer channel ${c}`);
  });

  it('runs graphs of another export layout: frame memories, whole pointers with encodings in memory_pos, no object score', async () => {
    const dir = writeSam2Model(path.join(tmp, 'frames'), { variant: 'frames' });
    const model = await loadSam2Model(dir);
    const input = new Float32Array(3 * S * S).fill(0.8);
    const f = await model.encodeImage(input);
    const mem = await model.encodeMemory(f.pixFeat, new Float32Array(S * S).fill(10), 1);
    assert.deepEqual(Array.from(model.temporalEncoding(6)), Array.from(TPOS.slice(6 * M, 7 * M)), 'temporal table from the memory encoder');
    const out = await model.attend(f, [mem, mem], [NO_OBJ_PTR, NO_OBJ_PTR, NO_OBJ_PTR], new Float32Array(3 * M));
    const at = (ch: number) => out.data[ch * HW];
    assert.ok(Math.abs(at(0) - 0.8) < 1e-5, 'the current feature arrives as given (no_mem_embed added, then removed)');
    assert.equal(at(1), 2 * HW + 3 * (C / M), 'memory_pos holds both memories and the pointers\' tokens');
    assert.equal(at(2), 3, 'three whole pointers');
    assert.equal(at(3), 2, 'two memory frames');
    const traces: Medsam2Trace[] = [];
    const r = await segment(blob.image, { axis: 2, labels: [{ value: 1, keySlices: [maskKey(9)] }] }, { engine: medsam2Engine(model, { trace: (e) => traces.push(e) }), stopRules: single });
    const l = r.report.labels[0];
    assert.ok(l.extent && Math.abs(l.extent[0] - 4) <= 1 && Math.abs(l.extent[1] - 15) <= 1, `extent ${l.extent}`);
    const km = traces.find((t) => t.kind === 'key-mask');
    assert.equal(km?.maskPrompt, 'box', 'without mask_input the key mask prompts with its box');
    assert.equal(km?.candidates, 1);
  });
});

describe('keyslice segment --engine medsam2', () => {
  it('runs from the command line on a model directory, and takes a sam2 model as medsam2 by default', async () => {
    const dir = writeSam2Model(path.join(tmp, 'cli-model'));
    const blob = makeBlob({ nx: 48, ny: 48, nz: 20, noise: 4 });
    const sg = new SliceGeometry(blob.image, 2);
    const sparse = new Uint8Array(blob.truth.length);
    sg.insert(sparse, 9, sg.maskOf(blob.truth, 9, 1) as Uint8Array);
    await writeVolume(blob.image, path.join(tmp, 'img.nii.gz'));
    await writeVolume(withGeometry(blob.image, sparse), path.join(tmp, 'keys.nii.gz'));
    const cli = (...extra: string[]) =>
      spawnSync(process.execPath, [CLI, 'segment', '--image', path.join(tmp, 'img.nii.gz'), '--annotations', path.join(tmp, 'keys.nii.gz'), '--key-slices', '9', ...extra], { encoding: 'utf8' });
    const r = cli('--model', dir, '--out', path.join(tmp, 'seg.nii.gz'), '--report', path.join(tmp, 'r.json'));
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(fs.readFileSync(path.join(tmp, 'r.json'), 'utf8'));
    assert.equal(report.engine, 'medsam2');
    assert.ok(report.engineStats.memoryAttentionCalls > 0);
    const noModel = cli('--engine', 'medsam2', '--out', path.join(tmp, 'seg2.nii.gz'));
    assert.equal(noModel.status, 2);
    assert.match(noModel.stderr, /engine medsam2 needs --model DIR/);
    const wrong = cli('--engine', 'sam', '--model', dir, '--out', path.join(tmp, 'seg3.nii.gz'));
    assert.equal(wrong.status, 3);
    assert.match(wrong.stderr, /this one is "sam2" \(use --engine medsam2\)/);
  });
});
