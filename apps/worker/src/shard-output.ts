/**
 * Writes a sampled shard (docs/design.md#storage-layout): the PNGs first (if the run asks for them), then the npz,
 * then the features npz (a run with statistics), then the shard's .json last. Each put is atomic,
 * and the .json names the sha256 of the npz and of the features, so a crash anywhere leaves a shard
 * that is simply not done (storage's shardDone) and is redone with the same bytes.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { encodeNpz, encodePng, imageOf, int64Array, npyArray } from '@diffq/codecs';
import { keys, type RunSpec, type SamplingPrecision, SHARD_META_FORMAT, type ShardMeta, type ShardProviders } from '@diffq/contract';
import { encodeShardFeatures, type ObjectStore, type ShardFeatures, sha256Hex, writeShardMeta } from '@diffq/storage';
import type { SampledShard } from './shard-sampler.ts';

/** The npz of a shard: arr_0 uint8 [N, H, W, C], arr_1 int64 labels [N] (zeros when unconditional), seeds int64 [N]. */
export function shardNpz(shard: SampledShard, seeds: readonly number[]): Uint8Array {
  return encodeNpz({
    arr_0: npyArray(shard.images, shard.imageShape),
    // guided-diffusion's sampler saves arr_1 only for class-conditional runs; its evaluator reads
    // arr_0 alone, so a zero label column is harmless and keeps every shard's layout the same.
    arr_1: npyArray(int64Array(shard.labels ?? seeds.map(() => 0)), [seeds.length]),
    seeds: npyArray(int64Array(seeds), [seeds.length]),
  });
}

export interface ShardWriteContext {
  store: ObjectStore;
  spec: RunSpec;
  shardIndex: number;
  seeds: readonly number[];
  worker: { id: string; batchSize: number };
  engine: string;
  /** What ran the denoiser, and the decoder and the feature network where the shard used them. */
  providers: ShardProviders;
  precision: SamplingPrecision;
  /** A latent model's decoder precision; absent for a pixel model. */
  decoderPrecision?: SamplingPrecision;
  startedAt: Date;
  /** Seconds of the phases before writing (sample, and features for a run with statistics). */
  timings: Record<string, number>;
}

export async function writeShard(ctx: ShardWriteContext, shard: SampledShard, features?: ShardFeatures): Promise<ShardMeta> {
  const { store, spec, shardIndex, seeds } = ctx;
  const encodeStart = performance.now();
  const npz = shardNpz(shard, seeds);
  const featuresNpz = features ? encodeShardFeatures(features) : undefined;
  const encodeSeconds = (performance.now() - encodeStart) / 1000;
  const writeStart = performance.now();
  let pngSeconds = 0;
  if (spec.format === 'png' || spec.format === 'both') {
    const [, h, w, c] = shard.imageShape;
    for (let i = 0; i < seeds.length; i++) {
      const t = performance.now();
      const png = encodePng(imageOf(shard.images, i, h, w, c as 1 | 3 | 4));
      pngSeconds += (performance.now() - t) / 1000;
      await store.put(keys.png(spec.runId, seeds[i]), png, { contentType: 'image/png' });
      // Deflating hundreds of PNGs is CPU work; let lock renewal and /metrics in between.
      if (i % 16 === 15) await yieldToEventLoop();
    }
  }
  await store.put(keys.shardNpz(spec.runId, shardIndex), npz, { contentType: 'application/octet-stream' });
  if (featuresNpz) await store.put(keys.features(spec.runId, shardIndex), featuresNpz, { contentType: 'application/octet-stream' });
  const meta: ShardMeta = {
    format: SHARD_META_FORMAT,
    runId: spec.runId,
    shardIndex,
    seeds: [...seeds],
    labels: shard.labels,
    npzSha256: sha256Hex(npz),
    npzBytes: npz.byteLength,
    ...(featuresNpz ? { features: { sha256: sha256Hex(featuresNpz), bytes: featuresNpz.byteLength } } : {}),
    worker: ctx.worker,
    engine: ctx.engine,
    providers: ctx.providers,
    precision: ctx.precision,
    ...(ctx.decoderPrecision ? { decoderPrecision: ctx.decoderPrecision } : {}),
    startedAt: ctx.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    timings: {
      ...ctx.timings,
      encode: encodeSeconds + pngSeconds,
      write: (performance.now() - writeStart) / 1000 - pngSeconds,
    },
  };
  await writeShardMeta(store, meta);
  return meta;
}
