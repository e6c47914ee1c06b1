import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  FeatureAccumulator,
  featureStats,
  frechetDistance,
  inceptionScore,
  javascriptPairwiseKernel,
  precisionRecallOf,
  softmaxRows,
} from '@diffq/metrics';
import { xorshiftValues } from '../../../test/fixtures/xorshift.ts';

const D = 6;
const K = 4;
const S = 5;
const N = 53;
const features = xorshiftValues(N * D, 3, 2);
const logits = xorshiftValues(N * K, 5, 8);
const spatial = xorshiftValues(N * S, 9);
const labels = Array.from({ length: N }, (_, i) => (i * 7) % K);

/** Feeds rows [0, N) in batches of the given sizes. */
function feed(acc: FeatureAccumulator, sizes: number[]): void {
  let start = 0;
  for (const size of sizes) {
    const end = Math.min(N, start + size);
    acc.add({
      features: features.slice(start * D, end * D),
      logits: logits.slice(start * K, end * K),
      spatial: spatial.slice(start * S, end * S),
      labels: labels.slice(start, end),
    });
    start = end;
  }
  assert.equal(start, N);
}

describe('FeatureAccumulator', () => {
  const reference = {
    ...featureStats(xorshiftValues(30 * D, 17, 2), D),
    spatial: featureStats(xorshiftValues(30 * S, 19), S),
    features: xorshiftValues(30 * D, 17, 2),
  };
  const kinds = ['fid', 'sfid', 'is', 'pr', 'accuracy'];

  it('gives the statistics of all rows at once, however the rows were cut into shards', async () => {
    const splitSize = 7;
    const results = await Promise.all(
      [[N], [10, 10, 10, 10, 13], [1, 6, 20, 26], [3, 50]].map((sizes) => {
        const acc = new FeatureAccumulator(kinds, { featureDim: D, logitDim: K, spatialDim: S }, { splitSize });
        feed(acc, sizes);
        return acc.finish(reference);
      }),
    );
    const fid = frechetDistance(featureStats(features, D), reference);
    const sfid = frechetDistance(featureStats(spatial, S), reference.spatial);
    const is = inceptionScore(softmaxRows(logits, K), K, splitSize);
    const pr = await precisionRecallOf(javascriptPairwiseKernel, reference.features, features, D, 3);
    for (const r of results) {
      assert.ok(Math.abs((r.fid as number) - fid) <= 1e-9 * fid, `fid ${r.fid} vs ${fid}`);
      assert.ok(Math.abs((r.sfid as number) - sfid) <= 1e-9 * sfid, `sfid ${r.sfid} vs ${sfid}`);
      assert.equal(r.inceptionScore?.splits, Math.ceil(N / splitSize));
      assert.ok(Math.abs((r.inceptionScore?.mean as number) - is.mean) <= 1e-12 * is.mean);
      assert.ok(Math.abs((r.inceptionScore?.std as number) - is.std) <= 1e-9);
      assert.deepEqual([r.precisionRecall?.precision, r.precisionRecall?.recall], [pr.precision, pr.recall]);
      assert.deepEqual([r.precisionRecall?.samples, r.precisionRecall?.referenceSamples], [N, 30]);
      assert.equal(r.samples, N);
    }
  });

  it('counts a sample right when the argmax of its logits is its requested class, per class too', async () => {
    const acc = new FeatureAccumulator(['accuracy'], { featureDim: D, logitDim: K });
    feed(acc, [N]);
    const r = await acc.finish();
    const perClass: Record<string, [number, number]> = {};
    for (let i = 0; i < N; i++) {
      const row = Array.from(logits.subarray(i * K, (i + 1) * K));
      const hit = row.indexOf(Math.max(...row)) === labels[i] ? 1 : 0;
      perClass[labels[i]] ??= [0, 0];
      perClass[labels[i]][0] += hit;
      perClass[labels[i]][1] += 1;
    }
    const right = Object.values(perClass).reduce((a, [h]) => a + h, 0);
    assert.equal(r.accuracy?.accuracy, right / N);
    assert.deepEqual(r.accuracy?.perClass, Object.fromEntries(Object.entries(perClass).map(([k, [h, t]]) => [k, h / t])));
  });

  it('refuses statistics the network cannot give, naming what is missing', async () => {
    assert.throws(() => new FeatureAccumulator(['sfid'], { featureDim: D }), /sfid needs spatial features/);
    assert.throws(() => new FeatureAccumulator(['is'], { featureDim: D }), /is needs logits/);
    const acc = new FeatureAccumulator(['fid'], { featureDim: D });
    feed(acc, [N]);
    await assert.rejects(acc.finish(), /fid needs reference statistics/);
  });
});
