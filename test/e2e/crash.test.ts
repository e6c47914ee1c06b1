import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { keys, sampleQueueName } from '@diffq/contract';
import { defaultModelId } from '@diffq/queue';
import { fileDigest, openStore } from '@diffq/storage';
import { Queue } from 'bullmq';
import { E2E_DB, hiddenFiles, readStoredRun, runDiffq, smallModel, spawnWorker, type TestEnv, testEnv, waitFor } from './harness.ts';

// Short locks so a dead worker's shard comes back in seconds instead of ~90 s.
const FAST_LOCKS = ['--lock-duration', '3000', '--stalled-interval', '1000'];

describe('a worker killed with SIGKILL in the middle of a shard', () => {
  let env: TestEnv;
  let model: string;
  let storeUrl: string;

  before(async () => {
    env = await testEnv(E2E_DB.crash, 'crash');
    model = await smallModel(env.dir);
    storeUrl = `file://${join(env.dir, 'runs')}`;
  });
  after(() => env.cleanup());

  it('leaves no partial shard: the run completes with every seed exactly once', { timeout: 300_000 }, async () => {
    const launched = await runDiffq([
      'launch',
      ...env.flags,
      '--store',
      storeUrl,
      '--model',
      model,
      '--seeds',
      '0-599',
      '--shard-size',
      '100',
      '--steps',
      '4',
      '--run-id',
      'crash',
    ]);
    assert.equal(launched.code, 0, launched.err);
    const queue = new Queue(sampleQueueName(defaultModelId(await fileDigest(join(model, 'weights.safetensors')))), {
      connection: env.redis,
      prefix: env.prefix,
    });

    // Micro-batches of 1 make a shard take seconds, so the kill lands while it samples.
    const victim = spawnWorker(env, model, ['--batch-size', '1', '--threads', '1', '--worker-id', 'victim', ...FAST_LOCKS]);
    let killedJob = '';
    await waitFor(
      'the victim to start a shard',
      async () => {
        const active = await queue.getJobs(['active']);
        killedJob = active.find((job) => job.processedBy === 'victim')?.id ?? '';
        return killedJob !== '';
      },
      120_000,
      50,
    );
    await new Promise((r) => setTimeout(r, 300));
    victim.child.kill('SIGKILL');
    assert.equal(await victim.exited, null);
    const index = Number(killedJob.split('.').at(-1));
    const store = openStore(storeUrl);
    assert.equal(await store.exists(keys.shardMeta('crash', index)), false, 'the killed shard was not finished');

    const survivors = [0, 1].map((i) =>
      spawnWorker(env, model, ['--batch-size', '25', '--threads', '1', '--exit-when-idle', '--worker-id', `survivor${i}`, ...FAST_LOCKS]),
    );
    const codes = await Promise.all(survivors.map((w) => w.exited));
    assert.deepEqual(codes, [0, 0], survivors.map((w) => w.log()).join('\n'));

    const run = await readStoredRun(store, 'crash');
    assert.equal(run.metas.length, 6);
    for (let seed = 0; seed < 600; seed++) assert.equal(run.occurrences.get(seed), 1, `seed ${seed}`);
    const redone = run.metas.find((m) => m.shardIndex === index);
    assert.match(redone?.worker.id ?? '', /^survivor/, 'a survivor sampled the killed shard');
    const job = await queue.getJob(killedJob);
    assert.equal(job?.stalledCounter, 1, 'the shard came back through the stalled-job checker');
    assert.deepEqual(hiddenFiles(join(env.dir, 'runs')), [], 'no temporary files left behind');
    assert.ok(await store.exists(keys.report('crash')));
    await queue.close();
    store.close();
  });
});
