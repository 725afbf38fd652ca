import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { segmentProgressLine } from '../src/cli/progress.js';
import { makePhantom } from '../src/demo/phantom.js';
import { writeVolume } from '../src/volume/io-node.js';
import { tempDir, runCli } from './helpers/paths.js';

const tmp = tempDir();
after(tmp.cleanup);
const f = (name: string) => path.join(tmp.dir, name);

const cli = (args: string[]) => runCli(args, { cwd: tmp.dir });

const COMMANDS = ['segment', 'score', 'demo', 'bench', 'analyze', 'suggest', 'info', 'mesh'];

describe('command-line polish', () => {
  before(async () => {
    const { image, truth } = makePhantom({ size: [48, 48, 12], spacing: [1.5, 1.5, 5] });
    await writeVolume(image, f('ct.nii.gz'));
    await writeVolume(truth, f('lab.nii.gz'));
    writeFileSync(f('bad.nrrd'), 'NRRD0004\ntype: short\ndimension: 3\nsizes: 10 10 10\nencoding: gzip\n\nnot gzip data');
    writeFileSync(
      f('spleen.json'),
      JSON.stringify({ version: 1, labels: [{ value: 1, name: 'spleen', keySlices: [{ slice: 4, box: [14, 14, 30, 30] }, { slice: 8, box: [14, 14, 30, 30] }] }] }),
    );
  });

  for (const cmd of COMMANDS) {
    it(`keyslice ${cmd} --help prints the command's usage and exits 0`, () => {
      const r = cli([cmd, '--help']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^Usage:\\n  keyslice ${cmd} `));
      for (const other of COMMANDS.filter((c) => c !== cmd)) assert.ok(!r.stdout.includes(`  keyslice ${other} `), `no usage of ${other}`);
    });
  }

  it('score exits 3 when an input cannot be read, and library chatter stays off the terminal', () => {
    for (const args of [['--pred', 'missing.nii.gz', '--gt', 'ct.nii.gz'], ['--pred', 'bad.nrrd', '--gt', 'lab.nii.gz'], ['--pred', 'lab.nii.gz', '--gt', 'bad.nrrd']]) {
      const r = cli(['score', ...args]);
      assert.equal(r.code, 3, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^keyslice: error: (missing\.nii\.gz|bad\.nrrd): /);
      assert.doesNotMatch(r.stderr + r.stdout, /Build module in Debug mode|Exception while running pipeline|stderr:/);
      assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
    }
  });

  it('--verbose shows what the library printed, marked as such', () => {
    const r = cli(['score', '--pred', 'bad.nrrd', '--gt', 'ct.nii.gz', '--verbose']);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /\[library\] Exception while running pipeline/);
  });

  it('a failed write names the writer and the file', () => {
    // a folder where the output file should be: the write cannot complete
    mkdirSync(f('taken.nrrd'));
    const r = cli(['segment', '--image', 'ct.nii.gz', '--prompts', 'spleen.json', '--out', 'taken.nrrd', '--quiet']);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /^keyslice: error: taken\.nrrd: the \.nrrd writer \(@itk-wasm\/image-io writeImage\) failed: /);
    assert.deepEqual(readdirSync(tmp.dir).filter((x) => x.includes('.tmp-')), [], 'no temporary file left');
  });

  it('progress counts slices and names the label', () => {
    const r = cli(['segment', '--image', 'ct.nii.gz', '--prompts', 'spleen.json', '--out', 'seg2.nii.gz']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^0\/12 spleen \(label 1\)$/m);
    assert.match(r.stderr, /^12\/12 done$/m);
  });

  it('turns per-slice progress into slices over all labels', () => {
    assert.deepEqual(segmentProgressLine({ done: 1, total: 2, label: 3, name: 'liver', slice: 7, slicesDone: 4, sliceCount: 20 }), {
      done: 24,
      total: 40,
      text: 'liver (label 3): slice 7',
    });
    assert.deepEqual(segmentProgressLine({ done: 0, total: 1, label: 1 }), { done: 0, total: 1, text: 'label 1' });
  });
});
