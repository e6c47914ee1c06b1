import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keys } from '@diffq/contract';
import { useTestEnv, waitFor } from './harness.ts';

describe('a worker sent SIGTERM while it samples a shard', () => {
  const env = useTestEnv('shutdown');

  /** Launches a one-shard run whose shard takes seconds (micro-batches of 1), starts a worker, waits until it samples. */
  async function busyWorker(runId: string, grace: string) {
    await env.launch({ runId, seeds: '0-119', shardSize: 120 });
    const worker = env.spawnWorker({ batchSize: 1, args: ['--shutdown-grace', grace, '--no-finalize'] });
    const queue = await env.sampleQueue();
    await waitFor('the shard to start', async () => (await queue.getJobState(`${runId}.shard.0`)) === 'active', 120_000, 50);
    return { worker, queue };
  }

  it('finishes the shard when it fits in the grace period', { timeout: 180_000 }, async () => {
    const { worker, queue } = await busyWorker('finishes', '120s');
    worker.child.kill('SIGTERM');
    assert.equal(await worker.exited, 0, worker.log());
    assert.equal(await queue.getJobState('finishes.shard.0'), 'completed');
    assert.ok(await env.store().exists(keys.shardMeta('finishes', 0)));
  });

  it('releases the shard to the queue, without using an attempt, when it does not', { timeout: 180_000 }, async () => {
    const { worker, queue } = await busyWorker('released', '200ms');
    worker.child.kill('SIGTERM');
    assert.equal(await worker.exited, 0, worker.log());
    const job = await queue.getJob('released.shard.0');
    assert.equal(await job?.getState(), 'waiting');
    assert.equal(job?.attemptsMade, 0);
    assert.equal(await env.store().exists(keys.shardNpz('released', 0)), false, 'nothing of the shard was written');
  });
});
