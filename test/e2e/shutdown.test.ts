import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { keys, sampleQueueName } from '@diffq/contract';
import { defaultModelId } from '@diffq/queue';
import { fileDigest, openStore } from '@diffq/storage';
import { Queue } from 'bullmq';
import { E2E_DB, runDiffq, smallModel, spawnWorker, type TestEnv, testEnv, waitFor } from './harness.ts';

describe('a worker sent SIGTERM while it samples a shard', () => {
  let env: TestEnv;
  let model: string;
  let storeUrl: string;
  let queue: Queue;

  before(async () => {
    env = await testEnv(E2E_DB.shutdown, 'shutdown');
    model = await smallModel(env.dir);
    storeUrl = `file://${join(env.dir, 'runs')}`;
    queue = new Queue(sampleQueueName(defaultModelId(await fileDigest(join(model, 'weights.safetensors')))), {
      connection: env.redis,
      prefix: env.prefix,
    });
  });
  after(async () => {
    await queue.close();
    await env.cleanup();
  });

  /** Launches a one-shard run whose shard takes seconds (micro-batches of 1), starts a worker, waits until it samples. */
  async function busyWorker(runId: string, grace: string) {
    const launched = await runDiffq([
      'launch',
      ...env.flags,
      '--store',
      storeUrl,
      '--model',
      model,
      '--seeds',
      '0-119',
      '--shard-size',
      '120',
      '--steps',
      '4',
      '--run-id',
      runId,
    ]);
    assert.equal(launched.code, 0, launched.err);
    const worker = spawnWorker(env, model, ['--batch-size', '1', '--threads', '1', '--shutdown-grace', grace, '--no-finalize']);
    await waitFor('the shard to start', async () => (await queue.getJobState(`${runId}.shard.0`)) === 'active', 120_000, 50);
    return worker;
  }

  it('finishes the shard when it fits in the grace period', { timeout: 180_000 }, async () => {
    const worker = await busyWorker('finishes', '120');
    worker.child.kill('SIGTERM');
    assert.equal(await worker.exited, 0, worker.log());
    assert.equal(await queue.getJobState('finishes.shard.0'), 'completed');
    assert.ok(await openStore(storeUrl).exists(keys.shardMeta('finishes', 0)));
  });

  it('releases the shard to the queue, without using an attempt, when it does not', { timeout: 180_000 }, async () => {
    const worker = await busyWorker('released', '0.2');
    worker.child.kill('SIGTERM');
    assert.equal(await worker.exited, 0, worker.log());
    const job = await queue.getJob('released.shard.0');
    assert.equal(await job?.getState(), 'waiting');
    assert.equal(job?.attemptsMade, 0);
    assert.equal(await openStore(storeUrl).exists(keys.shardNpz('released', 0)), false, 'nothing of the shard was written');
  });
});
