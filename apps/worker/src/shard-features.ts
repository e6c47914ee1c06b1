/**
 * The feature phase of a shard (docs/evaluation-runs.md): the sampled images, uint8 NHWC exactly as
 * the shard stores them, through the run's feature network in micro-batches of the worker's batch
 * size. Each row depends only on its image, so the micro-batch size never changes a feature.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { StatisticsSpec } from '@diffq/contract';
import type { FeatureNetwork } from '@diffq/networks';
import type { ShardFeatures } from '@diffq/storage';
import { type SampledShard, SamplingAborted } from './shard-sampler.ts';

/** Rows [n, dim] from parts of [·, dim], concatenated in order. */
function concat(parts: Float32Array[], total: number): Float32Array {
  const out = new Float32Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

function dimOf(values: Float32Array, rows: number, what: string, expected: number | null): number {
  const dim = values.length / rows;
  if (!Number.isInteger(dim) || (expected !== null && dim !== expected)) {
    throw new Error(
      `the feature network returned ${values.length} ${what} values for ${rows} images; expected ${expected ?? 'a whole number'} per image`,
    );
  }
  return dim;
}

/**
 * Features of every image of the shard; logits when the network has them (IS, accuracy), spatial
 * features only when the run asks sFID. Checks the abort signal between micro-batches.
 */
export async function extractShardFeatures(
  network: FeatureNetwork,
  shard: SampledShard,
  seeds: readonly number[],
  statistics: StatisticsSpec,
  options: { batchSize: number; signal?: AbortSignal },
): Promise<ShardFeatures> {
  const [n, h, w, c] = shard.imageShape;
  const imageSize = h * w * c;
  const keepSpatial = statistics.kinds.includes('sfid');
  const features: Float32Array[] = [];
  const logits: Float32Array[] = [];
  const spatial: Float32Array[] = [];
  for (let start = 0; start < n; start += options.batchSize) {
    const rows = Math.min(options.batchSize, n - start);
    const images = shard.images.subarray(start * imageSize, (start + rows) * imageSize);
    const out = await network.extract(images, [rows, h, w, c]);
    dimOf(out.features, rows, 'feature', network.info.featureDim);
    features.push(out.features);
    if (out.logits) {
      dimOf(out.logits, rows, 'logit', network.info.logitDim);
      logits.push(out.logits);
    }
    if (keepSpatial) {
      if (!out.spatial)
        throw new Error(`the run asks sfid but the feature network (${network.info.architecture}) gives no spatial features`);
      dimOf(out.spatial, rows, 'spatial', network.info.spatialDim);
      spatial.push(out.spatial);
    }
    await yieldToEventLoop();
    if (options.signal?.aborted) throw new SamplingAborted(String(options.signal.reason ?? 'aborted'));
  }
  const result: ShardFeatures = {
    features: concat(features, n * network.info.featureDim),
    featureDim: network.info.featureDim,
    seeds: [...seeds],
    labels: shard.labels,
  };
  if (logits.length === features.length && network.info.logitDim) {
    result.logits = concat(logits, n * network.info.logitDim);
    result.logitDim = network.info.logitDim;
  }
  if (keepSpatial && network.info.spatialDim) {
    result.spatial = concat(spatial, n * network.info.spatialDim);
    result.spatialDim = network.info.spatialDim;
  }
  return result;
}
