import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { keys, type SamplingPrecision } from '@diffq/contract';
import type { DenoiserEngine } from '@diffq/diffusion';
import { getJson, readShardMeta } from '@diffq/storage';
import type { RunningWorker } from '@diffq/worker';
import { SleepingDenoiser } from '../../bench/sleeping-denoiser.ts';
import { runDiffq, useTestEnv, waitFor } from './harness.ts';

/**
 * A run keeps the precision of its first shard. The workers' denoisers sleep instead of computing
 * and say which precision they compute in, so a float16 worker needs no GPU here.
 */
describe('one precision per run', () => {
  const env = useTestEnv('precision');

  /**
   * A worker whose denoiser computes in `precision`: 0.4 s per step of 4 samples for its first
   * `fastForwards` forwards, 2 s after them, so a test has time to stop it after its first shard.
   */
  function worker(precision: SamplingPrecision, id: string, fastForwards = Number.POSITIVE_INFINITY): Promise<RunningWorker> {
    return env.startWorker({
      batchSize: 4,
      workerId: id,
      exitWhenIdle: true,
      denoiser: async (directory) => {
        const fast = new SleepingDenoiser(directory, 100);
        const slow = new SleepingDenoiser(directory, 500);
        let forwards = 0;
        const engine: DenoiserEngine = {
          name: fast.name,
          description: fast.description,
          provider: fast.provider,
          forward: (x) => (forwards++ < fastForwards ? fast : slow).forward(x),
          dispose: () => {},
        };
        return { engine, why: engine.description, precision };
      },
    });
  }

  it('refuses a shard to a worker of another precision than the first shard, and finishes with workers of the same one', {
    timeout: 180_000,
  }, async () => {
    await env.launch({ runId: 'mixed', seeds: '0-7', shardSize: 4 });
    const store = env.store();

    // A float16 worker samples the first shard, then leaves (its second shard, if begun, goes back to wait).
    // Its warm-up step and the 4 steps of one shard are fast; a second shard would take 8 s.
    const half = await worker('float16', 'gpu-1', 5);
    await waitFor('a first shard', async () => (await store.list(keys.shards('mixed'))).some((k) => k.endsWith('.json')), 60_000, 50);
    // Let the worker start its second shard first: close() releases a running shard, but a job BullMQ
    // hands over in the very moment of closing is not yet running and would be sampled to the end.
    await sleep(500);
    await half.close('now');
    const stored = (await store.list(keys.shards('mixed'))).filter((k) => k.endsWith('.json'));
    assert.equal(stored.length, 1, 'one shard stored before the float16 worker left');
    const first = Number(stored[0].slice(keys.shards('mixed').length, -'.json'.length));
    assert.equal((await readShardMeta(store, 'mixed', first))?.precision, 'float16');

    // A float32 worker refuses the other shard at once.
    await (await worker('float32', 'cpu-1')).done;
    const other = await (await env.sampleQueue()).getJob(`mixed.shard.${1 - first}`);
    assert.equal(await other?.getState(), 'failed');
    assert.equal(other?.attemptsMade, 1);
    assert.match(
      other?.failedReason ?? '',
      /run mixed is sampled in float16 \(its first shard came from gpu-1, .*\); this worker computes in float32/,
    );
    assert.equal(await store.exists(keys.shardMeta('mixed', 1 - first)), false);

    // Resumed with a float16 worker, the run completes in one precision.
    const resumed = await runDiffq(['resume', ...env.flags, '--store', env.storeUrl, 'mixed']);
    assert.equal(resumed.code, 0, resumed.err);
    await (await worker('float16', 'gpu-2')).done;
    const report = (await getJson(store, keys.report('mixed'))) as { precisions: string[]; counts: { samples: number } };
    assert.deepEqual(report.precisions, ['float16']);
    assert.equal(report.counts.samples, 8);
  });

  it('records in report.json the provider that ran: webgpu asked for, cpu where no adapter is found', { timeout: 120_000 }, async () => {
    await env.launch({ runId: 'provider', seeds: '0-3', shardSize: 4, steps: 2 });
    await (await env.startWorker({ batchSize: 4, engine: 'onnx', provider: 'webgpu', exitWhenIdle: true })).done;
    const report = (await getJson(env.store(), keys.report('provider'))) as { engines: string[]; providers: string[] };
    if (report.providers[0] === 'webgpu') return;
    assert.deepEqual(report.providers, ['cpu']);
    assert.equal(report.engines.length, 1);
    assert.match(
      report.engines[0],
      /^onnxruntime-node \S+ cpu \(webgpu fallback: the webgpu provider did not load: Failed to get a WebGPU adapter/,
    );
  });
});
