/**
 * The run spec: everything a run was launched with. Written to `<runId>/manifest.json` before any job
 * is enqueued, it is the source of truth from which the queue can be rebuilt (docs/design.md#runs-shards-and-seeds).
 */
import { z } from 'zod';
import { ModelIdSchema, RunIdSchema } from './ids.ts';
import { InvalidPayload } from './invalid-payload.ts';
import { countSeeds } from './seeds.ts';
import { parseWith } from './zod-errors.ts';

export const MAX_SHARD_SIZE = 65536;
export const DEFAULT_SHARD_SIZE = 256;
/**
 * Shards one launch may create: 100,000 jobs keep a launch within seconds and ~100 MB of Redis
 * (the 10,000,000 seeds a run may hold need shards of at least 100).
 */
export const MAX_SHARDS_PER_RUN = 100_000;
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
    /**
     * A latent model's decoder (model.json `decoder`, resolved): its weights are part of the model's
     * identity, so a worker whose decoder has another digest refuses the run as it would other weights.
     */
    decoder: z.object({ uri, digest: sha256 }).strict().optional(),
  })
  .strict();

export const SAMPLER_KINDS = ['ddpm', 'ddim', 'dpm++2m', 'dpm++3m', 'unipc'] as const;
/** The multistep ODE solvers: deterministic, on a continuous time grid of `steps` steps rather than a respacing. */
export const ODE_SOLVER_KINDS = ['dpm++2m', 'dpm++3m', 'unipc'] as const;
export type OdeSolverKind = (typeof ODE_SOLVER_KINDS)[number];
/** The solvers' time grids: uniform in t, uniform in log-SNR, or uniform in √t. */
export const SKIP_TYPES = ['time_uniform', 'logSNR', 'time_quadratic'] as const;
export const UNIPC_VARIANTS = ['bh1', 'bh2'] as const;
/** The official DPM-Solver ADM example's choices for guided sampling; UniPC's authors recommend bh2 and order 2 there. */
export const SOLVER_DEFAULTS = { skipType: 'time_uniform', denoiseToZero: false, unipcVariant: 'bh2', unipcOrder: 2 } as const;

export function isOdeSolver(kind: string): kind is OdeSolverKind {
  return (ODE_SOLVER_KINDS as readonly string[]).includes(kind);
}

/** The multistep order a solver kind runs at (dpm++2m: 2, dpm++3m: 3, unipc: its `order`). */
export function solverOrder(sampler: { kind: OdeSolverKind; order?: number }): number {
  return sampler.kind === 'dpm++2m' ? 2 : sampler.kind === 'dpm++3m' ? 3 : (sampler.order ?? SOLVER_DEFAULTS.unipcOrder);
}

/**
 * `respacing` uses guided-diffusion's `timestep_respacing`: "" keeps every step, "100" or "10,15,20"
 * gives per-section step counts, "ddim50" the DDIM-style stride.
 */
const respacing = z
  .string()
  .regex(/^(|ddim[1-9]\d*|[1-9]\d*(,[1-9]\d*)*)$/, 'must be "" (every step), step counts such as "100" or "10,15,20", or "ddim<N>"')
  .default('');
/**
 * Clamp every x̂_0 to the data range [−1, 1] (guided-diffusion's clip_denoised). The launch writes it
 * out for every sampler (on for pixel models, off for latent ones); the defaults say what a manifest
 * written before the field existed ran: DDPM/DDIM clipped, the ODE solvers did not.
 */
const clipDenoised = z.boolean().default(true);

/** Imagen's dynamic thresholding of x̂_0: divide by max(quantile_ratio |x̂_0|, maxValue) per sample. */
export const DynamicThresholdSchema = z
  .object({
    ratio: z.number().gt(0, 'must be a number in (0, 1]').max(1, 'must be a number in (0, 1]'),
    maxValue: z.number().positive('must be a number > 0'),
  })
  .strict();

const solverFields = {
  /** N, the solver steps: the network is evaluated N times (N + 1 with denoiseToZero). */
  steps: z.number().int('must be an integer ≥ 1').min(1, 'must be an integer ≥ 1'),
  skipType: z.enum(SKIP_TYPES).default(SOLVER_DEFAULTS.skipType),
  denoiseToZero: z.boolean().default(SOLVER_DEFAULTS.denoiseToZero),
  clipDenoised: z.boolean().default(false),
  dynamicThreshold: DynamicThresholdSchema.optional(),
};

export const SamplerSchema = z
  .discriminatedUnion('kind', [
    z
      .object({
        kind: z.literal('ddpm'),
        respacing,
        eta: z
          .number()
          .refine((eta) => eta === 0, 'must be 0 for the ddpm sampler (eta only applies to ddim)')
          .default(0),
        clipDenoised,
      })
      .strict(),
    z
      .object({
        kind: z.literal('ddim'),
        respacing,
        eta: z.number().min(0, 'must be a number from 0 to 1').max(1, 'must be a number from 0 to 1').default(0),
        clipDenoised,
      })
      .strict(),
    z.object({ kind: z.enum(['dpm++2m', 'dpm++3m']), ...solverFields }).strict(),
    z
      .object({
        kind: z.literal('unipc'),
        ...solverFields,
        variant: z.enum(UNIPC_VARIANTS).default(SOLVER_DEFAULTS.unipcVariant),
        order: z
          .number()
          .int('must be 1, 2 or 3')
          .min(1, 'must be 1, 2 or 3')
          .max(3, 'must be 1, 2 or 3')
          .default(SOLVER_DEFAULTS.unipcOrder),
      })
      .strict(),
  ])
  .superRefine((sampler, ctx) => {
    if (!isOdeSolver(sampler.kind) || !('steps' in sampler)) return;
    const order = solverOrder(sampler);
    if (sampler.steps < order) {
      ctx.addIssue({ code: 'custom', path: ['steps'], message: `must be at least ${order}, the order of ${sampler.kind}` });
    }
  });

/** A one-line description, e.g. `ddim, respacing "50", eta 0, x̂₀ clipped` or `dpm++2m, 10 steps, time_uniform, x̂₀ not clipped`. */
export function describeSampler(s: SamplerSpec): string {
  const clip = s.clipDenoised ? 'x̂₀ clipped' : 'x̂₀ not clipped';
  if (s.kind === 'ddpm' || s.kind === 'ddim') {
    return `${s.kind}${s.respacing ? `, respacing "${s.respacing}"` : ', all steps'}${s.kind === 'ddim' ? `, eta ${s.eta}` : ''}, ${clip}`;
  }
  const parts = [s.kind, `${s.steps} steps`, s.skipType];
  if (s.kind === 'unipc') parts.push(`${s.variant} order ${s.order}`);
  if (s.denoiseToZero) parts.push('denoise to zero');
  if (s.dynamicThreshold) parts.push(`dynamic threshold ${s.dynamicThreshold.ratio}/${s.dynamicThreshold.maxValue}`);
  parts.push(clip);
  return parts.join(', ');
}

export const ClassifierRefSchema = z.object({ uri, digest: sha256 }).strict();

/**
 * Which ε channels classifier-free guidance combines: `all`, or the first 3 as DiT's forward_with_cfg
 * does on its 4 latent channels (the others come from the conditional pass). DiT's published FIDs
 * were measured with 3; pixel models guide every channel.
 */
export const GUIDED_CHANNELS = [3, 'all'] as const;
export type GuidedChannels = (typeof GUIDED_CHANNELS)[number];
/** What DiT's models.py forward_with_cfg guides, and so a DiT model's default. */
export const DIT_GUIDED_CHANNELS: GuidedChannels = 3;

export const GuidanceSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('none') }).strict(),
  /** ε = (1 + w)·ε(x, y) − w·ε(x, ∅) on the guided channels; w = 0 is the conditional model alone. */
  z
    .object({
      kind: z.literal('classifier_free'),
      scale: z.number().min(0, 'must be a number ≥ 0 (the guidance weight w)'),
      // Manifests written before latent models had no field: they guided every channel.
      guidedChannels: z.union([z.literal(3), z.literal('all')], { errorMap: () => ({ message: 'must be 3 or "all"' }) }).default('all'),
    })
    .strict(),
  /** Mean shifted by s·Σ·∇ log p(y | x_t) of a noisy classifier. */
  z
    .object({
      kind: z.literal('classifier'),
      classifier: ClassifierRefSchema,
      scale: z.number().positive('must be a number > 0 (the classifier scale s)'),
    })
    .strict(),
]);

/** `random` and `balanced` follow docs/design.md#one-seed-one-image; `fixed` gives every sample classIndex. */
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

/**
 * The evaluation statistics a run asks for (docs/evaluation-runs.md): `fid` and `sfid` (Fréchet
 * distance of the feature and spatial-feature Gaussians to the reference's), `is` (Inception Score
 * from the logits), `pr` (precision and recall, k = 3), `accuracy` (argmax of the logits against the
 * requested class, class-conditional runs only), `kid` (Kernel Inception Distance, torch-fidelity's
 * unbiased MMD² with the cubic polynomial kernel over subsets).
 */
export const STATISTIC_KINDS = ['fid', 'sfid', 'is', 'pr', 'accuracy', 'kid'] as const;
export type StatisticKind = (typeof STATISTIC_KINDS)[number];
/** The statistics compared against a reference. */
export const REFERENCE_STATISTICS: readonly StatisticKind[] = ['fid', 'sfid', 'pr', 'kid'];

/** A file or directory the run depends on, pinned by the sha256 it had at launch. */
const PinnedSchema = z.object({ uri, digest: sha256 }).strict();

export const StatisticsSchema = z
  .object({
    kinds: z.array(z.enum(STATISTIC_KINDS)).min(1),
    /** The feature network's model directory; digest is its weights' sha256, checked by every worker. */
    features: z
      .object({
        uri,
        digest: sha256,
        /** As the network described itself at launch, for the report. */
        architecture: z.string().min(1),
        preprocess: z.string().min(1),
        featureDim: z.number().int().min(1),
      })
      .strict(),
    /** A stats npz (mu, sigma; mu_s, sigma_s for sfid; features for pr), e.g. another run's stats.npz. */
    reference: PinnedSchema.optional(),
    /** A stats npz of the training data: its FID to the reference is the best FID the model could reach. */
    floor: PinnedSchema.optional(),
  })
  .strict()
  .superRefine((statistics, ctx) => {
    statistics.kinds.forEach((kind, i) => {
      if (statistics.kinds.indexOf(kind) !== i) ctx.addIssue({ code: 'custom', path: ['kinds', i], message: `must not repeat "${kind}"` });
    });
    const needing = statistics.kinds.filter((k) => REFERENCE_STATISTICS.includes(k));
    if (needing.length > 0 && statistics.reference === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['reference'],
        message: `is required for ${needing.join(', ')} (the reference statistics to compare against)`,
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
    /** Absent: the run computes no statistics and writes no features. */
    statistics: StatisticsSchema.optional(),
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
  });

/** The parsed spec, every default filled in: what manifest.json holds. */
export type RunSpec = z.output<typeof RunSpecSchema>;
/** What a producer may pass: defaults (guidance, labels, shardSize, format, statistics, priority…) optional. */
export type RunSpecInput = z.input<typeof RunSpecSchema>;
export type ModelRef = z.output<typeof ModelRefSchema>;
export type SamplerSpec = z.output<typeof SamplerSchema>;
export type GuidanceSpec = z.output<typeof GuidanceSchema>;
export type LabelsSpec = z.output<typeof LabelsSchema>;
export type StatisticsSpec = z.output<typeof StatisticsSchema>;

/** Validates a run spec (a manifest read back, or one built from CLI flags); throws InvalidPayload. */
export function parseRunSpec(input: unknown): RunSpec {
  return parseWith(RunSpecSchema, input, 'run spec');
}
