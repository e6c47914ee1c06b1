/**
 * The diffusion process a model was trained with, read from model.json's `diffusion` object. Field names
 * on disk are guided-diffusion's create_gaussian_diffusion argument names (plus DDPM-IP's input
 * perturbation); inside diffq the parsed form is camelCase with the reference's derived types resolved.
 */
import { parseWith } from '@diffq/contract';
import { z } from 'zod';
import { NOISE_SCHEDULES, type NoiseSchedule } from './beta-schedule.ts';
import { spaceTimesteps } from './respacing.ts';

/** What the network's mean channels predict. */
export type ModelMeanType = 'EPSILON' | 'START_X';
/** Where the reverse-step variance comes from. */
export type ModelVarType = 'LEARNED_RANGE' | 'FIXED_SMALL' | 'FIXED_LARGE';
/** The training objective. */
export type LossType = 'MSE' | 'RESCALED_MSE' | 'RESCALED_KL';

/** model.json `diffusion`, as create_gaussian_diffusion takes it (snake_case). Unknown fields are rejected. */
export const DiffusionArgsSchema = z
  .object({
    steps: z.number().int().min(1).max(100_000).default(1000),
    noise_schedule: z
      .enum(NOISE_SCHEDULES as [NoiseSchedule, ...NoiseSchedule[]], {
        errorMap: () => ({ message: `must be one of ${NOISE_SCHEDULES.map((n) => JSON.stringify(n)).join(', ')}` }),
      })
      .default('linear'),
    learn_sigma: z.boolean().default(false),
    sigma_small: z.boolean().default(false),
    predict_xstart: z.boolean().default(false),
    rescale_timesteps: z.boolean().default(false),
    rescale_learned_sigmas: z.boolean().default(false),
    use_kl: z.boolean().default(false),
    timestep_respacing: z.string({ invalid_type_error: 'must be a string such as "", "250", "10,15,20" or "ddim50"' }).default(''),
    input_perturbation: z.number().min(0).max(10).default(0),
    derived: z.unknown().optional(),
  })
  .strict();

export type DiffusionArgs = z.input<typeof DiffusionArgsSchema>;

export interface DiffusionConfig {
  /** T, the number of base (training) steps. */
  steps: number;
  noiseSchedule: NoiseSchedule;
  learnSigma: boolean;
  sigmaSmall: boolean;
  predictXstart: boolean;
  rescaleTimesteps: boolean;
  rescaleLearnedSigmas: boolean;
  useKl: boolean;
  /** Which base steps the sampling process keeps (respacing.ts); "" keeps all. */
  timestepRespacing: string;
  /** DDPM-IP's γ: x_t is built from noise + γ·perturbation while training. */
  inputPerturbation: number;
  modelMeanType: ModelMeanType;
  modelVarType: ModelVarType;
  lossType: LossType;
}

/** The types create_gaussian_diffusion derives from its flags. */
export function deriveTypes(a: {
  learnSigma: boolean;
  sigmaSmall: boolean;
  predictXstart: boolean;
  useKl: boolean;
  rescaleLearnedSigmas: boolean;
}): {
  modelMeanType: ModelMeanType;
  modelVarType: ModelVarType;
  lossType: LossType;
} {
  return {
    modelMeanType: a.predictXstart ? 'START_X' : 'EPSILON',
    modelVarType: a.learnSigma ? 'LEARNED_RANGE' : a.sigmaSmall ? 'FIXED_SMALL' : 'FIXED_LARGE',
    lossType: a.useKl ? 'RESCALED_KL' : a.rescaleLearnedSigmas ? 'RESCALED_MSE' : 'MSE',
  };
}

/**
 * Validates model.json's `diffusion` object, resolves create_gaussian_diffusion's defaults and checks
 * that timestep_respacing fits the step count. Errors name the field, the value and what is accepted.
 */
export function parseDiffusionConfig(raw: unknown, where = 'diffusion'): DiffusionConfig {
  const a = parseWith(DiffusionArgsSchema, raw, where);
  try {
    spaceTimesteps(a.steps, a.timestep_respacing);
  } catch (e) {
    throw new Error(`${where}.${(e as Error).message}`);
  }
  const flags = {
    learnSigma: a.learn_sigma,
    sigmaSmall: a.sigma_small,
    predictXstart: a.predict_xstart,
    useKl: a.use_kl,
    rescaleLearnedSigmas: a.rescale_learned_sigmas,
  };
  return {
    steps: a.steps,
    noiseSchedule: a.noise_schedule,
    ...flags,
    rescaleTimesteps: a.rescale_timesteps,
    timestepRespacing: a.timestep_respacing,
    inputPerturbation: a.input_perturbation,
    ...deriveTypes(flags),
  };
}
