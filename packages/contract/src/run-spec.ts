/**
 * The run spec: everything a run was launched with. Written to `<runId>/manifest.json` before any job
 * is enqueued, it is the source of truth from which the queue can be rebuilt (DESIGN.md §1).
 */
import { z } from 'zod';
import { ModelIdSchema, RunIdSchema } from './ids.ts';
import { InvalidPayload } from './invalid-payload.ts';
import { countSeeds } from './seeds.ts';
import { parseWith } from './zod-errors.ts';

export const MAX_SHARD_SIZE = 65536;
export const DEFAULT_SHARD_SIZE = 256;
/** BullMQ's priority range: 0 means none, then 1 (first) … 2^21 (last). */
export const MAX_PRIORITY = 2 ** 21;

const uri = z.string().min(1, 'must be a directory path or an s3:// URI');
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a sha256 digest written as 64 lowercase hex digits');

export const ModelRefSchema = z
  .object({
    /** The model directory (model.json + weights.safetensors): a path or an s3:// URI. */
    uri,
    /** Names the queue (`sample.<id>`): workers that loaded this model take this run's shards. */
    id: ModelIdSchema,
    /** sha256 of weights.safetensors, so a worker refuses a directory that changed since launch. */
    digest: sha256,
  })
  .strict();

/**
 * `respacing` uses guided-diffusion's `timestep_respacing`: "" keeps every step, "100" or "10,15,20"
 * gives per-section step counts, "ddim50" the DDIM-style stride.
 */
export const SamplerSchema = z
  .object({
    kind: z.enum(['ddpm', 'ddim']),
    respacing: z
      .string()
      .regex(/^(|ddim[1-9]\d*|[1-9]\d*(,[1-9]\d*)*)$/, 'must be "" (every step), step counts such as "100" or "10,15,20", or "ddim<N>"')
      .default(''),
    eta: z.number().min(0, 'must be a number from 0 to 1').max(1, 'must be a number from 0 to 1').default(0),
    clipDenoised: z.boolean().default(true),
  })
  .strict()
  .superRefine((sampler, ctx) => {
    if (sampler.kind === 'ddpm' && sampler.eta !== 0) {
      ctx.addIssue({ code: 'custom', path: ['eta'], message: 'must be 0 for the ddpm sampler (eta only applies to ddim)' });
    }
  });

export const ClassifierRefSchema = z.object({ uri, digest: sha256 }).strict();

export const GuidanceSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('none') }).strict(),
  /** ε = (1 + w)·ε(x, y) − w·ε(x, ∅); w = 0 is the conditional model alone. */
  z.object({ kind: z.literal('classifier_free'), scale: z.number().min(0, 'must be a number ≥ 0 (the guidance weight w)') }).strict(),
  /** Mean shifted by s·Σ·∇ log p(y | x_t) of a noisy classifier. */
  z
    .object({
      kind: z.literal('classifier'),
      classifier: ClassifierRefSchema,
      scale: z.number().positive('must be a number > 0 (the classifier scale s)'),
    })
    .strict(),
]);

/** `random` and `balanced` follow DESIGN.md §2; `fixed` gives every sample classIndex. */
export const LabelsSchema = z
  .object({
    policy: z.enum(['random', 'balanced', 'fixed']).default('random'),
    classIndex: z.number().int('must be an integer ≥ 0').min(0, 'must be an integer ≥ 0').optional(),
  })
  .strict()
  .superRefine((labels, ctx) => {
    if (labels.policy === 'fixed' && labels.classIndex === undefined) {
      ctx.addIssue({ code: 'custom', path: ['classIndex'], message: 'is required when the label policy is "fixed"' });
    }
    if (labels.policy !== 'fixed' && labels.classIndex !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['classIndex'],
        message: `must be left out unless the label policy is "fixed" (policy is "${labels.policy}")`,
      });
    }
  });

/** A statistic the finalizer computes; `features` is the feature extractor's model directory. */
export const StatisticSchema = z
  .object({
    kind: z.enum(['fid', 'inception_score', 'precision_recall']),
    features: uri,
    /** Reference batch (mu, sigma or activations); required by fid and precision_recall. */
    reference: uri.optional(),
  })
  .strict()
  .superRefine((statistic, ctx) => {
    if (statistic.kind !== 'inception_score' && statistic.reference === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['reference'],
        message: `is required for ${statistic.kind} (the reference batch to compare against)`,
      });
    }
  });

export const RunSpecSchema = z
  .object({
    runId: RunIdSchema,
    model: ModelRefSchema,
    sampler: SamplerSchema,
    guidance: GuidanceSchema.default({ kind: 'none' }),
    labels: LabelsSchema.default({ policy: 'random' }),
    /** As written by the user, e.g. "0-49999"; parseSeeds gives the list. */
    seeds: z.string(),
    seedCount: z.number().int('must be an integer').min(1, 'must be at least 1'),
    shardSize: z
      .number()
      .int(`must be an integer from 1 to ${MAX_SHARD_SIZE}`)
      .min(1, `must be an integer from 1 to ${MAX_SHARD_SIZE}`)
      .max(MAX_SHARD_SIZE, `must be an integer from 1 to ${MAX_SHARD_SIZE}`)
      .default(DEFAULT_SHARD_SIZE),
    format: z.enum(['npz', 'png', 'both']).default('npz'),
    statistics: z.array(StatisticSchema).default([]),
    createdAt: z.string().datetime(),
    /** The diffq version (or git commit) that launched the run. */
    codeVersion: z.string().min(1),
    priority: z
      .number()
      .int(`must be an integer from 0 (none) to ${MAX_PRIORITY}`)
      .min(0, `must be an integer from 0 (none) to ${MAX_PRIORITY}`)
      .max(MAX_PRIORITY, `must be an integer from 0 (none) to ${MAX_PRIORITY}`)
      .default(0),
  })
  .strict()
  .superRefine((spec, ctx) => {
    let count: number;
    try {
      count = countSeeds(spec.seeds);
    } catch (error) {
      if (!(error instanceof InvalidPayload)) throw error;
      ctx.addIssue({
        code: 'custom',
        path: ['seeds'],
        message: `is not a valid seed list: ${error.problems.join(' ').replace(/\.$/, '')}`,
      });
      return;
    }
    if (count !== spec.seedCount) {
      ctx.addIssue({ code: 'custom', path: ['seedCount'], message: `must equal the number of seeds in "${spec.seeds}", ${count}` });
    }
    const kinds = spec.statistics.map((s) => s.kind);
    kinds.forEach((kind, i) => {
      if (kinds.indexOf(kind) !== i)
        ctx.addIssue({ code: 'custom', path: ['statistics', i, 'kind'], message: `must not repeat "${kind}"` });
    });
  });

/** The parsed spec, every default filled in: what manifest.json holds. */
export type RunSpec = z.output<typeof RunSpecSchema>;
/** What a producer may pass: defaults (guidance, labels, shardSize, format, statistics, priority…) optional. */
export type RunSpecInput = z.input<typeof RunSpecSchema>;
export type ModelRef = z.output<typeof ModelRefSchema>;
export type SamplerSpec = z.output<typeof SamplerSchema>;
export type GuidanceSpec = z.output<typeof GuidanceSchema>;
export type LabelsSpec = z.output<typeof LabelsSchema>;
export type StatisticSpec = z.output<typeof StatisticSchema>;

/** Validates a run spec (a manifest read back, or one built from CLI flags); throws InvalidPayload. */
export function parseRunSpec(input: unknown): RunSpec {
  return parseWith(RunSpecSchema, input, 'run spec');
}
