/**
 * Job payloads. A shard's seeds have one source, the run's manifest: the worker cuts shard
 * `shardIndex` from it (shardSeeds). The job carries only a check on them (first, last, count), so
 * a 1,000,000-seed launch sends a few numbers per shard instead of the seeds themselves, and a job
 * that no longer matches its manifest is refused. Both sides validate, and a payload that fails
 * validation can never succeed.
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
    /** A check on the shard's seeds, which the manifest lists (sharding.ts shardSeedCheck). */
    seedCheck: z
      .object({
        first: seed,
        last: seed,
        count: z
          .number()
          .int(`must be an integer from 1 to ${MAX_SHARD_SIZE}`)
          .min(1, `must be an integer from 1 to ${MAX_SHARD_SIZE}`)
          .max(MAX_SHARD_SIZE, `must be an integer from 1 to ${MAX_SHARD_SIZE}`),
      })
      .strict()
      .superRefine((check, ctx) => {
        if (check.last - check.first + 1 < check.count) {
          ctx.addIssue({
            code: 'custom',
            path: ['count'],
            message: `must be at most last − first + 1 = ${check.last - check.first + 1} (seeds are unique and ascending)`,
          });
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
