import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keys } from '@diffq/contract';
import { assertEverySeedOnce, assertExitClean, readStoredRun, runDiffq, useTestEnv, waitFor } from './harness.ts';

// Redis loses everything mid-run. The test flushes only its own database (FLUSHDB on db
// E2E_DB.flush), not FLUSHALL, so other test files sharing this Redis are untouched.
describe('Redis flushed in the middle of a run, then diffq resume', () => {
  const env = useTestEnv('flush');

  it('completes exactly once without recomputing the shards already stored', { timeout: 300_000 }, async () => {
    await env.launch({ runId: 'flush', seeds: '0-999', shardSize: 50 });
    const workers = env.spawnWorkers(['w0', 'w1'], { batchSize: 5, fastLocks: true });
    const store = env.store();
    const storedMetas = async () => (await store.list(keys.shards('flush'))).filter((k) => k.endsWith('.json'));
    await waitFor('a few shards to be stored', async () => (await storedMetas()).length >= 4, 180_000);

    const before = new Map<string, string>();
    for (const key of await storedMetas()) before.set(key, Buffer.from((await store.get(key)) ?? '').toString());
    assert.ok(before.size < 20, 'the run was still going when Redis lost its data');
    await env.redis.flushdb();

    const resumed = await runDiffq(['resume', ...env.flags, '--store', env.storeUrl, 'flush', '--json']);
    assert.equal(resumed.code, 0, resumed.err);
    const result = JSON.parse(resumed.out);
    assert.ok(result.stored >= before.size, `resume kept the ${before.size} stored shards`);
    assert.equal(result.added, 20 - result.stored, 'resume enqueued exactly the shards the store lacks');
    assert.equal(result.finalizeQueued, true);

    await waitFor('the report', () => store.exists(keys.report('flush')), 180_000);
    for (const w of workers) w.child.kill('SIGTERM');
    await assertExitClean(workers);

    const run = await readStoredRun(store, 'flush');
    assert.equal(run.metas.length, 20);
    assertEverySeedOnce(run, 1000);
    for (const [key, json] of before) assert.equal(Buffer.from((await store.get(key)) ?? '').toString(), json, `${key} was not rewritten`);
    const status = await runDiffq(['status', ...env.flags, '--store', env.storeUrl, 'flush', '--json']);
    assert.equal(JSON.parse(status.out).phase, 'complete');
  });
});
