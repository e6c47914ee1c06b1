import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { keys } from '@diffq/contract';
import { openStore } from '@diffq/storage';
import { startWorker } from '@diffq/worker';
import { E2E_DB, readStoredRun, runDiffq, smallModel, spawnWorker, type TestEnv, testEnv } from './harness.ts';

const SEEDS = 2000;

describe('a 2,000-seed run sampled by three worker processes', () => {
  let env: TestEnv;
  let model: string;
  let storeUrl: string;

  before(async () => {
    env = await testEnv(E2E_DB.pipeline, 'pipeline');
    model = await smallModel(env.dir);
    storeUrl = `file://${join(env.dir, 'runs')}`;
  });
  after(() => env.cleanup());

  it('stores every seed exactly once, with the images a single process makes, bit for bit', { timeout: 480_000 }, async () => {
    const launched = await runDiffq([
      'launch',
      ...env.flags,
      '--store',
      storeUrl,
      '--model',
      model,
      '--seeds',
      `0-${SEEDS - 1}`,
      '--shard-size',
      '100',
      '--steps',
      '4',
      '--run-id',
      'fleet',
    ]);
    assert.equal(launched.code, 0, launched.err);
    assert.equal(launched.out.trim(), 'fleet');

    const workers = [0, 1, 2].map((i) =>
      spawnWorker(env, model, ['--batch-size', '25', '--threads', '1', '--exit-when-idle', '--worker-id', `w${i}`]),
    );
    const codes = await Promise.all(workers.map((w) => w.exited));
    assert.deepEqual(codes, [0, 0, 0], workers.map((w) => w.log()).join('\n'));

    const store = openStore(storeUrl);
    const fleet = await readStoredRun(store, 'fleet');
    assert.equal(fleet.metas.length, 20);
    assert.equal(fleet.images.size, SEEDS);
    for (let seed = 0; seed < SEEDS; seed++)
      assert.equal(fleet.occurrences.get(seed), 1, `seed ${seed} occurs ${fleet.occurrences.get(seed) ?? 0} times`);
    const byWorker = new Set(fleet.metas.map((m) => m.worker.id));
    assert.ok(byWorker.size >= 2, `the shards were shared out: ${[...byWorker].join(', ')}`);
    const report = JSON.parse(Buffer.from((await store.get(keys.report('fleet'))) ?? '').toString());
    assert.equal(report.counts.samples, SEEDS);
    assert.ok(await store.exists(keys.grid('fleet')));

    // The same seeds in one in-process worker, other shard and micro-batch sizes.
    const single = await runDiffq([
      'launch',
      ...env.flags,
      '--store',
      storeUrl,
      '--model',
      model,
      '--seeds',
      `0-${SEEDS - 1}`,
      '--shard-size',
      '500',
      '--steps',
      '4',
      '--run-id',
      'single',
    ]);
    assert.equal(single.code, 0, single.err);
    const worker = await startWorker({
      redis: { url: env.redisUrl },
      prefix: env.prefix,
      model,
      batchSize: 40,
      threads: 1,
      exitWhenIdle: true,
      log: () => {},
    });
    await worker.done;
    const reference = await readStoredRun(store, 'single');
    assert.equal(reference.images.size, SEEDS);
    const differing = [...reference.images]
      .filter(([seed, image]) => Buffer.compare(image, fleet.images.get(seed) as Uint8Array) !== 0)
      .map(([seed]) => seed);
    assert.deepEqual(differing.slice(0, 10), [], `${differing.length} seeds differ between the fleet and the single process`);
    store.close();
  });
});
