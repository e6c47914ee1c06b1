import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type DurationFlag, formatDuration, parseDuration } from '@diffq/queue';

const LOCK: DurationFlag = { flag: 'lock-duration', bareUnit: 'ms', minMs: 1, maxMs: 3_600_000 };
const GRACE: DurationFlag = { flag: 'shutdown-grace', bareUnit: 's', minMs: 0, maxMs: 3_600_000 };

describe('duration flags', () => {
  it('reads every unit the same way whatever the flag', () => {
    for (const spec of [LOCK, GRACE]) {
      assert.deepEqual(parseDuration('500ms', spec), { ms: 500 });
      assert.deepEqual(parseDuration('60s', spec), { ms: 60_000 });
      assert.deepEqual(parseDuration('1.5s', spec), { ms: 1500 });
      assert.deepEqual(parseDuration('2m', spec), { ms: 120_000 });
      assert.deepEqual(parseDuration('1h', spec), { ms: 3_600_000 });
    }
  });

  it('keeps the old meaning of a bare number per flag, and says how to write it', () => {
    const lock = parseDuration('60000', LOCK);
    assert.equal(lock.ms, 60_000);
    assert.match(lock.deprecation ?? '', /--lock-duration 60000: a bare number is read as milliseconds.*write --lock-duration 60s/);
    const grace = parseDuration(45, GRACE);
    assert.equal(grace.ms, 45_000);
    assert.match(grace.deprecation ?? '', /--shutdown-grace 45: a bare number is read as seconds.*write --shutdown-grace 45s/);
    assert.equal(parseDuration('0.2', GRACE).ms, 200);
  });

  it('refuses other spellings and out-of-range values, naming the flag, the value and the range', () => {
    assert.throws(
      () => parseDuration('60 sec', LOCK),
      /--lock-duration is "60 sec"; accepted: a duration from 1ms to 1h with its unit, e.g. 500ms/,
    );
    assert.throws(() => parseDuration('-5s', LOCK), /--lock-duration is "-5s"/);
    assert.throws(() => parseDuration('0s', LOCK), /--lock-duration is "0s" \(0ms\); accepted: a duration from 1ms to 1h/);
    assert.throws(() => parseDuration('2h', GRACE), /--shutdown-grace is "2h" \(2h\); accepted: a duration from 0ms to 1h/);
    assert.throws(() => parseDuration('0.5ms', LOCK), /a whole number of milliseconds/);
  });

  it('writes durations in their shortest exact unit', () => {
    assert.equal(formatDuration(60_000), '60s');
    assert.equal(formatDuration(600_000), '10m');
    assert.equal(formatDuration(30_000), '30s');
    assert.equal(formatDuration(1500), '1500ms');
    assert.equal(formatDuration(7_200_000), '2h');
  });
});
