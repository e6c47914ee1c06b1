/**
 * Job payloads. A shard job carries its seeds explicitly so the worker never re-derives them from
 * the seed spec; both sides validate, and a payload that fails validation can never succeed.
 */
import { z } from 'zod';
import { ModelIdSchema, RunIdSchema } from './ids.ts';
import { MAX_SHARD_SIZE } from './run-spec.ts';
import { MAX_SEED } from './seeds.ts';
import { parseWith } from './zod-errors.ts';

/** Where the run's objects live: `file://<dir>` or `s3://<bucket>[/<prefix>]`. */
export const StoreUrlSchema = z.string().regex(/^(file|s3):\/\/\S+$/, 'must be a store URL, file://<dir> or s3://<bucket>[/<prefix>]');

const seed = z
  .number()
  .int('must be an integer seed')
  .min(0, `must be a seed from 0 to ${MAX_SEED}`)
  .max(MAX_SEED, `must be a seed from 0 to ${MAX_SEED}`);

export const ShardJobSchema = z
  .object({
    runId: RunIdSchema,
    modelId: ModelIdSchema,
    shardIndex: z.number().int('must be an integer ≥ 0').min(0, 'must be an integer ≥ 0'),
    /** The shard's seeds, strictly ascending, 1 to MAX_SHARD_SIZE of them. */
    seeds: z
      .array(seed)
      .min(1)
      .max(MAX_SHARD_SIZE)
      .superRefine((seeds, ctx) => {
        for (let i = 1; i < seeds.length; i++) {
          if (seeds[i] <= seeds[i - 1]) {
            ctx.addIssue({
              code: 'custom',
              path: [i],
              message: `must be greater than the seed before it, ${seeds[i - 1]} (seeds are unique and ascending)`,
            });
            return;
          }
        }
      }),
    storeUrl: StoreUrlSchema,
  })
  .strict();

export const FinalizeJobSchema = z
  .object({
    runId: RunIdSchema,
    storeUrl: StoreUrlSchema,
  })
  .strict();

export type ShardJob = z.output<typeof ShardJobSchema>;
export type FinalizeJob = z.output<typeof FinalizeJobSchema>;

/** Validates a shard job's data (producer before adding, worker on receipt); throws InvalidPayload. */
export function parseShardJob(data: unknown): ShardJob {
  return parseWith(ShardJobSchema, data, 'shard job');
}

/** Validates a finalize job's data; throws InvalidPayload. */
export function parseFinalizeJob(data: unknown): FinalizeJob {
  return parseWith(FinalizeJobSchema, data, 'finalize job');
}
