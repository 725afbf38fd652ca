import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { capturedMessages, quietly, quietlySync, thirdPartyMessage } from '../src/util/quiet.js';

describe('third-party console output', () => {
  it('captures what a call prints, and only that call, while other work prints as usual', async () => {
    await quietly(async () => undefined); // installs the capture
    const before = capturedMessages().length;
    // concurrent work outside the quiet call prints as usual (here: to the test's own output)
    const outside = new Promise<void>((resolve) => setTimeout(() => {
      console.warn('elsewhere');
      resolve();
    }, 5));
    let seen = '';
    const inside = quietly(async () => {
      console.log('library says %d', 42);
      await new Promise((r) => setTimeout(r, 20));
      console.error('Build module in Debug mode for exception message information.');
      return 'done';
    });
    await outside;
    assert.equal(await inside, 'done');
    const lines = capturedMessages().slice(before);
    assert.deepEqual(lines, ['library says 42', 'Build module in Debug mode for exception message information.']);
    assert.ok(!lines.includes('elsewhere'), 'output from outside the call is not captured');
    assert.equal(quietlySync(() => {
      console.info('sync chatter');
      seen = 'x';
      return 3;
    }), 3);
    assert.equal(seen, 'x');
    assert.equal(capturedMessages().at(-1), 'sync chatter');
  });

  it('turns what a library threw and printed into one sentence', async () => {
    const err = await quietly(async () => {
      console.log('stderr: Could not open file "a.nrrd"');
      throw 7;
    }).catch((e: unknown) => e);
    assert.equal(err, 7);
    await assert.rejects(quietly(async () => {
      console.error('stderr: bad header');
      throw new Error('3');
    }), (e: unknown) => thirdPartyMessage(e) === 'bad header');
    assert.match(thirdPartyMessage({ name: 'ErrnoError', errno: 44 }), /file system error 44 inside the WebAssembly library/);
    assert.equal(thirdPartyMessage(new Error('plain message\nsecond line')), 'plain message');
  });
});
