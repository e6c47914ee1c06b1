/**
 * The sampler flags of `diffq launch` → the run spec's sampler. DDPM and DDIM step through a
 * respacing of the model's timesteps (`--steps N` is `--respacing N`); the ODE solvers run `--steps N`
 * steps of a continuous time grid and take their own flags. A flag given to a sampler it does not
 * apply to is an error rather than silently ignored.
 */
import { isOdeSolver, SAMPLER_KINDS, type SamplerSpec, SKIP_TYPES, SOLVER_DEFAULTS, solverOrder, UNIPC_VARIANTS } from '@diffq/contract';
import { spaceTimesteps } from '@diffq/diffusion/config';

export interface SamplerFlags {
  sampler?: string;
  steps?: number;
  respacing?: string;
  eta?: number;
  skipType?: string;
  unipcVariant?: string;
  unipcOrder?: number;
  denoiseToZero?: boolean;
  dynamicThreshold?: number;
  dynamicThresholdMax?: number;
  /** --clip-denoised / --no-clip-denoised; undefined: the model's default (defaultClipDenoised). */
  clipDenoised?: boolean;
}

/** The solvers' step count when --steps is not given: what the DPM-Solver authors suggest for guided sampling. */
export const DEFAULT_SOLVER_STEPS = 20;
/** Imagen's and the DPM-Solver ADM example's thresholding quantile and floor. */
export const DYNAMIC_THRESHOLD_MAX_DEFAULT = 1;

const SOLVER_FLAGS = [
  ['skipType', '--skip-type'],
  ['unipcVariant', '--unipc-variant'],
  ['unipcOrder', '--unipc-order'],
  ['denoiseToZero', '--denoise-to-zero'],
  ['dynamicThreshold', '--dynamic-threshold'],
  ['dynamicThresholdMax', '--dynamic-threshold-max'],
] as const;
const SOLVER_LIST = 'dpm++2m, dpm++3m, unipc';

function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function orderOf(f: SamplerFlags): number {
  const kind = f.sampler ?? 'ddpm';
  if (!isOdeSolver(kind)) return 1;
  return solverOrder({ kind, order: isNumber(f.unipcOrder) ? f.unipcOrder : undefined });
}

/** Syntax and ranges; needs no model. */
export function checkSamplerFlags(f: SamplerFlags): string[] {
  const problems: string[] = [];
  const sampler = f.sampler ?? 'ddpm';
  if (!(SAMPLER_KINDS as readonly string[]).includes(sampler)) {
    problems.push(`--sampler "${sampler}": accepted: ${SAMPLER_KINDS.join(', ')}`);
    return problems;
  }
  if (!isOdeSolver(sampler)) {
    for (const [key, flag] of SOLVER_FLAGS)
      if (f[key] !== undefined && f[key] !== false) problems.push(`${flag} applies to the ODE solvers only (--sampler ${SOLVER_LIST})`);
    if (f.steps !== undefined && f.respacing !== undefined)
      problems.push(`--steps ${f.steps} and --respacing "${f.respacing}" both set the sampling steps; give one of them`);
    if (f.steps !== undefined && !(Number.isInteger(f.steps) && f.steps >= 2))
      problems.push(`--steps is ${f.steps}; accepted: an integer ≥ 2 (and at most the model's diffusion steps)`);
    if (f.respacing !== undefined && !/^(ddim\d+|\d+(,\d+)*)$/.test(String(f.respacing))) {
      problems.push(
        `--respacing "${f.respacing}": accepted: step counts such as "250" or "10,15,20" (sections), or "ddim50" (DDIM stride)`,
      );
    }
    if (f.eta !== undefined) {
      if (!isNumber(f.eta) || f.eta < 0 || f.eta > 1) problems.push(`--eta is ${f.eta}; accepted: a number from 0 to 1`);
      else if (sampler === 'ddpm' && f.eta !== 0)
        problems.push(`--eta ${f.eta} applies to --sampler ddim only (the ddpm sampler has no eta)`);
    }
    return problems;
  }
  if (f.respacing !== undefined)
    problems.push(
      `--respacing "${f.respacing}" applies to ddpm and ddim; --sampler ${sampler} takes --steps N (its time grid is --skip-type)`,
    );
  if (f.eta !== undefined) problems.push(`--eta ${f.eta} applies to --sampler ddim only (${sampler} is deterministic)`);
  if (sampler !== 'unipc') {
    if (f.unipcVariant !== undefined) problems.push(`--unipc-variant applies to --sampler unipc only (got --sampler ${sampler})`);
    if (f.unipcOrder !== undefined) problems.push(`--unipc-order applies to --sampler unipc only (${sampler} fixes its order)`);
  }
  if (f.unipcVariant !== undefined && !(UNIPC_VARIANTS as readonly string[]).includes(f.unipcVariant))
    problems.push(`--unipc-variant "${f.unipcVariant}": accepted: ${UNIPC_VARIANTS.join(', ')}`);
  if (f.unipcOrder !== undefined && !(Number.isInteger(f.unipcOrder) && f.unipcOrder >= 1 && f.unipcOrder <= 3))
    problems.push(`--unipc-order is ${f.unipcOrder}; accepted: 1, 2 or 3`);
  const order = orderOf(f);
  if (f.steps !== undefined && !(Number.isInteger(f.steps) && f.steps >= order))
    problems.push(`--steps is ${f.steps}; accepted: an integer ≥ ${order} for ${sampler} (its order), at most the model's diffusion steps`);
  if (f.skipType !== undefined && !(SKIP_TYPES as readonly string[]).includes(f.skipType))
    problems.push(`--skip-type "${f.skipType}": accepted: ${SKIP_TYPES.join(', ')}`);
  if (f.dynamicThreshold !== undefined && !(isNumber(f.dynamicThreshold) && f.dynamicThreshold > 0 && f.dynamicThreshold <= 1))
    problems.push(`--dynamic-threshold is ${f.dynamicThreshold}; accepted: a quantile in (0, 1], e.g. 0.995`);
  if (f.dynamicThresholdMax !== undefined) {
    if (f.dynamicThreshold === undefined) problems.push('--dynamic-threshold-max needs --dynamic-threshold <quantile>');
    if (!(isNumber(f.dynamicThresholdMax) && f.dynamicThresholdMax > 0))
      problems.push(
        `--dynamic-threshold-max is ${f.dynamicThresholdMax}; accepted: a number > 0 (default ${DYNAMIC_THRESHOLD_MAX_DEFAULT})`,
      );
  }
  return problems;
}

/** The checks against the model's diffusion steps. */
export function checkSamplerAgainstModel(f: SamplerFlags, modelSteps: number): string[] {
  const problems: string[] = [];
  if (f.steps !== undefined && f.steps > modelSteps)
    problems.push(`--steps is ${f.steps}; accepted: ${orderOf(f) === 1 ? 2 : orderOf(f)} to ${modelSteps}, the model's diffusion steps`);
  if (f.respacing !== undefined) {
    try {
      const kept = spaceTimesteps(modelSteps, f.respacing);
      if (kept.length < 2) problems.push(`--respacing "${f.respacing}" keeps ${kept.length} step; a sampler needs at least 2`);
    } catch (error) {
      problems.push(`--respacing: ${(error as Error).message}`);
    }
  }
  return problems;
}

/**
 * Whether x̂_0 is clipped when --clip-denoised is not given, as guided-diffusion's sampling scripts
 * default: on for a pixel model, whose data range is [−1, 1], off for a latent model, whose latents
 * have no such range.
 */
export function defaultClipDenoised(model: { latent?: object }): boolean {
  return model.latent === undefined;
}

/** The run spec's sampler, every default written out (the clip from the model's kind) so the manifest says what ran. */
export function samplerSpec(f: SamplerFlags, model: { latent?: object }): SamplerSpec {
  const kind = (f.sampler ?? 'ddpm') as SamplerSpec['kind'];
  const clipDenoised = f.clipDenoised ?? defaultClipDenoised(model);
  if (kind === 'ddpm' || kind === 'ddim') {
    const respacing = f.steps !== undefined ? String(f.steps) : (f.respacing ?? '');
    return kind === 'ddpm' ? { kind, respacing, eta: 0, clipDenoised } : { kind, respacing, eta: f.eta ?? 0, clipDenoised };
  }
  const common = {
    clipDenoised,
    steps: f.steps ?? DEFAULT_SOLVER_STEPS,
    skipType: (f.skipType ?? SOLVER_DEFAULTS.skipType) as (typeof SKIP_TYPES)[number],
    denoiseToZero: f.denoiseToZero ?? SOLVER_DEFAULTS.denoiseToZero,
    ...(f.dynamicThreshold !== undefined
      ? { dynamicThreshold: { ratio: f.dynamicThreshold, maxValue: f.dynamicThresholdMax ?? DYNAMIC_THRESHOLD_MAX_DEFAULT } }
      : {}),
  };
  if (kind === 'unipc') {
    return {
      kind,
      ...common,
      variant: (f.unipcVariant ?? SOLVER_DEFAULTS.unipcVariant) as (typeof UNIPC_VARIANTS)[number],
      order: f.unipcOrder ?? SOLVER_DEFAULTS.unipcOrder,
    };
  }
  return { kind, ...common };
}
