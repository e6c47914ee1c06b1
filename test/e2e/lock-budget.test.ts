import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keys } from '@diffq/contract';
import type { RunningWorker, WorkerSettings } from '@diffq/worker';
import { SleepingDenoiser } from '../../bench/sleeping-denoiser.ts';
import { smallModel, useTestEnv } from './harness.ts';

/**
 * Classifier-free guidance runs every forward at twice the micro-batch. A denoiser that sleeps a
 * fixed time per sample makes a step's cost exact, so a small --lock-duration puts the doubled step
 * over the budget (a third of it) while the unguided warm-up step fits.
 */
describe('the lock budget of guided runs', () => {
  const env = useTestEnv('budget');
  /** A class-conditional model whose last label (9) means "no class": classifier-free guidance works with it. */
  let conditional: Promise<string> | undefined;
  const conditionalModel = () => {
    conditional ??= smallModel(env.dir, { numClasses: 10 });
    return conditional;
  };

  async function sample(o: { batchSize: number; lockMs: number; msPerSample: number }): Promise<{ worker: RunningWorker; log: string[] }> {
    const log: string[] = [];
    const settings: Partial<WorkerSettings> = {
      model: await conditionalModel(),
      batchSize: o.batchSize,
      exitWhenIdle: true,
      locks: { lockDuration: o.lockMs, stalledInterval: 1000, maxStalledCount: 1 },
      denoiser: async (directory) => {
        const engine = new SleepingDenoiser(directory, o.msPerSample);
        return { engine, why: engine.description };
      },
      log: (line) => log.push(line),
    };
    const worker = await env.startWorker({ batchSize: o.batchSize, ...settings });
    await worker.done;
    return { worker, log };
  }

  /** [micro-batches sampled, samples in them] from the worker's diffq_micro_batch_size histogram. */
  async function microBatches(worker: RunningWorker): Promise<[number, number]> {
    const { values } = await worker.metrics.microBatchSize.get();
    const total = (name: string) => values.filter((v) => v.metricName === name).reduce((s, v) => s + v.value, 0);
    return [total('diffq_micro_batch_size_count'), total('diffq_micro_batch_size_sum')];
  }

  it('samples a classifier-free-guided run at --batch-size when its doubled step fits the budget', { timeout: 120_000 }, async () => {
    const model = await conditionalModel();
    await env.launch({ runId: 'fits', model, seeds: '0-3', shardSize: 4, flags: ['--guidance-scale', '2'] });
    // A step of 2 × 4 samples sleeps 0.8 s; the budget is 2 s.
    const { worker } = await sample({ batchSize: 4, lockMs: 6000, msPerSample: 100 });
    assert.equal(await env.store().exists(keys.shardMeta('fits', 0)), true);
    assert.deepEqual(await microBatches(worker), [1, 4]);
  });

  it('splits the micro-batch of a classifier-free-guided run whose doubled step outlasts the budget', { timeout: 120_000 }, async () => {
    const model = await conditionalModel();
    await env.launch({ runId: 'split', model, seeds: '0-3', shardSize: 4, flags: ['--guidance-scale', '2'] });
    // Budget 0.5 s: the unguided warm-up step of 4 (0.4 s) fits, a guided step of 2 × 4 (0.8 s) does not, 2 × 2 (0.4 s) does.
    const { worker, log } = await sample({ batchSize: 4, lockMs: 1500, msPerSample: 100 });
    assert.equal(await env.store().exists(keys.shardMeta('split', 0)), true, log.join('\n'));
    assert.deepEqual(await microBatches(worker), [2, 4]);
    assert.ok(
      log.some((line) =>
        /run split: one classifier-free-guided step \(one forward of 2 × 4\) takes .* sampling such runs in micro-batches of 2/.test(line),
      ),
      log.join('\n'),
    );
  });

  it('refuses, without retry, a classifier-free-guided run whose step outlasts the budget even at one sample', {
    timeout: 120_000,
  }, async () => {
    const model = await conditionalModel();
    await env.launch({ runId: 'refused', model, seeds: '0-1', shardSize: 2, flags: ['--guidance-scale', '2'] });
    // Budget 0.3 s: the unguided step of 1 (0.2 s) fits, the guided step of 2 × 1 (0.4 s) cannot be split further.
    await sample({ batchSize: 1, lockMs: 900, msPerSample: 200 });
    const job = await (await env.sampleQueue(model)).getJob('refused.shard.0');
    assert.equal(await job?.getState(), 'failed');
    assert.equal(job?.attemptsMade, 1);
    assert.match(
      job?.failedReason ?? '',
      /run refused: one classifier-free-guided step \(one forward of 2 × 1\) takes .* s even at micro-batch 1, more than a third of --lock-duration 900ms .*Raise --lock-duration/,
    );
    assert.equal(await env.store().exists(keys.shardMeta('refused', 0)), false);
  });
});
