import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { classifyFailure, failureCode } from '../src/batch/classify.js';
import { diceByLabel } from '../src/batch/dice.js';
import { canonicalJson, hashFile, jobId } from '../src/batch/job-id.js';
import { redisConnection, type BatchJobData } from '../src/batch/queue.js';
import { reportCsv, type ReportRow } from '../src/batch/report.js';
import { removeStaleTemps } from '../src/batch/run-study.js';
import { summarize, type BatchJob } from '../src/batch/status.js';
import { studiesFromFolder, studiesFromManifest } from '../src/batch/study.js';
import { studyJob } from '../src/batch/submit.js';
import { KeysliceError } from '../src/util/errors.js';
import { tempDir } from './helpers/paths.js';

const tmp = tempDir('keyslice-batch-units-');
after(tmp.cleanup);
const f = (...p: string[]) => path.join(tmp.dir, ...p);
const code = (c: string) => (err: unknown) => err instanceof KeysliceError && err.code === c;

describe('batch job ids', () => {
  it('canonical JSON ignores key order and undefined values', () => {
    assert.equal(canonicalJson({ b: 1, a: [2, { d: undefined, c: 'x' }] }), canonicalJson({ a: [2, { c: 'x' }], b: 1 }));
    assert.notEqual(canonicalJson({ a: [1, 2] }), canonicalJson({ a: [2, 1] }));
  });

  it('change with every part: input content, engine, options, version', () => {
    const base = { inputs: { image: 'aa' }, engine: 'classic', options: { keySlices: [1, 2] }, version: '1' };
    const id = jobId(base);
    assert.match(id, /^ks-[0-9a-f]{40}$/);
    assert.equal(jobId({ ...base, options: { keySlices: [1, 2] } }), id);
    for (const other of [{ inputs: { image: 'ab' } }, { engine: 'sam' }, { options: { keySlices: [1, 3] } }, { version: '2' }]) {
      assert.notEqual(jobId({ ...base, ...other }), id, JSON.stringify(other));
    }
  });

  it('hash file content and name a missing input', async () => {
    writeFileSync(f('a.bin'), 'same');
    writeFileSync(f('b.bin'), 'same');
    assert.equal(await hashFile(f('a.bin')), await hashFile(f('b.bin')));
    mkdirSync(f('series', 'sub'), { recursive: true });
    writeFileSync(f('series', '1.dcm'), 'one');
    writeFileSync(f('series', 'sub', '2.dcm'), 'two');
    const folder = await hashFile(f('series'));
    writeFileSync(f('series', 'sub', '2.dcm'), 'tw0');
    assert.notEqual(await hashFile(f('series')), folder, 'a folder hashes the content of the files under it');
    await assert.rejects(hashFile(f('missing.nii.gz')), (e: unknown) => code('FILE_NOT_FOUND')(e) && /missing\.nii\.gz/.test((e as Error).message));
  });

  it('a study gets the same id for the same inputs; one changed byte makes a new job', async () => {
    mkdirSync(f('s'));
    writeFileSync(f('s', 'image.nii.gz'), 'image bytes');
    writeFileSync(f('s', 'prompts.json'), '{}');
    const study = { id: 's', image: f('s', 'image.nii.gz'), prompts: f('s', 'prompts.json') };
    const opts = { out: f('out'), version: '0.1.0' };
    const a = await studyJob(study, opts);
    assert.equal((await studyJob({ ...study }, opts)).id, a.id);
    assert.equal(a.data.output, path.resolve(f('out', 's.nii.gz')));
    assert.equal(a.data.engine, 'classic');
    assert.notEqual((await studyJob(study, { ...opts, engine: 'interp' })).id, a.id);
    assert.notEqual((await studyJob(study, { ...opts, out: f('elsewhere') })).id, a.id);
    writeFileSync(f('s', 'prompts.json'), '{ }');
    assert.notEqual((await studyJob(study, opts)).id, a.id);
  });
});

describe('batch studies', () => {
  it('reads a manifest: paths relative to it, truth optional, annotations or prompts required', async () => {
    mkdirSync(f('m'));
    writeFileSync(f('m', 'keyslice-dataset.json'), JSON.stringify({
      name: 'd', modality: 'CT', window: 'abdomen',
      cases: [
        { id: 'a', image: 'a/ct.nii.gz', annotations: 'a/keys.nii.gz', keySlices: [3, 9], label: 'a/seg.nii.gz', labels: [1] },
        { id: 'b', image: 'b/ct.nii.gz', prompts: 'b/p.json' },
      ],
    }));
    const s = await studiesFromManifest(f('m'));
    assert.deepEqual(s[0], { id: 'a', image: f('m', 'a/ct.nii.gz'), annotations: f('m', 'a/keys.nii.gz'), keySlices: [3, 9],
      truth: f('m', 'a/seg.nii.gz'), labels: [1], window: 'abdomen' });
    assert.deepEqual(s[1], { id: 'b', image: f('m', 'b/ct.nii.gz'), prompts: f('m', 'b/p.json'), window: 'abdomen' });
    const bad = async (cases: unknown[], re: RegExp) => {
      writeFileSync(f('m', 'bad.json'), JSON.stringify({ name: 'd', modality: 'CT', cases }));
      await assert.rejects(studiesFromManifest(f('m', 'bad.json')), (e: unknown) => code('INVALID_ANNOTATION')(e) && re.test((e as Error).message));
    };
    await bad([{ id: 'a', image: 'x.nii.gz', label: 'y.nii.gz' }], /cases\[0\]: give "annotations"/);
    await bad([{ id: 'a/b', image: 'x', prompts: 'p' }], /study id "a\/b"/);
    await bad([{ id: 'a', image: 'x', prompts: 'p' }, { id: 'a', image: 'y', prompts: 'p' }], /appears twice/);
    await bad([{ id: 'a', image: 'x', annotations: 'k', keySlices: [-1] }], /keySlices/);
    await assert.rejects(studiesFromManifest(f('nope.json')), code('FILE_NOT_FOUND'));
  });

  it('reads a folder by its naming rule, one study per sub-folder', async () => {
    const root = f('folder');
    mkdirSync(path.join(root, 'p1'), { recursive: true });
    mkdirSync(path.join(root, 'p2'));
    writeFileSync(path.join(root, 'p1', 'image.nrrd'), '');
    writeFileSync(path.join(root, 'p1', 'annotations.nrrd'), '');
    writeFileSync(path.join(root, 'p1', 'key-slices.txt'), '4, 8\n12\n');
    writeFileSync(path.join(root, 'p1', 'truth.nii.gz'), '');
    writeFileSync(path.join(root, 'p2', 'image.nii.gz'), '');
    writeFileSync(path.join(root, 'p2', 'prompts.json'), '');
    const s = await studiesFromFolder(root);
    assert.deepEqual(s.map((x) => x.id), ['p1', 'p2']);
    assert.deepEqual(s[0], { id: 'p1', image: path.join(root, 'p1', 'image.nrrd'), annotations: path.join(root, 'p1', 'annotations.nrrd'),
      keySlices: [4, 8, 12], truth: path.join(root, 'p1', 'truth.nii.gz') });
    assert.deepEqual(s[1], { id: 'p2', image: path.join(root, 'p2', 'image.nii.gz'), prompts: path.join(root, 'p2', 'prompts.json') });
    mkdirSync(path.join(root, 'p3'));
    writeFileSync(path.join(root, 'p3', 'annotations.nii.gz'), '');
    await assert.rejects(studiesFromFolder(root), (e: unknown) => code('FILE_NOT_FOUND')(e) && /p3: no image file/.test((e as Error).message));
  });
});

describe('batch failures, Dice, status and report', () => {
  it('input errors fail for good; write failures and crashes are retried', () => {
    const c = classifyFailure(new KeysliceError('FILE_UNREADABLE', 'not a NIfTI file', '/d/x.nii.gz'));
    assert.deepEqual(c, { message: 'FILE_UNREADABLE: /d/x.nii.gz: not a NIfTI file', code: 'FILE_UNREADABLE', permanent: true });
    for (const k of ['USAGE', 'GRID_MISMATCH', 'INVALID_PROMPTS', 'OUTPUT_CONFLICT', 'NON_FINITE_VOXELS'] as const) {
      assert.equal(classifyFailure(new KeysliceError(k, 'x')).permanent, true, k);
    }
    assert.equal(classifyFailure(new KeysliceError('WRITE_FAILED', 'disk full')).permanent, false);
    assert.equal(classifyFailure(new Error('Unexpected exit code: null signal: SIGKILL')).permanent, false);
    assert.equal(failureCode(c.message), 'FILE_UNREADABLE');
    assert.equal(failureCode('NOT_A_CODE: x'), undefined);
    assert.equal(failureCode(undefined), undefined);
  });

  it('Dice per label, absent labels scoring 1', () => {
    const pred = [0, 1, 1, 2, 2, 0];
    const truth = [0, 1, 0, 2, 2, 2];
    const d = diceByLabel(pred, truth);
    assert.deepEqual(Object.keys(d), ['1', '2']);
    assert.ok(Math.abs(d['1'] - 2 / 3) < 1e-12);
    assert.ok(Math.abs(d['2'] - 0.8) < 1e-12);
    assert.deepEqual(diceByLabel(pred, truth, [3]), { 3: 1 });
  });

  it('throughput and ETA from the finished jobs', () => {
    const job = (start: number, end: number) => ({ processedOn: start, finishedOn: end, timestamp: 0, returnvalue: { reused: false },
      data: { study: { id: 'x' } } as BatchJobData }) as unknown as BatchJob;
    const counts = { waiting: 6, delayed: 0, active: 2, completed: 4, failed: 0 };
    const st = summarize(counts, [job(0, 15000), job(15000, 30000), job(30000, 45000), job(45000, 60000)], [], []);
    assert.equal(st.perMinute, 4);
    assert.equal(st.etaSeconds, 120);
    assert.equal(st.total, 12);
    assert.equal(summarize({ ...counts, waiting: 0, active: 0 }, [], [], []).etaSeconds, 0);
    assert.equal(summarize(counts, [], [], []).etaSeconds, null);
  });

  it('CSV quotes what needs quoting', () => {
    const row: ReportRow = { study: 'a', jobId: 'ks-1', state: 'failed', output: '/o/a.nii.gz', onDisk: false, engine: 'classic', seconds: null,
      reused: false, volumesMl: {}, error: 'FILE_UNREADABLE: /d/a, b.nii.gz: says "no"', errorCode: 'FILE_UNREADABLE', attempts: 1 };
    const lines = reportCsv([row, { ...row, state: 'completed', seconds: 1.5, volumesMl: { 1: 2, 2: 0.5 }, dice: { 1: 0.9 }, error: undefined, errorCode: undefined }]).split('\n');
    assert.equal(lines[1], 'a,ks-1,failed,/o/a.nii.gz,false,classic,,false,,,FILE_UNREADABLE,"FILE_UNREADABLE: /d/a, b.nii.gz: says ""no""",1');
    assert.equal(lines[2], 'a,ks-1,completed,/o/a.nii.gz,false,classic,1.500,false,1:2.000 2:0.500,1:0.9000,,,1');
  });

  it('removes the temporaries an interrupted attempt left, and nothing else', async () => {
    const d = f('temps');
    mkdirSync(d);
    for (const n of ['.s1.tmp-12-abc.nii.gz', '.s1.json.tmp-12', 's1.nii.gz', '.s10.tmp-1-x.nii.gz', 's2.json']) writeFileSync(path.join(d, n), '');
    const data = { output: path.join(d, 's1.nii.gz'), record: path.join(d, 's1.json') } as BatchJobData;
    assert.deepEqual((await removeStaleTemps(data)).sort(), ['.s1.json.tmp-12', '.s1.tmp-12-abc.nii.gz']);
    assert.deepEqual(readdirSync(d).sort(), ['.s10.tmp-1-x.nii.gz', 's1.nii.gz', 's2.json']);
  });

  it('reads Redis URLs', () => {
    assert.deepEqual(redisConnection('redis://:pw@10.0.0.5:6380/2'), { host: '10.0.0.5', port: 6380, db: 2, password: 'pw', maxRetriesPerRequest: null });
    assert.throws(() => redisConnection('http://x'), code('USAGE'));
    assert.throws(() => redisConnection('not a url'), code('USAGE'));
  });
});
