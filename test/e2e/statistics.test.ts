/**
 * Evaluation statistics end to end (docs/evaluation-runs.md): a run launched with --stats, sampled
 * by worker processes of which one is killed in the middle of a shard, finalized into report.json
 * and stats.npz; the FID equals that of all the run's features taken at once, and the run serves as
 * the reference of another run.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { decodeStatsNpz, encodeStatsNpz } from '@diffq/codecs';
import { keys, type RunReport } from '@diffq/contract';
import { featureStats, frechetDistance, inceptionScore, softmaxRows } from '@diffq/metrics';
import { openFeatureNetwork } from '@diffq/onnx';
import { createExporter, Producer } from '@diffq/producer';
import { decodeShardFeatures, getJson, readShardMeta } from '@diffq/storage';
import { writeRandomMnistClassifier } from '../fixtures/random-feature-model.ts';
import { writeRandomModel } from '../fixtures/random-model.ts';
import { assertEverySeedOnce, assertExitClean, REPO, readStoredRun, runDiffq, useTestEnv, waitFor } from './harness.ts';

const SEEDS = 64;
const SHARD = 16;
const FEATURE_DIM = 32;
/** Locks long enough for a loaded 2-core machine, short enough that a killed worker's shard is back in seconds. */
const LOCKS = ['--lock-duration', '10s', '--stalled-interval', '1s'];

function relativeDiff(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);
}

describe('a run with evaluation statistics', () => {
  const env = useTestEnv('statistics');
  let model: string;
  let classifier: string;
  let refPath: string;

  before(async () => {
    // MNIST-shaped: a class-conditional 28×28 grey UNet, and the MNIST feature network's architecture.
    model = await writeRandomModel(join(env.dir, 'digits'), { imageSize: 28, inChannels: 1, numClasses: 11, attentionResolutions: '' });
    classifier = writeRandomMnistClassifier(join(env.dir, 'classifier'));
    const images = new Uint8Array(48 * 28 * 28).map((_, i) => (i * 2654435761) >>> 24);
    const network = await openFeatureNetwork(classifier);
    const { features } = await network.extract(images, [48, 28, 28, 1]);
    network.dispose();
    const ref = featureStats(features, FEATURE_DIM);
    refPath = join(env.dir, 'reference.npz');
    writeFileSync(refPath, encodeStatsNpz({ ...ref, features }));
  });

  it('writes the FID of all its features at once, after a worker was killed mid-shard and shards finished out of order', {
    timeout: 300_000,
  }, async () => {
    await env.launch({
      runId: 'evaluated',
      model,
      seeds: `0-${SEEDS - 1}`,
      shardSize: SHARD,
      steps: 4,
      flags: ['--labels', 'balanced', '--stats', 'fid,is,pr,accuracy', '--features', classifier, '--ref', refPath],
    });
    const queue = await env.sampleQueue(model);
    // Micro-batches of 1 make a shard take many forward passes, so the kill lands inside one.
    const victim = env.spawnWorker({ model, batchSize: 1, id: 'victim', args: LOCKS });
    let killedJob = '';
    await waitFor(
      'the victim to start a shard',
      async () => {
        const active = await queue.getJobs(['active']);
        killedJob = active.find((job) => job.processedBy === 'victim')?.id ?? '';
        return killedJob !== '';
      },
      120_000,
      20,
    );
    await new Promise((r) => setTimeout(r, 100));
    victim.child.kill('SIGKILL');
    await victim.exited;
    const store = env.store();
    const killed = Number(killedJob.split('.').at(-1));
    assert.equal(await store.exists(keys.shardMeta('evaluated', killed)), false, 'the killed shard was not finished');

    // Three survivors take the shards in whatever order they get them.
    await assertExitClean(env.spawnWorkers(['s0', 's1', 's2'], { model, batchSize: 4, exitWhenIdle: true, args: LOCKS }));
    const run = await readStoredRun(store, 'evaluated');
    assertEverySeedOnce(run, SEEDS);

    const report = (await getJson(store, keys.report('evaluated'))) as RunReport;
    const stats = report.statistics;
    assert.ok(stats, 'report.json has statistics');
    assert.equal(stats.samples, SEEDS);
    assert.equal(stats.featureNetwork.architecture, 'mnist-classifier');
    // The workers' onnx runs both networks on cpu (DIFFQ_ONNX_PROVIDER unset); a pixel model has no decoder.
    assert.deepEqual([report.providers, report.decoderProviders, report.featureProviders], [['cpu'], [], ['cpu']]);

    // All the run's features at once, in seed order, from the features files the shards named.
    const shards = SEEDS / SHARD;
    const all = new Float32Array(SEEDS * FEATURE_DIM);
    const logits = new Float32Array(SEEDS * 10);
    const labels: number[] = [];
    const network = await openFeatureNetwork(classifier);
    for (let i = 0; i < shards; i++) {
      const meta = await readShardMeta(store, 'evaluated', i);
      assert.ok(meta?.features, `shard ${i}'s .json names its features`);
      assert.ok(meta.timings.features >= 0, 'feature time is a phase of its own');
      assert.deepEqual(meta.providers, { denoiser: 'cpu', features: 'cpu' }, `shard ${i} records what ran each network`);
      const f = decodeShardFeatures((await store.get(keys.features('evaluated', i))) as Uint8Array, `shard ${i}`);
      all.set(f.features, i * SHARD * FEATURE_DIM);
      logits.set(f.logits as Float32Array, i * SHARD * 10);
      labels.push(...(f.labels ?? []));
      // They are the features of the stored images.
      const images = new Uint8Array(SHARD * 28 * 28);
      for (const [k, seed] of meta.seeds.entries()) images.set(run.images.get(seed) as Uint8Array, k * 28 * 28);
      const fresh = await network.extract(images, [SHARD, 28, 28, 1]);
      const worst = Math.max(...f.features.map((v, k) => Math.abs(v - fresh.features[k])));
      assert.ok(worst < 1e-5, `shard ${i}: stored features differ from the stored images' by ${worst}`);
    }
    network.dispose();
    const ref = decodeStatsNpz(readFileSync(refPath), refPath);
    const atOnce = frechetDistance(featureStats(all, FEATURE_DIM), ref);
    assert.ok(relativeDiff(stats.fid as number, atOnce) <= 1e-9, `finalizer FID ${stats.fid} vs all at once ${atOnce}`);
    const is = inceptionScore(softmaxRows(logits, 10), 10, 5000);
    assert.ok(relativeDiff(stats.inceptionScore?.mean as number, is.mean) <= 1e-12);
    assert.equal(stats.precisionRecall?.samples, SEEDS);
    assert.equal(stats.accuracy?.samples, SEEDS);
    assert.deepEqual(
      labels,
      run.metas.flatMap((m) => m.labels ?? []),
      'features carry the requested classes',
    );

    // stats.npz: the run's own Gaussian, float64, as pytorch-fid reads it.
    const own = decodeStatsNpz((await store.get(keys.stats('evaluated'))) as Uint8Array, 'stats.npz');
    const expected = featureStats(all, FEATURE_DIM);
    assert.ok(own.mu.every((m, i) => Math.abs(m - expected.mu[i]) <= 1e-9 * (1 + Math.abs(expected.mu[i]))));
    assert.ok(own.sigma.every((s, i) => Math.abs(s - expected.sigma[i]) <= 1e-9 * (1 + Math.abs(expected.sigma[i]))));

    const printed = await runDiffq(['report', 'evaluated', ...env.flags, '--store', env.storeUrl]);
    assert.equal(printed.code, 0, printed.err);
    for (const word of ['FID', 'IS', 'precision', 'recall', 'accuracy']) assert.match(printed.out, new RegExp(word), printed.out);
    assert.match(printed.out, /; ran on cpu; feature network on cpu\)/, printed.out);

    // The live FID: diffq status and the exporter's gauge, from the same stored shards.
    const status = await runDiffq(['status', 'evaluated', ...env.flags, '--store', env.storeUrl]);
    assert.match(
      status.out,
      new RegExp(`FID +${(stats.fid as number).toPrecision(6)} over the ${SEEDS} samples stored so far`),
      status.out,
    );
    const producer = new Producer({ redis: { url: env.redisUrl }, prefix: env.prefix, store: env.storeUrl });
    try {
      const exporter = createExporter(producer);
      await exporter.refresh();
      const gauge = (await exporter.registry.getSingleMetric('diffq_run_fid')?.get())?.values.find((v) => v.labels.run === 'evaluated');
      assert.ok(gauge && relativeDiff(gauge.value, stats.fid as number) <= 1e-9, `diffq_run_fid ${gauge?.value} vs ${stats.fid}`);
    } finally {
      await producer.close();
    }
  });

  it('reports the shipped MNIST model against the held-out digits, beside its floor', { timeout: 300_000 }, async () => {
    // --features and --ref come from models/mnist/model.json's evaluation block.
    const shipped = join(REPO, 'models', 'mnist');
    await env.launch({
      runId: 'shipped',
      model: shipped,
      seeds: '0-29',
      shardSize: 10,
      steps: 10,
      flags: ['--sampler', 'ddim', '--guidance-scale', '3', '--labels', 'balanced', '--stats', 'fid,is,pr,accuracy'],
    });
    await env.sampleInProcess({ batchSize: 10, model: shipped });
    const report = (await getJson(env.store(), keys.report('shipped'))) as RunReport;
    const stats = report.statistics;
    assert.ok(stats);
    assert.equal(stats.featureNetwork.uri, join(REPO, 'models', 'mnist-classifier'));
    assert.equal(stats.reference?.uri, join(REPO, 'models', 'mnist-classifier', 'heldout-stats.npz'));
    assert.ok((stats.fid as number) > 0 && (stats.floor?.fid as number) > 0, JSON.stringify(stats));
    assert.ok(
      stats.floor && stats.floor.fid < (stats.fid as number),
      'the training digits are closer to the held-out digits than 30 samples',
    );
    assert.ok((stats.inceptionScore?.mean as number) > 1);
    assert.equal(stats.precisionRecall?.samples, 30);
    assert.equal(stats.accuracy?.samples, 30);
    const printed = await runDiffq(['report', 'shipped', ...env.flags, '--store', env.storeUrl]);
    for (const line of [
      /FID +[\d.]+ \(floor [\d.]+: training data against the reference\)/,
      /IS +[\d.]+ ±/,
      /precision [\d.]+, recall [\d.]+/,
      /accuracy +[\d.]+%/,
    ])
      assert.match(printed.out, line, printed.out);
  });

  it('serves as the reference of another run of the same seeds, which then scores an FID of 0', { timeout: 300_000 }, async () => {
    await env.launch({
      runId: 'against-run',
      model,
      seeds: `0-${SEEDS - 1}`,
      shardSize: SHARD,
      steps: 4,
      flags: ['--labels', 'balanced', '--stats', 'fid', '--features', classifier, '--ref', 'evaluated'],
    });
    await env.sampleInProcess({ batchSize: 8, model });
    const report = (await getJson(env.store(), keys.report('against-run'))) as RunReport;
    assert.ok(report.statistics?.reference?.uri.endsWith('/evaluated/stats.npz'), report.statistics?.reference?.uri);
    assert.ok(Math.abs(report.statistics?.fid as number) < 1e-6, `FID of identical samples: ${report.statistics?.fid}`);
  });
});
