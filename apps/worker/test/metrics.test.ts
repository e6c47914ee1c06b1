import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BusyClock, createWorkerMetrics } from '../src/metrics.ts';

describe('worker metrics', () => {
  it('reports the busy share of the last window', () => {
    let now = 0;
    const clock = new BusyClock(10_000, () => now);
    now = 2000;
    clock.start();
    now = 5000;
    clock.stop();
    now = 10_000;
    assert.equal(clock.ratio(), 0.3);
    clock.start();
    now = 16_000;
    // window [6000, 16000]: busy 10000..16000
    assert.equal(clock.ratio(), 0.6);
  });

  it('names every series with the diffq_ prefix and no run label', async () => {
    const metrics = createWorkerMetrics({ defaultMetrics: false, tensorCount: () => 7 });
    metrics.samples.inc({ model: 'm' }, 3);
    const text = await metrics.registry.metrics();
    const names = [...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]);
    assert.ok(names.length >= 8);
    for (const name of names) assert.match(name, /^diffq_/);
    assert.doesNotMatch(text, /run="/);
    assert.match(text, /diffq_worker_tensors 7/);
  });
});
