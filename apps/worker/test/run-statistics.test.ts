import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeStatsNpz, encodeStatsNpz } from '@diffq/codecs';
import { keys, type RunSpec, type RunSpecInput, SeedList, shardSeeds } from '@diffq/contract';
import {
  FeatureAccumulator,
  FeatureRows,
  featureStats,
  frechetDistance,
  inceptionScore,
  javascriptPairwiseKernel,
  kernelInceptionDistance,
  kidSubsets,
  precisionRecallOf,
  softmaxRows,
} from '@diffq/metrics';
import { type ObjectStore, openStore, sha256Hex, writeManifest } from '@diffq/storage';
import { testShardContext } from '../../../test/fixtures/shard-context.ts';
import { xorshiftValues } from '../../../test/fixtures/xorshift.ts';
import { finalizeRun, readAllShardMetas } from '../src/finalize-job.ts';
import { evaluateRun } from '../src/run-statistics.ts';
import { writeShard } from '../src/shard-output.ts';

const N = 60;
const SHARD = 10;
const D = 8;
const K = 5;

const allFeatures = xorshiftValues(N * D, 7, 3);
const allLogits = xorshiftValues(N * K, 11, 6);
const labels = Array.from({ length: N }, (_, i) => i % K);
const refFeatures = xorshiftValues(40 * D, 13, 3);
/** The "training data": its FID to the reference is the floor. */
const floorFeatures = xorshiftValues(40 * D, 17, 3);

describe('the finalizer’s statistics', () => {
  let dir: string;
  let refPath: string;
  let refBytes: Uint8Array;
  let floorBytes: Uint8Array;
  const ref = featureStats(refFeatures, D);

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'diffq-run-stats-'));
    refPath = join(dir, 'ref.npz');
    refBytes = encodeStatsNpz({ mu: ref.mu, sigma: ref.sigma, features: refFeatures });
    writeFileSync(refPath, refBytes);
    floorBytes = encodeStatsNpz(featureStats(floorFeatures, D));
    writeFileSync(join(dir, 'floor.npz'), floorBytes);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function runWithShardsIn(order: number[], runId: string): Promise<{ store: ObjectStore; spec: RunSpec }> {
    const store = openStore(`file://${join(dir, 'runs')}`);
    const input: RunSpecInput = {
      runId,
      model: { uri: '/models/m', id: 'model-000000000000', digest: '0'.repeat(64) },
      sampler: { kind: 'ddim', respacing: '4' },
      seeds: `0-${N - 1}`,
      seedCount: N,
      shardSize: SHARD,
      statistics: {
        kinds: ['fid', 'is', 'pr', 'accuracy', 'kid'],
        features: { uri: '/models/f', digest: '1'.repeat(64), architecture: 'test', preprocess: 'none', featureDim: D },
        reference: { uri: refPath, digest: sha256Hex(refBytes) },
        floor: { uri: join(dir, 'floor.npz'), digest: sha256Hex(floorBytes) },
      },
      createdAt: new Date().toISOString(),
      codeVersion: 'test',
    };
    const spec = await writeManifest(store, input);
    for (const shardIndex of order) {
      const seeds = shardSeeds(SeedList.parse(spec.seeds), SHARD, shardIndex);
      const rows = (a: Float32Array, d: number) => a.slice(seeds[0] * d, (seeds.at(-1)! + 1) * d);
      const shardLabels = seeds.map((s) => labels[s]);
      await writeShard(
        testShardContext({ store, spec, shardIndex, seeds }, { timings: { sample: 1, features: 0.5 } }),
        { images: new Uint8Array(seeds.length * 4), imageShape: [seeds.length, 2, 2, 1], labels: shardLabels },
        { features: rows(allFeatures, D), featureDim: D, logits: rows(allLogits, K), logitDim: K, seeds, labels: shardLabels },
      );
    }
    return { store, spec };
  }

  it('reads the shards in seed order whatever order they are listed in, so that order-dependent statistics hold', async () => {
    const { store, spec } = await runWithShardsIn([3, 0, 5, 1, 4, 2], 'listing-order');
    const metas = await readAllShardMetas(store, spec);
    const inSeedOrder = [...metas].sort((a, b) => a.shardIndex - b.shardIndex);
    const reversed = [...inSeedOrder].reverse();
    const a = await evaluateRun(store, spec, inSeedOrder);
    const b = await evaluateRun(store, spec, reversed);
    const c = await evaluateRun(store, spec, [
      inSeedOrder[2],
      inSeedOrder[5],
      inSeedOrder[0],
      inSeedOrder[4],
      inSeedOrder[1],
      inSeedOrder[3],
    ]);
    assert.ok(a && b && c);
    for (const other of [b, c]) assert.deepEqual({ ...other.statistics, seconds: 0 }, { ...a.statistics, seconds: 0 });
    // KID's subsets pick rows by position: fed in reversed shard order, the rows would give another KID.
    const reversedRows = new FeatureRows(D);
    for (let s = N / SHARD - 1; s >= 0; s--) reversedRows.append(allFeatures.slice(s * SHARD * D, (s + 1) * SHARD * D));
    const subsets = kidSubsets(N, 40);
    const ref = FeatureRows.of(refFeatures, D);
    const shuffledKid = await kernelInceptionDistance(javascriptPairwiseKernel, reversedRows, ref, subsets);
    const seedOrderKid = await kernelInceptionDistance(javascriptPairwiseKernel, FeatureRows.of(allFeatures, D), ref, subsets);
    assert.notEqual(shuffledKid.mean, seedOrderKid.mean);
    assert.ok(Math.abs((a.statistics.kid?.mean as number) - seedOrderKid.mean) <= 1e-9 * Math.abs(seedOrderKid.mean));
  });

  it('equals the statistics of all features at once', async () => {
    const a = await runWithShardsIn([3, 0, 5, 1, 4, 2], 'shuffled');
    const ra = (await finalizeRun(a.store, a.spec)).report.statistics;
    assert.ok(ra);
    const atOnce = frechetDistance(featureStats(allFeatures, D), ref);
    assert.ok(Math.abs((ra.fid as number) - atOnce) <= 1e-9 * Math.abs(atOnce), `${ra.fid} vs ${atOnce}`);
    const is = inceptionScore(softmaxRows(allLogits, K), K, 5000);
    assert.ok(Math.abs((ra.inceptionScore?.mean as number) - is.mean) <= 1e-12 * is.mean);
    assert.equal(ra.inceptionScore?.splits, 1);
    const pr = await precisionRecallOf(javascriptPairwiseKernel, refFeatures, allFeatures, D, 3);
    assert.deepEqual(
      { precision: ra.precisionRecall?.precision, recall: ra.precisionRecall?.recall },
      { precision: pr.precision, recall: pr.recall },
    );
    assert.deepEqual([ra.precisionRecall?.samples, ra.precisionRecall?.referenceSamples, ra.precisionRecall?.k], [N, 40, 3]);
    const whole = new FeatureAccumulator(['kid'], { featureDim: D });
    whole.add({ features: allFeatures, labels: null });
    const kid = (await whole.finish({ ...ref, features: refFeatures })).kid;
    assert.ok(kid && ra.kid);
    assert.ok(Math.abs(ra.kid.mean - kid.mean) <= 1e-9 * Math.abs(kid.mean) && Math.abs(ra.kid.std - kid.std) <= 1e-9 * kid.std);
    assert.deepEqual([ra.kid.subsets, ra.kid.subsetSize], [100, 40]);
    let right = 0;
    for (let i = 0; i < N; i++) {
      const row = Array.from(allLogits.subarray(i * K, (i + 1) * K));
      if (row.indexOf(Math.max(...row)) === labels[i]) right++;
    }
    assert.equal(ra.accuracy?.accuracy, right / N);
    assert.equal(ra.samples, N);
    const floor = frechetDistance(featureStats(floorFeatures, D), ref);
    assert.ok(
      Math.abs((ra.floor?.fid as number) - floor) <= 1e-9 * floor,
      `the floor, training data against the reference: ${ra.floor?.fid} vs ${floor}`,
    );
    assert.deepEqual(ra.reference, { ...a.spec.statistics?.reference, preprocess: null }, 'the reference records no preprocessing');
    assert.match(ra.warnings?.[0] ?? '', /ref\.npz does not record its preprocessing; this side uses "none"/);
  });

  it('writes the run’s own stats.npz, which reads back as the statistics of its features', async () => {
    const { store, spec } = await runWithShardsIn([0, 1, 2, 3, 4, 5], 'own-stats');
    await finalizeRun(store, spec);
    const stats = decodeStatsNpz((await store.get(keys.stats('own-stats'))) as Uint8Array, 'stats.npz');
    const atOnce = featureStats(allFeatures, D);
    for (let i = 0; i < D * D; i++) assert.ok(Math.abs(stats.sigma[i] - atOnce.sigma[i]) <= 1e-9 * (1 + Math.abs(atOnce.sigma[i])));
    for (let i = 0; i < D; i++) assert.ok(Math.abs(stats.mu[i] - atOnce.mu[i]) <= 1e-12 * (1 + Math.abs(atOnce.mu[i])));
    assert.deepEqual(stats.features, allFeatures, 'the feature rows a precision/recall against this run would use');
    assert.equal(stats.spatial, undefined, 'no sFID asked, no mu_s');
    assert.equal(stats.preprocess, 'none', "the preprocessing of the run's feature network");
  });

  it('refuses a shard whose features are gone, and a reference that changed since launch', async () => {
    const { store, spec } = await runWithShardsIn([0, 1, 2, 3, 4, 5], 'damaged');
    await store.delete(keys.features('damaged', 4));
    await assert.rejects(finalizeRun(store, spec), /lacks 1 of 6 shards \(4\)/);
    const other = await runWithShardsIn([0, 1, 2, 3, 4, 5], 'moved-ref');
    writeFileSync(refPath, encodeStatsNpz({ mu: ref.mu.map((m) => m + 1), sigma: ref.sigma, features: refFeatures }));
    try {
      await assert.rejects(finalizeRun(other.store, other.spec), /changed since launch/);
    } finally {
      writeFileSync(refPath, refBytes);
    }
  });
});
