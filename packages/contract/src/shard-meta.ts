/**
 * `<runId>/shards/<index>.json`: what a finished shard holds. It is written after the npz (and the
 * features npz of a run with statistics), and names their sha256, so a crash between the writes
 * leaves a shard that is simply redone (storage's shardDone decides, docs/evaluation-runs.md).
 */
import { z } from 'zod';
import { RunIdSchema } from './ids.ts';
import { MAX_SHARD_SIZE } from './run-spec.ts';
import { MAX_SEED } from './seeds.ts';
import { parseWith } from './zod-errors.ts';

export const SHARD_META_FORMAT = 'diffq-shard/1';

/** What a denoiser computes in: float32 (tfjs, float32 graphs) or float16 (a half-precision graph on cuda). */
export const SAMPLING_PRECISIONS = ['float32', 'float16'] as const;
export type SamplingPrecision = (typeof SAMPLING_PRECISIONS)[number];

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a sha256 digest written as 64 lowercase hex digits');
const seconds = z.number().min(0, 'must be a duration in seconds ≥ 0');
const provider = z.string().min(1);

/**
 * What ran each network of a shard: an onnx execution provider that loaded (cpu, cuda, webgpu; a
 * fallback's, not the one asked for) or a tfjs backend (wasm, tensorflow, cpu).
 */
export const ShardProvidersSchema = z
  .object({
    denoiser: provider,
    /** A latent model's KL decoder; absent for a pixel model. */
    decoder: provider.optional(),
    /** The feature network of a run with statistics; absent otherwise. */
    features: provider.optional(),
  })
  .strict();

export type ShardProviders = z.output<typeof ShardProvidersSchema>;

export const ShardMetaSchema = z
  .object({
    format: z.literal(SHARD_META_FORMAT),
    runId: RunIdSchema,
    shardIndex: z.number().int().min(0),
    seeds: z.array(z.number().int().min(0).max(MAX_SEED)).min(1).max(MAX_SHARD_SIZE),
    /** The class label of each sample, in seed order; null for an unconditional model. */
    labels: z.array(z.number().int().min(0)).nullable(),
    /** sha256 of the npz's bytes, lowercase hex. */
    npzSha256: sha256,
    npzBytes: z.number().int().min(0),
    /** `<runId>/features/<index>.npz` of a run with statistics: its sha256 and size; absent otherwise. */
    features: z
      .object({ sha256, bytes: z.number().int().min(0) })
      .strict()
      .optional(),
    /** Which worker produced it (host and process), with its micro-batch size, for the logs only. */
    worker: z.object({ id: z.string().min(1), batchSize: z.number().int().min(1) }).strict(),
    /** The denoiser engine, e.g. "tfjs wasm" or "onnxruntime-node 1.30.0 cuda". */
    engine: z.string().min(1),
    /** What ran each network; absent in shards written before diffq recorded it (their `engine` text is all there is). */
    providers: ShardProvidersSchema.optional(),
    /**
     * The precision the denoiser computed in. One run keeps one precision (the worker's run-precision
     * check): float32 engines agree to ~1e-6, a float16 graph to ~1e-3 (docs/deployment.md).
     */
    precision: z.enum(SAMPLING_PRECISIONS),
    /**
     * A latent model's: the precision its decoder computed in (the denoiser's, where the decoder's
     * provider has half-precision kernels). Absent for a pixel model.
     */
    decoderPrecision: z.enum(SAMPLING_PRECISIONS).optional(),
    startedAt: z.string().datetime(),
    finishedAt: z.string().datetime(),
    /** Seconds per phase, e.g. { sample: 80.5, features: 2.1, encode: 0.3, write: 0.1 }. */
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
