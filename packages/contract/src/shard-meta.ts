/**
 * `<runId>/shards/<index>.json`: what a finished shard holds. It is written after the npz, and the
 * shard counts as done only when it exists and its npzSha256 is the sha256 of the stored npz, so a
 * crash between the two writes leaves a shard that is simply redone.
 */
import { z } from 'zod';
import { RunIdSchema } from './ids.ts';
import { MAX_SHARD_SIZE } from './run-spec.ts';
import { MAX_SEED } from './seeds.ts';
import { parseWith } from './zod-errors.ts';

export const SHARD_META_FORMAT = 'diffq-shard/1';

const seconds = z.number().min(0, 'must be a duration in seconds ≥ 0');

export const ShardMetaSchema = z
  .object({
    format: z.literal(SHARD_META_FORMAT),
    runId: RunIdSchema,
    shardIndex: z.number().int().min(0),
    seeds: z.array(z.number().int().min(0).max(MAX_SEED)).min(1).max(MAX_SHARD_SIZE),
    /** The class label of each sample, in seed order; null for an unconditional model. */
    labels: z.array(z.number().int().min(0)).nullable(),
    /** sha256 of the npz's bytes, lowercase hex. */
    npzSha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be a sha256 digest written as 64 lowercase hex digits'),
    npzBytes: z.number().int().min(0),
    /** Which worker produced it (host and process), with its micro-batch size, for the logs only. */
    worker: z.object({ id: z.string().min(1), batchSize: z.number().int().min(1) }).strict(),
    /** The denoiser engine, e.g. "tfjs wasm" or "onnxruntime cpu". */
    engine: z.string().min(1),
    startedAt: z.string().datetime(),
    finishedAt: z.string().datetime(),
    /** Seconds per phase, e.g. { load: 1.2, sample: 80.5, encode: 0.3, write: 0.1 }. */
    timings: z.record(z.string(), seconds),
  })
  .strict()
  .superRefine((meta, ctx) => {
    if (meta.labels !== null && meta.labels.length !== meta.seeds.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['labels'],
        message: `must hold one label per seed, ${meta.seeds.length}, or be null (holds ${meta.labels.length})`,
      });
    }
  });

export type ShardMeta = z.output<typeof ShardMetaSchema>;

export function parseShardMeta(input: unknown): ShardMeta {
  return parseWith(ShardMetaSchema, input, 'shard metadata');
}
