import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { keys } from '@diffq/contract';
import { assertEverySeedOnce, assertExitClean, hiddenFiles, readStoredRun, useTestEnv, waitFor } from './harness.ts';

describe('a worker killed with SIGKILL in the middle of a shard', () => {
  const env = useTestEnv('crash');

  it('leaves no partial shard: the run completes with every seed exactly once', { timeout: 300_000 }, async () => {
    await env.launch({ runId: 'crash', seeds: '0-599', shardSize: 100 });
    const queue = await env.sampleQueue();

    // Micro-batches of 1 make a shard take seconds, so the kill lands while it samples.
    const victim = env.spawnWorker({ batchSize: 1, id: 'victim', fastLocks: true });
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
    const store = env.store();
    assert.equal(await store.exists(keys.shardMeta('crash', index)), false, 'the killed shard was not finished');

    await assertExitClean(env.spawnWorkers(['survivor0', 'survivor1'], { batchSize: 25, exitWhenIdle: true, fastLocks: true }));

    const run = await readStoredRun(store, 'crash');
    assert.equal(run.metas.length, 6);
    assertEverySeedOnce(run, 600);
    const redone = run.metas.find((m) => m.shardIndex === index);
    assert.match(redone?.worker.id ?? '', /^survivor/, 'a survivor sampled the killed shard');
    const job = await queue.getJob(killedJob);
    assert.equal(job?.stalledCounter, 1, 'the shard came back through the stalled-job checker');
    assert.deepEqual(hiddenFiles(join(env.dir, 'runs')), [], 'no temporary files left behind');
    assert.ok(await store.exists(keys.report('crash')));
  });
});
