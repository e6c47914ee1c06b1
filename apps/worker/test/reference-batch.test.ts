import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeNpz, npyArray } from '@diffq/codecs';
import { keys, type RunSpec, SeedList, shardSeeds } from '@diffq/contract';
import { mnistDigits } from '@diffq/datasets';
import { featureStats, frechetDistance, javascriptPairwiseKernel, precisionRecallOf } from '@diffq/metrics';
import { openFeatureNetwork } from '@diffq/onnx';
import { type ObjectStore, openStore, sha256Hex, writeManifest } from '@diffq/storage';
import { writeRandomMnistClassifier } from '../../../test/fixtures/random-feature-model.ts';
import { testShardContext } from '../../../test/fixtures/shard-context.ts';
import { xorshiftValues } from '../../../test/fixtures/xorshift.ts';
import { finalizeRun } from '../src/finalize-job.ts';
import { networkKey } from '../src/reference-features.ts';
import { writeShard } from '../src/shard-output.ts';

const N = 30;
const SHARD = 10;
const REF_IMAGES = 40;
/** Spatial features' dimension: the shards' and the file's mu_s/sigma_s. */
const S = 6;

describe('a reference batch as guided-diffusion ships them (arr_0 beside mu, sigma, mu_s, sigma_s)', () => {
  let dir: string;
  let network: string;
  let networkDigest: string;
  let batchPath: string;
  let batchBytes: Uint8Array;
  let sampleFeatures: Float32Array;
  let refImageFeatures: Float32Array;
  const sampleSpatial = xorshiftValues(N * S, 3, 2);
  /** The file's statistics are not those of its images: the run must use them as they are. */
  const fileGaussian = featureStats(Float64Array.from(xorshiftValues(50 * 32, 5, 4)), 32);
  const fileSpatial = featureStats(Float64Array.from(xorshiftValues(50 * S, 7, 2)), S);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'diffq-ref-batch-'));
    network = writeRandomMnistClassifier(join(dir, 'classifier'));
    networkDigest = sha256Hex(readFileSync(join(network, 'weights.safetensors')));
    const heldout = await mnistDigits('heldout');
    const refImages = heldout.images.subarray(0, REF_IMAGES * 784);
    const sampleImages = heldout.images.subarray(1000 * 784, (1000 + N) * 784);
    const net = await openFeatureNetwork(network);
    try {
      refImageFeatures = (await net.extract(refImages, [REF_IMAGES, 28, 28, 1])).features;
      sampleFeatures = (await net.extract(sampleImages, [N, 28, 28, 1])).features;
    } finally {
      net.dispose();
    }
    batchPath = join(dir, 'VIRTUAL_mnist_labeled.npz');
    batchBytes = encodeNpz({
      arr_0: npyArray(refImages, [REF_IMAGES, 28, 28, 1]),
      mu: npyArray(fileGaussian.mu, [32]),
      sigma: npyArray(fileGaussian.sigma, [32, 32]),
      mu_s: npyArray(fileSpatial.mu, [S]),
      sigma_s: npyArray(fileSpatial.sigma, [S, S]),
    });
    writeFileSync(batchPath, batchBytes);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function finishedRun(runId: string): Promise<{ store: ObjectStore; spec: RunSpec }> {
    const store = openStore(`file://${join(dir, 'runs')}`);
    const spec = await writeManifest(store, {
      runId,
      model: { uri: '/models/m', id: 'model-000000000000', digest: '0'.repeat(64) },
      sampler: { kind: 'ddim', respacing: '4' },
      seeds: `0-${N - 1}`,
      seedCount: N,
      shardSize: SHARD,
      statistics: {
        kinds: ['fid', 'sfid', 'pr'],
        features: { uri: network, digest: networkDigest, architecture: 'mnist-classifier', preprocess: 'none', featureDim: 32 },
        reference: { uri: batchPath, digest: sha256Hex(batchBytes) },
      },
      createdAt: new Date().toISOString(),
      codeVersion: 'test',
    });
    for (let shardIndex = 0; shardIndex < N / SHARD; shardIndex++) {
      const seeds = shardSeeds(SeedList.parse(spec.seeds), SHARD, shardIndex);
      const rows = (a: Float32Array, d: number) => a.slice(seeds[0] * d, (seeds.at(-1)! + 1) * d);
      await writeShard(
        testShardContext({ store, spec, shardIndex, seeds }),
        { images: new Uint8Array(seeds.length * 784), imageShape: [seeds.length, 28, 28, 1], labels: null },
        { features: rows(sampleFeatures, 32), featureDim: 32, spatial: rows(sampleSpatial, S), spatialDim: S, seeds, labels: null },
      );
    }
    return { store, spec };
  }

  it('gives FID and sFID against the file’s own statistics and P/R against its images, whose features are computed once', async () => {
    const first = await finishedRun('first');
    const one = (await finalizeRun(first.store, first.spec)).report.statistics;
    assert.ok(one);
    const fid = frechetDistance(featureStats(Float64Array.from(sampleFeatures), 32), fileGaussian);
    assert.ok(Math.abs((one.fid as number) - fid) <= 1e-9 * fid, `FID ${one.fid} against the file's mu/sigma: ${fid}`);
    const sfid = frechetDistance(featureStats(Float64Array.from(sampleSpatial), S), fileSpatial);
    assert.ok(Math.abs((one.sfid as number) - sfid) <= 1e-9 * sfid, `sFID ${one.sfid} against the file's mu_s/sigma_s: ${sfid}`);
    const pr = await precisionRecallOf(javascriptPairwiseKernel, refImageFeatures, sampleFeatures, 32, 3);
    assert.deepEqual(
      [one.precisionRecall?.precision, one.precisionRecall?.recall, one.precisionRecall?.referenceSamples],
      [pr.precision, pr.recall, REF_IMAGES],
    );
    const cacheKey = keys.referenceFeatures(sha256Hex(batchBytes), networkKey(first.spec.statistics!.features));
    assert.deepEqual(one.referenceFeatures, { rows: REF_IMAGES, from: 'computed', uri: first.store.urlOf(cacheKey) });
    const cacheFile = join(dir, 'runs', cacheKey);
    const written = statSync(cacheFile).mtimeMs;

    const second = await finishedRun('second');
    const two = (await finalizeRun(second.store, second.spec)).report.statistics;
    assert.ok(two);
    assert.equal(two.referenceFeatures?.from, 'cache', 'the second run reads the rows the first one computed');
    assert.equal(statSync(cacheFile).mtimeMs, written, 'and does not write them again');
    assert.deepEqual(two.precisionRecall, one.precisionRecall);
    assert.equal(two.fid, one.fid);
  });

  it('keys the cached rows by the network too: another feature network computes its own', () => {
    const features = { uri: network, digest: networkDigest, architecture: 'mnist-classifier', preprocess: 'none', featureDim: 32 };
    const keyOf = (f: typeof features) => keys.referenceFeatures(sha256Hex(batchBytes), networkKey(f));
    assert.notEqual(keyOf(features), keyOf({ ...features, digest: 'e'.repeat(64) }));
    assert.notEqual(keyOf(features), keyOf({ ...features, preprocess: 'tf1' }));
    assert.notEqual(keyOf(features), keyOf({ ...features, featureDim: 64 }));
  });
});
