import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keys } from '@diffq/contract';
import { assertEverySeedOnce, assertExitClean, assertSameImages, readStoredRun, useTestEnv } from './harness.ts';

const SEEDS = 2000;

describe('a 2,000-seed run sampled by three worker processes', () => {
  const env = useTestEnv('pipeline');

  it('stores every seed exactly once, with the images a single process makes, bit for bit', { timeout: 480_000 }, async () => {
    const launched = await env.launch({ runId: 'fleet', seeds: `0-${SEEDS - 1}`, shardSize: 100 });
    assert.equal(launched.out.trim(), 'fleet');
    await assertExitClean(env.spawnWorkers(['w0', 'w1', 'w2'], { batchSize: 25, exitWhenIdle: true }));

    const store = env.store();
    const fleet = await readStoredRun(store, 'fleet');
    assert.equal(fleet.metas.length, 20);
    assert.equal(fleet.images.size, SEEDS);
    assertEverySeedOnce(fleet, SEEDS);
    const byWorker = new Set(fleet.metas.map((m) => m.worker.id));
    assert.ok(byWorker.size >= 2, `the shards were shared out: ${[...byWorker].join(', ')}`);
    const report = JSON.parse(Buffer.from((await store.get(keys.report('fleet'))) ?? '').toString());
    assert.equal(report.counts.samples, SEEDS);
    assert.ok(await store.exists(keys.grid('fleet')));

    // The same seeds in one in-process worker, other shard and micro-batch sizes.
    await env.launch({ runId: 'single', seeds: `0-${SEEDS - 1}`, shardSize: 500 });
    await env.sampleInProcess({ batchSize: 40 });
    const reference = await readStoredRun(store, 'single');
    assert.equal(reference.images.size, SEEDS);
    assertSameImages(reference, fleet, 'the fleet and the single process');
  });
});
