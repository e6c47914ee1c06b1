import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StatisticsSpec } from '@diffq/contract';
import type { FeatureNetwork, FeatureNetworkInfo, FeatureOutputs } from '@diffq/networks';
import { extractShardFeatures } from '../src/shard-features.ts';
import { SamplingAborted } from '../src/shard-sampler.ts';

/** A feature network whose rows are plain functions of each image's pixels: mean, max, and each pixel's parity. */
class PixelNetwork implements FeatureNetwork {
  readonly description = 'test';
  readonly provider = 'cpu';
  readonly batches: number[] = [];
  constructor(readonly info: FeatureNetworkInfo) {}

  async extract(images: Uint8Array, shape: readonly [number, number, number, number]): Promise<FeatureOutputs> {
    const [n, h, w, c] = shape;
    const size = h * w * c;
    this.batches.push(n);
    const features = new Float32Array(n * 2);
    const logits = new Float32Array(n * 3);
    const spatial = new Float32Array(n * size);
    for (let i = 0; i < n; i++) {
      const image = images.subarray(i * size, (i + 1) * size);
      features[2 * i] = image.reduce((a, b) => a + b, 0) / size;
      features[2 * i + 1] = Math.max(...image);
      logits.set([image[0], image[1], image[2]], 3 * i);
      spatial.set(
        image.map((v) => v % 2),
        i * size,
      );
    }
    return { features, logits, ...(this.info.spatialDim ? { spatial } : {}) };
  }

  dispose(): void {}
}

const info: FeatureNetworkInfo = {
  architecture: 'test',
  featureDim: 2,
  logitDim: 3,
  spatialDim: 4,
  channels: [1],
  imageSize: 2,
  preprocess: 'none',
  numClasses: 3,
};
const shard = {
  images: Uint8Array.from({ length: 7 * 4 }, (_, i) => (i * 37) % 251),
  imageShape: [7, 2, 2, 1] as [number, number, number, number],
  labels: [0, 1, 2, 0, 1, 2, 0],
};
const seeds = [10, 11, 12, 13, 14, 15, 16];
const statistics = (kinds: StatisticsSpec['kinds']): StatisticsSpec => ({
  kinds,
  features: { uri: '/f', digest: '0'.repeat(64), architecture: 'test', preprocess: 'none', featureDim: 2 },
});

describe('the feature phase of a shard', () => {
  it('gives every image its own row whatever the micro-batch size, with seeds and labels', async () => {
    const whole = await extractShardFeatures(new PixelNetwork(info), shard, seeds, statistics(['fid', 'is']), { batchSize: 7 });
    const network = new PixelNetwork(info);
    const batched = await extractShardFeatures(network, shard, seeds, statistics(['fid', 'is']), { batchSize: 3 });
    assert.deepEqual(network.batches, [3, 3, 1], 'micro-batches of the worker’s batch size');
    assert.deepEqual(batched, whole);
    assert.deepEqual([batched.featureDim, batched.logitDim, batched.seeds, batched.labels], [2, 3, seeds, shard.labels]);
    assert.equal(batched.features[2 * 6 + 1], Math.max(...shard.images.subarray(24, 28)), 'row 6 is image 6');
    assert.equal(batched.spatial, undefined, 'spatial features are kept only when the run asks sFID');
  });

  it('keeps the spatial features for sFID, and refuses a network without them', async () => {
    const withSpatial = await extractShardFeatures(new PixelNetwork(info), shard, seeds, statistics(['sfid']), { batchSize: 2 });
    assert.equal(withSpatial.spatialDim, 4);
    assert.equal(withSpatial.spatial?.length, 7 * 4);
    await assert.rejects(
      extractShardFeatures(new PixelNetwork({ ...info, spatialDim: null }), shard, seeds, statistics(['sfid']), { batchSize: 2 }),
      /asks sfid but the feature network \(test\) gives no spatial features/,
    );
  });

  it('stops between micro-batches when the job is aborted', async () => {
    const aborter = new AbortController();
    aborter.abort('shutdown');
    await assert.rejects(
      extractShardFeatures(new PixelNetwork(info), shard, seeds, statistics(['fid']), { batchSize: 2, signal: aborter.signal }),
      SamplingAborted,
    );
  });
});
