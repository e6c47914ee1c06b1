import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { keys } from '@diffq/contract';
import { openStore } from '@diffq/storage';
import { E2E_DB, readStoredRun, runDiffq, smallModel, spawnWorker, type TestEnv, testEnv, waitFor } from './harness.ts';

const FAST_LOCKS = ['--lock-duration', '3000', '--stalled-interval', '1000'];

// Redis loses everything mid-run. The test flushes only its own database (FLUSHDB on db
// E2E_DB.flush), not FLUSHALL, so other test files sharing this Redis are untouched.
describe('Redis flushed in the middle of a run, then diffq resume', () => {
  let env: TestEnv;
  let model: string;
  let storeUrl: string;

  before(async () => {
    env = await testEnv(E2E_DB.flush, 'flush');
    model = await smallModel(env.dir);
    storeUrl = `file://${join(env.dir, 'runs')}`;
  });
  after(() => env.cleanup());

  it('completes exactly once without recomputing the shards already stored', { timeout: 300_000 }, async () => {
    const launched = await runDiffq([
      'launch',
      ...env.flags,
      '--store',
      storeUrl,
      '--model',
      model,
      '--seeds',
      '0-999',
      '--shard-size',
      '50',
      '--steps',
      '4',
      '--run-id',
      'flush',
    ]);
    assert.equal(launched.code, 0, launched.err);
    const workers = [0, 1].map((i) =>
      spawnWorker(env, model, ['--batch-size', '5', '--threads', '1', '--worker-id', `w${i}`, ...FAST_LOCKS]),
    );
    const store = openStore(storeUrl);
    const storedMetas = async () => (await store.list(keys.shards('flush'))).filter((k) => k.endsWith('.json'));
    await waitFor('a few shards to be stored', async () => (await storedMetas()).length >= 4, 180_000);

    const before = new Map<string, string>();
    for (const key of await storedMetas()) before.set(key, Buffer.from((await store.get(key)) ?? '').toString());
    assert.ok(before.size < 20, 'the run was still going when Redis lost its data');
    await env.redis.flushdb();

    const resumed = await runDiffq(['resume', ...env.flags, '--store', storeUrl, 'flush', '--json']);
    assert.equal(resumed.code, 0, resumed.err);
    const result = JSON.parse(resumed.out);
    assert.ok(result.stored >= before.size, `resume kept the ${before.size} stored shards`);
    assert.equal(result.added, 20 - result.stored, 'resume enqueued exactly the shards the store lacks');
    assert.equal(result.finalizeQueued, true);

    await waitFor('the report', () => store.exists(keys.report('flush')), 180_000);
    for (const w of workers) w.child.kill('SIGTERM');
    assert.deepEqual(await Promise.all(workers.map((w) => w.exited)), [0, 0], workers.map((w) => w.log()).join('\n'));

    const run = await readStoredRun(store, 'flush');
    assert.equal(run.metas.length, 20);
    for (let seed = 0; seed < 1000; seed++) assert.equal(run.occurrences.get(seed), 1, `seed ${seed}`);
    for (const [key, json] of before) assert.equal(Buffer.from((await store.get(key)) ?? '').toString(), json, `${key} was not rewritten`);
    const status = await runDiffq(['status', ...env.flags, '--store', storeUrl, 'flush', '--json']);
    assert.equal(JSON.parse(status.out).phase, 'complete');
    store.close();
  });
});
