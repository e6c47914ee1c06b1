import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runDiffq } from '../../../test/fixtures/run-diffq.ts';

describe('diffq watch --interval', () => {
  it('refuses an interval without a readable unit before touching Redis, naming the flag and the spelling', async () => {
    // Nothing listens on port 1: the interval is checked first, so the answer is about the flag.
    const r = await runDiffq(['watch', 'some-run', '--redis', 'redis://127.0.0.1:1', '--interval', 'often']);
    assert.equal(r.code, 2);
    assert.match(r.err, /--interval is "often"; accepted: a duration from 50ms to 1h with its unit, e\.g\. 500ms, 60s, 2m/);
  });

  it('reads a bare number as seconds, as before, with a warning', async () => {
    const r = await runDiffq(['watch', 'some-run', '--redis', 'redis://127.0.0.1:1', '--interval', '2']);
    assert.match(r.err, /warning: --interval 2: a bare number is read as seconds .*write --interval 2s/);
    assert.equal(r.code, 1, 'then fails on the unreachable Redis');
  });
});
