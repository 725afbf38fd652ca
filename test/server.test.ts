import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { zipSync } from 'fflate';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import type { RunningServer } from '../src/server/server.js';
import { startServer } from '../src/server/server.js';
import { decodeRle, encodeRle, maskBox } from '../src/session/rle.js';
import { readLabelVolume } from '../src/volume/io-node.js';
import { parseSegNrrd } from '../src/volume/seg-nrrd-node.js';
import { labelInfos } from '../src/labels/label-table.js';
import { RemoteSession } from '../src/session/remote.js';
import { warmUpEngine } from '../src/server/warm-up.js';
import { writeCtSeries } from './helpers/dicom.js';
import { checkSeg } from './helpers/dicom-seg.js';
import { tempDir } from './helpers/paths.js';
import { api, phantomUpload, testServer, type PhantomUpload } from './helpers/server.js';

function noLeak(text: string, dataDir: string): void {
  assert.ok(!/\n\s+at /.test(text), `stack trace in reply: ${text}`);
  assert.ok(!text.includes(dataDir), `internal path in reply: ${text}`);
}

function ndjson(text: string): any[] { // eslint-disable-line @typescript-eslint/no-explicit-any
  return text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
}

describe('rle', () => {
  it('round-trips masks whole and cut to their box', () => {
    const nu = 7;
    const nv = 5;
    const m = new Uint8Array(nu * nv);
    for (const i of [8, 9, 10, 16, 17, 24, 33]) m[i] = 1;
    assert.deepEqual(decodeRle(encodeRle(m, nu, nv), nu, nv), m);
    const box = maskBox(m, nu, nv);
    assert.deepEqual(box, [1, 1, 5, 4]);
    assert.deepEqual(decodeRle(encodeRle(m, nu, nv, box), nu, nv, box), m);
    assert.deepEqual(encodeRle(new Uint8Array(4), 2, 2), [4]);
    assert.deepEqual(encodeRle(Uint8Array.from([1, 1, 0, 1]), 2, 2), [0, 2, 1, 1]);
    assert.throws(() => decodeRle([3], 2, 2), /covers 3 pixels/);
    assert.throws(() => decodeRle([1, -1, 4], 2, 2), /not a run length/);
    assert.throws(() => decodeRle([4], 2, 2, [0, 0, 2, 1]), /not inside/);
  });
});

describe('session worker warm-up', () => {
  it('propagates a generated phantom from one key slice through the session code a worker runs', async () => {
    const r = await warmUpEngine([48, 48, 10]);
    assert.ok(r.slices > 2, `the warm-up propagated ${r.slices} slices`);
    assert.ok(r.ms > 0);
  });
});

describe('server: session API over HTTP', () => {
  let tmp: { dir: string; cleanup: () => void };
  let srv: RunningServer;
  let up: PhantomUpload;
  let dataDir: string;

  before(async () => {
    tmp = tempDir();
    dataDir = path.join(tmp.dir, 'data');
    up = await phantomUpload(tmp.dir);
    srv = await testServer(dataDir, { maxSessions: 3, maxUploadMb: 1 });
  });
  after(async () => {
    await srv.close();
    tmp.cleanup();
  });

  const open = async (body: Uint8Array = up.bytes, query = '') => api(`${srv.url}/sessions${query}`, 'POST', undefined, body);

  it('opens a session, edits key slices of every kind, propagates as NDJSON, undoes and redoes, closes', async () => {
    const o = await open();
    assert.equal(o.status, 201, o.text);
    assert.match(o.json.id, /^[0-9a-f]{32}$/);
    assert.ok(o.json.token.length >= 43);
    assert.deepEqual([o.json.axis, o.json.count, o.json.nu, o.json.nv], [2, 12, 64, 64]);
    const base = `${srv.url}/sessions/${o.json.id}`;
    const t = o.json.token;
    const m4 = up.keyMask(4);
    const r1 = await api(`${base}/labels/1/slices/4`, 'PUT', t, { mask: { rle: encodeRle(m4, 64, 64) }, name: 'organ' });
    assert.equal(r1.status, 200, r1.text);
    assert.equal(r1.json.id, 1);
    const m8 = up.keyMask(8);
    const b8 = maskBox(m8, 64, 64);
    const r2 = await api(`${base}/labels/1/slices/8`, 'PUT', t, { mask: { box: b8, rle: encodeRle(m8, 64, 64, b8) } });
    assert.equal(r2.json.id, 2);
    const r3 = await api(`${base}/labels/1/slices/0`, 'PUT', t, { absent: true });
    assert.equal(r3.json.id, 3);
    const r4 = await api(`${base}/labels/2/slices/6`, 'PUT', t, { box: maskBox(up.keyMask(6, 2), 64, 64), points: [[30, 30]] });
    assert.equal(r4.status, 200, r4.text);
    const state = await api(base, 'GET', t);
    assert.deepEqual(state.json.labels.map((l: { value: number; name?: string }) => [l.value, l.name]), [[1, 'organ'], [2, undefined]]);
    assert.deepEqual(state.json.labels[0].keySlices, [{ slice: 0, kind: 'absent' }, { slice: 4, kind: 'mask' }, { slice: 8, kind: 'mask' }]);
    const keys2 = await api(`${base}/labels/2/slices`, 'GET', t);
    assert.deepEqual(keys2.json, [{ slice: 6, kind: 'prompt' }]);

    const p = await api(`${base}/propagate`, 'POST', t, { labels: [1] });
    assert.equal(p.status, 200, p.text);
    assert.match(p.headers.get('content-type') ?? '', /application\/x-ndjson/);
    const lines = ndjson(p.text);
    const end = lines.at(-1);
    assert.equal(end.type, 'end');
    const slices = lines.filter((l) => l.type === 'slice');
    assert.equal(end.slices, slices.length);
    assert.ok(slices.length > 0);
    for (const l of slices) {
      assert.equal(l.label, 1);
      assert.ok(['key', 'front', 'fused', 'prior', 'none'].includes(l.source));
      assert.equal(typeof l.confidence, 'number');
      if (l.box) assert.equal(l.rle.reduce((a: number, b: number) => a + b, 0), (l.box[2] - l.box[0] + 1) * (l.box[3] - l.box[1] + 1));
    }

    const raw = await fetch(`${base}/labels?format=raw`, { headers: { authorization: `Bearer ${t}` } });
    const geo = JSON.parse(raw.headers.get('x-keyslice-volume')!);
    assert.deepEqual(geo.size, [64, 64, 12]);
    const voxels = new Uint8Array(await raw.arrayBuffer());
    // The last word on each slice (fronts send slices as they reach them, then the label's final result) is
    // that slice of the label volume.
    const last = new Map(slices.map((l) => [l.slice, l]));
    for (const l of last.values()) {
      const mask = l.box ? decodeRle(l.rle, 64, 64, l.box) : new Uint8Array(64 * 64);
      for (let i = 0; i < mask.length; i++) assert.equal(voxels[l.slice * 4096 + i] === 1 ? 1 : 0, mask[i], `slice ${l.slice} pixel ${i}`);
    }
    // The key slice comes back as drawn.
    const k4 = last.get(4);
    assert.deepEqual(decodeRle(k4.rle, 64, 64, k4.box), m4);
    for (const format of ['nii.gz', 'nrrd', 'mha']) {
      const f = await fetch(`${base}/labels?format=${format}`, { headers: { authorization: `Bearer ${t}` } });
      assert.equal(f.status, 200);
      const file = path.join(tmp.dir, `labels.${format}`);
      writeFileSync(file, new Uint8Array(await f.arrayBuffer()));
      const vol = await readLabelVolume(file);
      assert.deepEqual(vol.size, up.phantom.image.size);
      assert.deepEqual(vol.spacing.map((x) => +x.toFixed(4)), up.phantom.image.spacing.map((x) => +x.toFixed(4)));
      assert.deepEqual(Array.from(vol.data), Array.from(voxels));
    }
    // 3D Slicer's segmentation file: one segment per label, on the image's grid.
    const sf = await fetch(`${base}/labels?format=seg.nrrd`, { headers: { authorization: `Bearer ${t}` } });
    assert.equal(sf.status, 200);
    const seg = parseSegNrrd(new Uint8Array(await sf.arrayBuffer()), 'labels.seg.nrrd');
    assert.deepEqual(seg.segments.map((x) => x.value), [1, 2]);
    assert.deepEqual(seg.labels.size, up.phantom.image.size);
    assert.deepEqual(Array.from(seg.labels.data), Array.from(voxels));
    assert.equal((await api(`${base}/labels?format=png`, 'GET', t)).json.error.code, 'UNSUPPORTED_FORMAT');

    const report = await api(`${base}/report`, 'GET', t);
    assert.equal(report.status, 200);
    const sug = await api(`${base}/suggest?budget=2`, 'GET', t);
    assert.equal(sug.status, 200);
    assert.ok(Array.isArray(sug.json));
    assert.equal((await api(`${base}/heartbeat`, 'POST', t)).json.ok, true);

    const u = await api(`${base}/undo`, 'POST', t);
    assert.equal(u.json.revision.id, 3);
    assert.deepEqual((await api(base, 'GET', t)).json.labels.map((l: { value: number }) => l.value), [1]);
    const rd = await api(`${base}/redo`, 'POST', t);
    assert.equal(rd.json.revision.id, 4);
    assert.equal((await api(`${base}/labels/1/slices/0`, 'DELETE', t)).status, 200);
    const c = await api(`${base}/labels/1/slices/5/correct`, 'POST', t, { mask: { rle: encodeRle(up.keyMask(5), 64, 64) } });
    assert.equal(c.status, 200, c.text);
    assert.deepEqual((await api(`${base}/labels/1/slices`, 'GET', t)).json.map((k: { slice: number }) => k.slice), [4, 5, 8]);
    assert.equal((await api(`${base}/labels/2`, 'DELETE', t)).status, 200);
    assert.equal((await api(base, 'DELETE', t)).json.closed, true);
    const gone = await api(base, 'GET', t);
    assert.equal(gone.status, 404);
    assert.equal(gone.json.error.code, 'SESSION_NOT_FOUND');
  });

  it('answers malformed requests 400 with a named error, never a stack trace or an internal path', async () => {
    const o = await open();
    const base = `${srv.url}/sessions/${o.json.id}`;
    const t = o.json.token;
    const cases: [string, string, unknown, string][] = [
      ['PUT', `${base}/labels/1/slices/3`, '{"mask": ', 'INVALID_JSON'],
      ['PUT', `${base}/labels/x/slices/3`, { absent: true }, 'BAD_PARAMETER'],
      ['PUT', `${base}/labels/1/slices/3`, { mask: { rle: [5] } }, 'INVALID_ANNOTATION'],
      ['PUT', `${base}/labels/1/slices/3`, { mask: { rle: [0, 4096, 0], box: [0, 0, 64, 63] } }, 'INVALID_ANNOTATION'],
      ['PUT', `${base}/labels/1/slices/3`, {}, 'INVALID_PROMPTS'],
      ['PUT', `${base}/labels/1/slices/3`, { box: [1, 2, 3] }, 'INVALID_PROMPTS'],
      ['PUT', `${base}/labels/1/slices/99`, { absent: true }, 'INVALID_ANNOTATION'],
      ['PUT', `${base}/labels/1/slices/3`, [1, 2], 'INVALID_JSON'],
      ['POST', `${base}/propagate`, { labels: ['a'] }, 'BAD_PARAMETER'],
      ['GET', `${base}/suggest?budget=-1`, undefined, 'BAD_PARAMETER'],
    ];
    for (const [method, url, body, code] of cases) {
      const r = await api(url, method, t, body);
      assert.equal(r.status, 400, `${method} ${url} ${JSON.stringify(body)}: ${r.text}`);
      assert.equal(r.json.error.code, code, `${method} ${url} ${JSON.stringify(body)}: ${r.text}`);
      assert.equal(r.json.detail, r.json.error.message);
      noLeak(r.text, dataDir);
    }
    // The session is as it was.
    assert.equal((await api(base, 'GET', t)).json.revision.id, 0);
    const uploads: [Uint8Array, string][] = [
      [new TextEncoder().encode('hello, this is not an image'), 'UNSUPPORTED_IMAGE'],
      [new TextEncoder().encode('NRRD0004\ntype: short\ndimension: 3\nsizes: 2 2 2\nencoding: raw\ndata file: /etc/passwd\n\n'), 'UNSUPPORTED_IMAGE'],
      [new TextEncoder().encode('ObjectType = Image\nNDims = 3\nDimSize = 2 2 2\nElementType = MET_SHORT\nElementDataFile = /etc/passwd\n'), 'UNSUPPORTED_IMAGE'],
      [up.bytes.subarray(0, 200), 'UNSUPPORTED_IMAGE'],
    ];
    for (const [bytes, code] of uploads) {
      const r = await open(bytes);
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.error.code, code);
      noLeak(r.text, dataDir);
    }
    const trunc = await open(up.bytes.subarray(0, up.bytes.length - 100));
    assert.equal(trunc.status, 400, trunc.text);
    noLeak(trunc.text, dataDir);
    assert.equal((await open(up.bytes, '?engine=nope')).json.error.code, 'UNKNOWN_ENGINE');
    assert.equal((await open(up.bytes, '?axis=5')).json.error.code, 'BAD_PARAMETER');
    const nf = await api(`${srv.url}/nowhere`, 'GET');
    assert.equal(nf.status, 404);
    assert.equal(nf.json.error.code, 'NOT_FOUND');
    await api(base, 'DELETE', t);
  });

  it('ties a session to its token: another session\'s token fails on its URLs', async () => {
    const a = await open();
    const b = await open();
    const urls: [string, string, unknown?][] = [
      ['GET', ''],
      ['PUT', '/labels/1/slices/3', { absent: true }],
      ['POST', '/propagate', {}],
      ['POST', '/undo'],
      ['GET', '/labels?format=raw'],
      ['GET', '/report'],
      ['GET', '/suggest'],
      ['DELETE', ''],
    ];
    for (const [method, p, body] of urls) {
      const wrong = await api(`${srv.url}/sessions/${a.json.id}${p}`, method, b.json.token, body);
      assert.equal(wrong.status, 403, `${method} ${p}: ${wrong.text}`);
      assert.equal(wrong.json.error.code, 'FORBIDDEN');
      const none = await api(`${srv.url}/sessions/${a.json.id}${p}`, method, undefined, body);
      assert.equal(none.status, 401);
      assert.equal(none.json.error.code, 'UNAUTHORIZED');
    }
    assert.equal((await api(`${srv.url}/sessions/${a.json.id}`, 'GET', a.json.token)).status, 200);
    await api(`${srv.url}/sessions/${a.json.id}`, 'DELETE', a.json.token);
    await api(`${srv.url}/sessions/${b.json.id}`, 'DELETE', b.json.token);
  });

  it('answers 413 past the upload limit and 503 with Retry-After at the session limit', async () => {
    const big = new Uint8Array(1.5 * 2 ** 20);
    big.set(up.bytes);
    const r = await open(big);
    assert.equal(r.status, 413);
    assert.equal(r.json.error.code, 'BODY_TOO_LARGE');
    const open3 = await Promise.all([open(), open(), open()]);
    assert.deepEqual(open3.map((x) => x.status), [201, 201, 201]);
    const full = await open();
    assert.equal(full.status, 503);
    assert.equal(full.json.error.code, 'TOO_MANY_SESSIONS');
    assert.ok(Number(full.headers.get('retry-after')) >= 1);
    for (const s of open3) await api(`${srv.url}/sessions/${s.json.id}`, 'DELETE', s.json.token);
    assert.equal((await open()).status, 201);
  });

  it('opens a zip of one DICOM series', async () => {
    const dir = path.join(tmp.dir, 'series');
    mkdirSync(dir);
    writeCtSeries(dir, { nx: 32, ny: 24, nz: 6, spacing: [0.7, 0.7, 3], origin: [0, 0, 0], value: (x, y, z) => 1024 + x * 3 + y + z * 10 });
    const members: Record<string, Uint8Array> = {};
    for (const f of readdirSync(dir)) members[`study/../../${f}`] = readFileSync(path.join(dir, f));
    const o = await open(zipSync(members));
    assert.equal(o.status, 201, o.text);
    assert.deepEqual([o.json.count, o.json.nu, o.json.nv], [6, 32, 24]);
    await api(`${srv.url}/sessions/${o.json.id}`, 'DELETE', o.json.token);
  });

  it('answers labels as a DICOM SEG referencing the uploaded series, and names why when it cannot', async () => {
    const dir = path.join(tmp.dir, 'seg-series');
    mkdirSync(dir);
    const seriesUid = writeCtSeries(dir, { nx: 32, ny: 24, nz: 6, spacing: [0.7, 0.8, 3], origin: [-10, 5, 20], value: (x, y) => (x > 8 && x < 22 && y > 6 && y < 18 ? 1100 : 1000) });
    const members: Record<string, Uint8Array> = {};
    for (const f of readdirSync(dir)) members[f] = readFileSync(path.join(dir, f));
    const o = await open(zipSync(members));
    assert.equal(o.status, 201, o.text);
    const s = await RemoteSession.attach(srv.url, o.json.id, o.json.token);
    const box = (u0: number, v0: number, u1: number, v1: number) => {
      const m = new Uint8Array(32 * 24);
      for (let v = v0; v <= v1; v++) for (let u = u0; u <= u1; u++) m[u + 32 * v] = 1;
      return m;
    };
    const segUrl = `${srv.url}/sessions/${o.json.id}/labels?format=dcm`;
    const empty = await api(segUrl, 'GET', o.json.token);
    assert.equal(empty.status, 409);
    assert.equal(empty.json.error.code, 'EMPTY_SEGMENTATION');
    await s.setKeySlice({ value: 1, name: 'organ' }, 1, { mask: box(9, 7, 21, 17) });
    await s.setKeySlice(1, 4, { mask: box(10, 8, 20, 16) });
    await s.setKeySlice({ value: 3, name: 'lesion' }, 2, { mask: box(2, 2, 5, 4) });
    for await (const _ of s.propagate()) void _;
    const labels = await s.labels();
    const res = await fetch(segUrl, { headers: { authorization: `Bearer ${o.json.token}` } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/dicom');
    const file = path.join(tmp.dir, 'labels.dcm');
    writeFileSync(file, new Uint8Array(await res.arrayBuffer()));
    // segments are numbered 1..n in label order: label 3 is segment 2
    const asSegments = { ...labels, data: Uint8Array.from(labels.data, (x) => (x === 3 ? 2 : x)) };
    const infos = labelInfos([1, 3], [{ value: 1, name: 'organ' }, { value: 3, name: 'lesion' }]).map((l, i) => ({ ...l, value: i + 1 }));
    await checkSeg(file, asSegments, infos, seriesUid);
    await s.close();
    // a session on a NIfTI image has no series to reference
    const nifti = await open();
    const refused = await api(`${srv.url}/sessions/${nifti.json.id}/labels?format=dcm`, 'GET', nifti.json.token);
    assert.equal(refused.status, 409);
    assert.equal(refused.json.error.code, 'NOT_DICOM');
    assert.match(refused.json.error.message, /not a DICOM series.*nii\.gz/);
    noLeak(refused.text, dataDir);
    await api(`${srv.url}/sessions/${nifti.json.id}`, 'DELETE', nifti.json.token);
  });
});

describe('server: safety settings', () => {
  it('refuses to bind beyond loopback without a token, and asks for the token when it has one', async () => {
    const tmp = tempDir();
    try {
      await assert.rejects(startServer({ host: '0.0.0.0', port: 0, data: tmp.dir }), /--token/);
      const srv = await testServer(path.join(tmp.dir, 'd'), { token: 'a-long-enough-server-token', workers: 1 });
      try {
        const up = await phantomUpload(tmp.dir);
        const none = await api(`${srv.url}/sessions`, 'POST', undefined, up.bytes);
        assert.equal(none.status, 401);
        const wrong = await api(`${srv.url}/sessions`, 'POST', 'not-the-server-token-at-all', up.bytes);
        assert.equal(wrong.status, 403);
        const ok = await api(`${srv.url}/sessions`, 'POST', 'a-long-enough-server-token', up.bytes);
        assert.equal(ok.status, 201);
        assert.equal((await api(`${srv.url}/health`, 'GET')).status, 200);
      } finally {
        await srv.close();
      }
    } finally {
      tmp.cleanup();
    }
  });

  it('expires idle sessions: their URLs answer 410', async () => {
    const tmp = tempDir();
    const srv = await testServer(path.join(tmp.dir, 'd'), { idleMinutes: 0.01, workers: 1 });
    try {
      const up = await phantomUpload(tmp.dir);
      const o = await api(`${srv.url}/sessions`, 'POST', undefined, up.bytes);
      assert.equal(o.status, 201);
      await new Promise((r) => setTimeout(r, 1500));
      const r = await api(`${srv.url}/sessions/${o.json.id}`, 'GET', o.json.token);
      assert.equal(r.status, 410);
      assert.equal(r.json.error.code, 'SESSION_EXPIRED');
      assert.equal((await api(`${srv.url}/health`, 'GET')).json.sessions, 0);
    } finally {
      await srv.close();
      tmp.cleanup();
    }
  });

  it('a worker that dies mid-propagation fails that request by name; the server and other sessions go on', async () => {
    const tmp = tempDir();
    const srv = await testServer(path.join(tmp.dir, 'd'), { crashOnLabel: 99, workers: 2 });
    try {
      const up = await phantomUpload(tmp.dir);
      const a = (await api(`${srv.url}/sessions`, 'POST', undefined, up.bytes)).json;
      const b = (await api(`${srv.url}/sessions`, 'POST', undefined, up.bytes)).json;
      const mask = { mask: { rle: encodeRle(up.keyMask(5), 64, 64) } };
      await api(`${srv.url}/sessions/${a.id}/labels/99/slices/5`, 'PUT', a.token, mask);
      await api(`${srv.url}/sessions/${a.id}/labels/1/slices/5`, 'PUT', a.token, mask);
      await api(`${srv.url}/sessions/${b.id}/labels/1/slices/5`, 'PUT', b.token, mask);
      const p = await api(`${srv.url}/sessions/${a.id}/propagate`, 'POST', a.token, { labels: [99] });
      const last = ndjson(p.text).at(-1) ?? p.json;
      const err = last.type === 'error' ? last.error : last.error;
      assert.equal(err.code, 'WORKER_CRASHED', p.text);
      noLeak(p.text, tmp.dir);
      const h = await api(`${srv.url}/health`, 'GET');
      assert.equal(h.status, 200);
      assert.equal(h.json.workerRestarts, 1);
      // Both sessions go on; the crashed one is back from its journal with its key slices.
      const pa = await api(`${srv.url}/sessions/${a.id}/propagate`, 'POST', a.token, { labels: [1] });
      assert.equal(ndjson(pa.text).at(-1).type, 'end', pa.text);
      assert.deepEqual((await api(`${srv.url}/sessions/${a.id}/labels/99/slices`, 'GET', a.token)).json, [{ slice: 5, kind: 'mask' }]);
      assert.equal((await api(`${srv.url}/sessions/${a.id}`, 'GET', a.token)).json.revision.id, 2);
      const pb = await api(`${srv.url}/sessions/${b.id}/propagate`, 'POST', b.token, {});
      assert.equal(ndjson(pb.text).at(-1).type, 'end', pb.text);
    } finally {
      await srv.close();
      tmp.cleanup();
    }
  });

  it('answers /health while propagations run on every worker', async () => {
    const tmp = tempDir();
    const srv = await testServer(path.join(tmp.dir, 'd'), { workers: 2 });
    try {
      const up = await phantomUpload(tmp.dir, [96, 96, 16]);
      const ss = await Promise.all([0, 1].map(async () => (await api(`${srv.url}/sessions`, 'POST', undefined, up.bytes)).json));
      for (const s of ss) {
        for (const w of [3, 8, 12]) {
          await api(`${srv.url}/sessions/${s.id}/labels/1/slices/${w}`, 'PUT', s.token, { mask: { rle: encodeRle(up.keyMask(w), 96, 96) } });
        }
      }
      let running = true;
      const props = Promise.all(ss.map((s) => api(`${srv.url}/sessions/${s.id}/propagate`, 'POST', s.token, {}))).finally(() => (running = false));
      const times: number[] = [];
      while (running) {
        const t0 = performance.now();
        const h = await api(`${srv.url}/health`, 'GET');
        times.push(performance.now() - t0);
        assert.equal(h.status, 200);
        await new Promise((r) => setTimeout(r, 10));
      }
      const done = await props;
      for (const d of done) assert.equal(ndjson(d.text).at(-1).type, 'end');
      assert.ok(times.length > 0);
    } finally {
      await srv.close();
      tmp.cleanup();
    }
  });
});
