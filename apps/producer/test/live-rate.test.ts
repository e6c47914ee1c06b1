import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LiveRate } from '../src/watch.ts';

describe('the live throughput of diffq watch', () => {
  it('stays near the true rate while samples land a shard at a time', () => {
    // 25-sample shards every 5 s (5 samples/s), polled every second.
    const rate = new LiveRate(30_000);
    const seen: number[] = [];
    for (let s = 1; s <= 120; s++) {
      const r = rate.update(s * 1000, Math.floor(s / 5) * 25);
      if (s >= 35 && r !== null) seen.push(r);
    }
    assert.ok(seen.length > 0);
    for (const r of seen) assert.ok(Math.abs(r - 5) <= 5 * 0.2, `rate ${r} strays more than 20 % from 5 samples/s`);
  });

  it('forgets a burst once it is older than the window', () => {
    const rate = new LiveRate(10_000);
    rate.update(0, 0);
    rate.update(1000, 1000);
    let r: number | null = null;
    for (let s = 2; s <= 30; s++) r = rate.update(s * 1000, 1000);
    assert.equal(r, 0);
  });

  it('has no rate before two polls', () => {
    assert.equal(new LiveRate().update(0, 10), null);
  });
});
