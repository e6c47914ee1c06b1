/**
 * A latent model through the real queue (docs/latent-models.md): a tiny DiT and its decoder with
 * generated weights, two worker processes, one killed with SIGKILL in the middle of a shard. Every
 * seed is stored once, as a decoded image of the decoder's size, and report.json's statistics are
 * those of the stored (decoded) images.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { keys, type RunReport, sampleQueueName } from '@diffq/contract';
import { inceptionScore, softmaxRows } from '@diffq/metrics';
import { openFeatureNetwork } from '@diffq/onnx';
import { defaultModelId } from '@diffq/queue';
import { fileDigest, getJson, openStore } from '@diffq/storage';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { writeRandomMnistClassifier } from '../fixtures/random-feature-model.ts';
import { writeRandomLatentModel } from '../fixtures/random-latent-model.ts';
import { FleetEnv } from './fleet-processes.ts';
import { assertEverySeedOnce, FAST_LOCKS, readStoredRun, waitFor } from './harness.ts';

const SEEDS = 40;

describe('a latent model sampled by two worker processes, one killed mid-run', () => {
  const env = new FleetEnv('latent');
  let redis: Redis;
  before(async () => {
    await env.setUp();
    env.model = (await writeRandomLatentModel(join(env.dir, 'latent'))).model;
    redis = new Redis(env.redis.url, { maxRetriesPerRequest: 1 });
  });
  after(async () => {
    redis?.disconnect();
    await env.cleanup();
  });

  it('stores every seed once as a decoded image, with statistics of those images', { timeout: 300_000 }, async () => {
    const classifier = writeRandomMnistClassifier(join(env.dir, 'classifier'));
    await env.launch('latent', [
      '--seeds',
      `0-${SEEDS - 1}`,
      '--shard-size',
      '10',
      '--sampler',
      'ddpm',
      '--steps',
      '6',
      '--guidance-scale',
      '1',
      '--labels',
      'balanced',
      '--stats',
      'is,accuracy',
      '--features',
      classifier,
    ]);
    const modelId = defaultModelId(await fileDigest(join(env.model, 'weights.safetensors')));
    let killedJob = '';
    const queue = new Queue(sampleQueueName(modelId), { connection: redis, prefix: 'latent' });
    try {
      // Micro-batches of 1 make the victim's shard take long enough for the kill to land inside it.
      const victim = env.worker(['--batch-size', '1', '--decode-batch', '1', '--worker-id', 'victim', ...FAST_LOCKS]);
      const survivor = env.worker([
        '--batch-size',
        '4',
        '--decode-batch',
        '3',
        '--worker-id',
        'survivor',
        '--exit-when-idle',
        ...FAST_LOCKS,
      ]);
      await waitFor(
        'the victim to start a shard',
        async () => {
          killedJob = (await queue.getJobs(['active'])).find((job) => job.processedBy === 'victim')?.id ?? '';
          return killedJob !== '';
        },
        120_000,
        50,
      );
      victim.child.kill('SIGKILL');
      await victim.exited;
      assert.equal(await survivor.exited, 0, survivor.log());
      assert.match(survivor.log(), /warm-up decode of 3/, 'the decode batch was timed against the lock budget');
    } finally {
      await queue.close();
    }

    const store = openStore(env.storeUrl);
    try {
      const run = await readStoredRun(store, 'latent');
      assertEverySeedOnce(run, SEEDS);
      const killedIndex = Number(killedJob.split('.').at(-1));
      assert.equal(run.metas.find((m) => m.shardIndex === killedIndex)?.worker.id, 'survivor', 'the survivor redid the killed shard');
      for (const image of run.images.values()) assert.equal(image.length, 28 * 28 * 1, "a 28×28 grey image, the decoder's size");
      for (const meta of run.metas) {
        assert.ok((meta.timings.decode ?? 0) > 0, `shard ${meta.shardIndex} timed its decode phase`);
        assert.match(meta.engine, /decoder/);
        assert.equal(meta.decoderPrecision, 'float32', `shard ${meta.shardIndex} records what its decoder computed in`);
        assert.deepEqual(
          meta.providers,
          { denoiser: 'cpu', decoder: 'cpu', features: 'cpu' },
          `shard ${meta.shardIndex} records what ran each network`,
        );
      }
      const report = (await getJson(store, keys.report('latent'))) as RunReport;
      assert.ok(report.timings.phaseSeconds.decode > 0, 'the report sums the decode phase');
      assert.deepEqual([report.precisions, report.decoderPrecisions], [['float32'], ['float32']]);
      // The workers' onnx runs every network on cpu (DIFFQ_ONNX_PROVIDER unset); the decoder's description, last in
      // each shard's engine text, ends with where its graph came from, which is not a provider.
      assert.deepEqual([report.providers, report.decoderProviders, report.featureProviders], [['cpu'], ['cpu'], ['cpu']]);
      assert.deepEqual(report.guidance, { kind: 'classifier_free', scale: 1, guidedChannels: 3 });
      const stats = report.statistics;
      assert.ok(stats?.inceptionScore && stats.accuracy);
      assert.equal(stats.samples, SEEDS);

      // The Inception Score of the stored images, in seed order, recomputed here: the statistics are the decoded images'.
      const network = await openFeatureNetwork(classifier, { threads: 1 });
      try {
        const images = new Uint8Array(SEEDS * 28 * 28);
        for (let seed = 0; seed < SEEDS; seed++) images.set(run.images.get(seed) as Uint8Array, seed * 28 * 28);
        const { logits } = await network.extract(images, [SEEDS, 28, 28, 1]);
        assert.ok(logits);
        const is = inceptionScore(softmaxRows(logits, 10), 10, stats.inceptionScore.splitSize);
        assert.ok(
          Math.abs(is.mean - stats.inceptionScore.mean) <= 1e-6 * is.mean,
          `IS ${stats.inceptionScore.mean} vs the stored images' ${is.mean}`,
        );
      } finally {
        network.dispose();
      }
    } finally {
      store.close();
    }
  });
});
