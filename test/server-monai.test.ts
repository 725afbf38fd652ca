import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RunningServer } from '../src/server/server.js';
import { readLabelVolume, writeVolume } from '../src/volume/io-node.js';
import { SliceGeometry, withGeometry } from '../src/volume/volume.js';
import { clickKeySlices } from '../src/server/monai-clicks.js';
import { RemoteSession } from '../src/session/remote.js';
import { writeCtSeries } from './helpers/dicom.js';
import { tempDir } from './helpers/paths.js';
import { api, phantomUpload, testServer, type PhantomUpload } from './helpers/server.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A form as MONAI Label's client sends it. */
function form(fields: Record<string, string>, files: [string, Uint8Array, string][]): FormData {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) f.append(k, v);
  for (const [field, bytes, name] of files) f.append(field, new Blob([bytes]), name);
  return f;
}

describe('server: MONAI Label-compatible subset', () => {
  let tmp: { dir: string; cleanup: () => void };
  let srv: RunningServer;
  let up: PhantomUpload;
  let sparse: Uint8Array;

  before(async () => {
    tmp = tempDir();
    up = await phantomUpload(tmp.dir);
    srv = await testServer(path.join(tmp.dir, 'data'));
    // Sparse key slices: label 2 drawn on slice 6 only.
    const sg = new SliceGeometry(up.phantom.image, 2);
    const vol = withGeometry(up.phantom.image, new Uint8Array(up.phantom.truth.data.length));
    sg.insert(vol.data, 6, up.keyMask(6, 2).map((x) => x * 2));
    const f = path.join(tmp.dir, 'sparse.nii.gz');
    await writeVolume(vol, f);
    sparse = new Uint8Array(readFileSync(f));
  });
  after(async () => {
    await srv.close();
    tmp.cleanup();
  });

  const box = (w: number, l = 1) => {
    const m = up.keyMask(w, l);
    let u0 = 64, v0 = 64, u1 = -1, v1 = -1; // prettier-ignore
    for (let v = 0; v < 64; v++) for (let u = 0; u < 64; u++) if (m[u + 64 * v]) [u0, v0, u1, v1] = [Math.min(u0, u), Math.min(v0, v), Math.max(u1, u), Math.max(v1, v)];
    return [u0, v0, u1, v1];
  };

  it('GET /info/ lists the engines as models and suggest as a strategy', async () => {
    const r = await api(`${srv.url}/info/`, 'GET');
    assert.equal(r.status, 200);
    assert.equal(r.json.name, 'keyslice');
    assert.ok(r.json.models.classic);
    assert.equal(r.json.models.classic.dimension, 3);
    assert.equal(r.json.models.classic.type, 'deepgrow', 'a type for which MONAI Label clients offer click tools');
    assert.ok(r.json.strategies.suggest);
    for (const k of ['labels', 'trainers', 'scoring', 'train_stats', 'datastore']) assert.ok(k in r.json, k);
  });

  it('PUT/GET/DELETE /session/, infer with prompts and a sparse label, active learning, as MONAI Label clients call them', async () => {
    const put = await api(`${srv.url}/session/?expiry=600`, 'PUT', 'alice-token', form({ client_id: 'slicer' }, [['files', up.bytes, 'ct.nii.gz']]));
    assert.equal(put.status, 200, put.text);
    const sid = put.json.session_id;
    assert.match(sid, /^[0-9a-f]{32}$/);
    assert.equal(put.json.session_info.name, sid);
    assert.deepEqual(put.json.session_info.meta.count, 12);
    for (const k of ['create_ts', 'last_access_ts', 'expiry']) assert.equal(typeof put.json.session_info[k], 'number');

    const get = await api(`${srv.url}/session/${sid}`, 'GET', 'alice-token');
    assert.equal(get.status, 200);
    assert.equal(get.json.name, sid);
    assert.equal((await api(`${srv.url}/session/${sid}`, 'GET', 'bob-token')).status, 403);
    assert.equal((await api(`${srv.url}/session/${sid}`, 'GET')).status, 401);
    const img = await fetch(`${srv.url}/session/${sid}?image=true`, { headers: { authorization: 'Bearer alice-token' } });
    assert.deepEqual(new Uint8Array(await img.arrayBuffer()), up.bytes);

    const prompts = { version: 1, labels: [{ value: 1, name: 'organ', keySlices: [{ slice: 3, box: box(3) }, { slice: 8, box: box(8) }] }] };
    const res = await fetch(`${srv.url}/infer/classic?image=&session_id=${sid}`, {
      method: 'POST',
      headers: { authorization: 'Bearer alice-token' },
      body: form({ params: JSON.stringify({ ...prompts, client_id: 'slicer' }) }, [['label', sparse, 'label.nii.gz']]),
    });
    assert.equal(res.status, 200, res.status === 200 ? '' : await res.text());
    assert.match(res.headers.get('content-type')!, /^multipart\/form-data; boundary=/);
    const reply = await new Response(await res.arrayBuffer(), { headers: { 'content-type': res.headers.get('content-type')! } }).formData();
    const params = JSON.parse(String(reply.get('params')));
    assert.deepEqual(params.label_names, { organ: 1, 'label 2': 2 });
    assert.equal(params.key_slices_set, 3);
    const image = reply.get('image') as File;
    assert.equal(image.name, 'labels.nii.gz');
    const out = path.join(tmp.dir, 'infer.nii.gz');
    writeFileSync(out, new Uint8Array(await image.arrayBuffer()));
    const labels = await readLabelVolume(out);
    assert.deepEqual(labels.size, [64, 64, 12]);
    labels.origin.forEach((x, i) => assert.ok(Math.abs(x - up.phantom.image.origin[i]) < 1e-4));
    const sg = new SliceGeometry(labels, 2);
    assert.ok((sg.maskOf(labels.data, 6, 2) ?? []).some((x) => x), 'label 2 on its key slice');
    assert.ok(labels.data.some((x) => x === 1), 'label 1 propagated');

    const json = await fetch(`${srv.url}/infer/classic?session_id=${sid}&output=json`, { method: 'POST', headers: { authorization: 'Bearer alice-token' }, body: form({ params: '{}' }, []) });
    assert.equal(json.status, 200);
    assert.deepEqual(((await json.json()) as Json).label_names, { organ: 1, 'label 2': 2 });
    const file = await fetch(`${srv.url}/infer/classic?session_id=${sid}&output=image`, { method: 'POST', headers: { authorization: 'Bearer alice-token' }, body: form({}, []) });
    assert.equal(file.status, 200);
    assert.equal(file.headers.get('content-type'), 'application/gzip');

    const mismatch = await fetch(`${srv.url}/infer/interp?session_id=${sid}`, { method: 'POST', headers: { authorization: 'Bearer alice-token' }, body: form({}, []) });
    assert.equal(mismatch.status, 400);
    assert.equal(((await mismatch.json()) as Json).error.code, 'ENGINE_MISMATCH');
    const badParams = await fetch(`${srv.url}/infer/classic?session_id=${sid}`, { method: 'POST', headers: { authorization: 'Bearer alice-token' }, body: form({ params: '{"labels": 3' }, []) });
    assert.equal(badParams.status, 400);
    assert.equal(((await badParams.json()) as Json).error.code, 'INVALID_JSON');
    const badPrompts = await fetch(`${srv.url}/infer/classic?session_id=${sid}`, { method: 'POST', headers: { authorization: 'Bearer alice-token' }, body: form({ params: '{"version": 1, "labels": [{"value": 1, "keySlices": [{"slice": 50, "box": [1,1,2,2]}]}]}' }, []) });
    assert.equal(badPrompts.status, 400);
    assert.equal(((await badPrompts.json()) as Json).error.code, 'INVALID_PROMPTS');

    const al = await api(`${srv.url}/activelearning/suggest`, 'POST', 'alice-token', { session_id: sid, client_id: 'slicer' });
    assert.equal(al.status, 200, al.text);
    assert.equal(al.json.id, sid);
    assert.ok(Array.isArray(al.json.suggestions));
    if (al.json.slice !== undefined) assert.ok(al.json.slice >= 0 && al.json.slice < 12);
    assert.equal((await api(`${srv.url}/activelearning/random`, 'POST', 'alice-token', { session_id: sid })).json.error.code, 'UNKNOWN_STRATEGY');
    assert.equal((await api(`${srv.url}/activelearning/suggest`, 'POST', 'alice-token', {})).json.error.code, 'MISSING_SESSION');

    const del = await api(`${srv.url}/session/${sid}`, 'DELETE', 'alice-token');
    assert.equal(del.status, 200);
    assert.equal(del.json.name, sid);
    assert.equal((await api(`${srv.url}/session/${sid}`, 'GET', 'alice-token')).status, 404);
  });

  it('infers on an uploaded file without a session, and opens a session from the files of a DICOM series', async () => {
    const prompts = { version: 1, labels: [{ value: 1, keySlices: [{ slice: 5, box: box(5) }] }] };
    const res = await fetch(`${srv.url}/infer/classic?output=json`, { method: 'POST', body: form({ params: JSON.stringify(prompts) }, [['file', up.bytes, 'ct.nii.gz']]) });
    assert.equal(res.status, 200);
    const body = (await res.json()) as Json;
    assert.ok(body.slices_updated > 0);
    assert.equal((await api(`${srv.url}/health`, 'GET')).json.sessions, 0);

    const dir = path.join(tmp.dir, 'series');
    mkdirSync(dir);
    writeCtSeries(dir, { nx: 20, ny: 16, nz: 5, spacing: [0.8, 0.8, 2.5], origin: [0, 0, 0], value: (x, y, z) => 1000 + x + y + z });
    const files = readdirSync(dir).map((f): [string, Uint8Array, string] => ['files', readFileSync(path.join(dir, f)), f]);
    const put = await api(`${srv.url}/session/`, 'PUT', undefined, form({}, files));
    assert.equal(put.status, 200, put.text);
    assert.deepEqual([put.json.session_info.meta.count, put.json.session_info.meta.nu, put.json.session_info.meta.nv], [5, 20, 16]);
    const none = await api(`${srv.url}/session/`, 'PUT', undefined, form({}, []));
    assert.equal(none.json.error.code, 'MISSING_IMAGE');
  });
});

describe('MONAI click prompts', () => {
  it('map [x, y, z] voxel clicks to key slices along the slice axis, with in-plane points in axis order', () => {
    const size = [30, 20, 10] as const;
    const params = { foreground: [[5, 7, 3], [6.4, 8.6, 3], [12, 2, 8]], background: [[1, 1, 3], [2, 2, 9]] };
    const z = clickKeySlices(params, { axis: 2, size }, () => 9)!;
    assert.deepEqual(z.keySlices, [
      { value: 1, slice: 3, points: [[5, 7], [6, 9]], negativePoints: [[1, 1]] },
      { value: 1, slice: 8, points: [[12, 2]], negativePoints: [] },
    ]);
    assert.match(z.notes.join(), /background clicks on slice\(s\) 9 hold no foreground click/);
    const x = clickKeySlices({ foreground: [[5, 7, 3]] }, { axis: 0, size }, () => 9)!;
    assert.deepEqual(x.keySlices, [{ value: 1, slice: 5, points: [[7, 3]], negativePoints: [] }]);
    const y = clickKeySlices({ foreground: [[5, 7, 3]], label: 'liver' }, { axis: 1, size }, () => 4)!;
    assert.deepEqual(y.keySlices, [{ value: 4, name: 'liver', slice: 7, points: [[5, 3]], negativePoints: [] }]);
    // DeepEdit: one click list per label name; another label's clicks are negative on the same slice
    const names = new Map([['spleen', 1], ['kidney', 2]]);
    const d = clickKeySlices({ spleen: [[4, 4, 2]], kidney: [[20, 10, 2]], background: [], client_id: 'x' }, { axis: 2, size }, (n) => names.get(n)!)!;
    assert.deepEqual(d.keySlices, [
      { value: 1, name: 'spleen', slice: 2, points: [[4, 4]], negativePoints: [[20, 10]] },
      { value: 2, name: 'kidney', slice: 2, points: [[20, 10]], negativePoints: [[4, 4]] },
    ]);
    assert.equal(clickKeySlices({ client_id: 'x' }, { axis: 2, size }, () => 1), null);
    assert.throws(() => clickKeySlices({ foreground: [[30, 1, 1]] }, { axis: 2, size }, () => 1), /foreground\[0\] \[30, 1, 1\] lies outside the image \(size 30 x 20 x 10\)/);
    assert.throws(() => clickKeySlices({ foreground: [[1, 1]] }, { axis: 2, size }, () => 1), /must be \[x, y, z\]/);
  });

  it('segment from DeepGrow and DeepEdit clicks over HTTP on a non-square image', async () => {
    const tmp = tempDir();
    const up = await phantomUpload(tmp.dir, [64, 48, 12]);
    const srv = await testServer(path.join(tmp.dir, 'data'), { workers: 1 });
    try {
      const { truth } = up.phantom;
      const [nx, ny] = [64, 48];
      const at = (x: number, y: number, z: number) => truth.data[x + nx * (y + ny * z)];
      /** A voxel of `label` on slice z far inside it (the centroid of the slice's voxels, moved onto the object). */
      const inside = (label: number, z: number): number[] => {
        let sx = 0, sy = 0, n = 0; // prettier-ignore
        for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++) if (at(x, y, z) === label) [sx, sy, n] = [sx + x, sy + y, n + 1];
        assert.ok(n > 0, `label ${label} on slice ${z}`);
        const [cx, cy] = [Math.round(sx / n), Math.round(sy / n)];
        assert.equal(at(cx, cy, z), label, 'the centroid lies on the object');
        return [cx, cy, z];
      };
      const put = await api(`${srv.url}/session/`, 'PUT', 'tok', form({}, [['files', up.bytes, 'ct.nii.gz']]));
      const sid = put.json.session_id;
      const fg = [inside(1, 3), inside(1, 8)];
      const bg = [[2, 2, 3]];
      assert.equal(at(2, 2, 3), 0);
      const infer = (params: unknown) =>
        fetch(`${srv.url}/infer/classic?session_id=${sid}&output=json`, { method: 'POST', headers: { authorization: 'Bearer tok' }, body: form({ params: JSON.stringify(params) }, []) });
      const r = await infer({ foreground: fg, background: bg, label: 'organ' });
      assert.equal(r.status, 200, await r.clone().text());
      const j = (await r.json()) as Json;
      assert.equal(j.key_slices_set, 2);
      assert.deepEqual(j.label_names, { organ: 1 });
      const s = await RemoteSession.attach(srv.url, sid, 'tok');
      assert.deepEqual(await s.keySlices(1), [{ slice: 3, kind: 'prompt' }, { slice: 8, kind: 'prompt' }]);
      const labels = await s.labels();
      for (const p of fg) assert.equal(labels.data[p[0] + nx * (p[1] + ny * p[2])], 1, `clicked voxel ${p} is labelled`);
      assert.equal(labels.data[2 + nx * (2 + ny * 3)], 0, 'the background click is not');
      // the same clicks as points through the session API give the same labels, voxel for voxel
      const native = await RemoteSession.open(srv.url, up.bytes, { engine: 'classic' });
      assert.equal(native.axis, 2);
      await native.setKeySlice(1, 3, { points: [[fg[0][0], fg[0][1]]], negativePoints: [[2, 2]] });
      await native.setKeySlice(1, 8, { points: [[fg[1][0], fg[1][1]]] });
      for await (const _ of native.propagate()) void _;
      assert.deepEqual((await native.labels()).data, labels.data);
      await native.close();
      // DeepEdit: clicks per label name; "organ" is the session's label 1, "lesion" a new one
      const d = await infer({ organ: [inside(1, 5)], lesion: [inside(2, 6)], background: [] });
      assert.equal(d.status, 200, await d.clone().text());
      assert.deepEqual(((await d.json()) as Json).label_names, { organ: 1, lesion: 2 });
      assert.deepEqual((await s.keySlices(2)).map((k) => k.slice), [6]);
      // DeepGrow on that second label: its clients read the reply's image as the clicked label alone, 0/1
      const g = await fetch(`${srv.url}/infer/classic?session_id=${sid}&output=image`, {
        method: 'POST',
        headers: { authorization: 'Bearer tok' },
        body: form({ params: JSON.stringify({ foreground: [inside(2, 6)], background: [], label: 'lesion' }) }, []),
      });
      assert.equal(g.status, 200);
      const file = path.join(tmp.dir, 'deepgrow.nii.gz');
      writeFileSync(file, new Uint8Array(await g.arrayBuffer()));
      const binary = await readLabelVolume(file);
      const all = await s.labels();
      let lesion = 0;
      for (let i = 0; i < all.data.length; i++) {
        assert.equal(binary.data[i], all.data[i] === 2 ? 1 : 0, `voxel ${i}`);
        lesion += all.data[i] === 2 ? 1 : 0;
      }
      assert.ok(lesion > 0, 'the lesion label holds voxels');
      const bad = await infer({ foreground: [[64, 1, 1]] });
      assert.equal(bad.status, 400);
      assert.equal(((await bad.json()) as Json).error.code, 'INVALID_PROMPTS');
    } finally {
      await srv.close();
      tmp.cleanup();
    }
  });
});
