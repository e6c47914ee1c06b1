/**
 * Beta schedules β_1 … β_T of the forward process q(x_t | x_{t−1}) = N(√(1−β_t)·x_{t−1}, β_t·I),
 * in float64 as guided-diffusion's get_named_beta_schedule builds them, for any number of steps.
 */

export type NoiseSchedule = 'linear' | 'cosine';
export const NOISE_SCHEDULES: readonly NoiseSchedule[] = ['linear', 'cosine'];

/**
 * Ho et al.'s linear schedule stretched to `steps`: β evenly spaced from s·1e−4 to s·0.02, s = 1000/steps.
 * Evaluated as numpy.linspace does (start + i·δ with δ = (end − start)/(steps − 1), last value = end exactly)
 * so the float64 values are the reference's bit for bit.
 */
export function linearBetas(steps: number): Float64Array {
  const scale = 1000 / steps;
  const start = scale * 0.0001;
  const end = scale * 0.02;
  const betas = new Float64Array(steps);
  const delta = (end - start) / (steps - 1);
  for (let i = 0; i < steps; i++) betas[i] = steps > 1 ? i * delta + start : start;
  if (steps > 1) betas[steps - 1] = end;
  return betas;
}

/** Nichol & Dhariwal's ᾱ(u) = cos²((u + 0.008)/1.008 · π/2), u ∈ [0, 1]. */
export function cosineAlphaBar(u: number): number {
  return Math.cos(((u + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
}

/** β_i = min(1 − ᾱ((i+1)/T) / ᾱ(i/T), maxBeta): the schedule that discretises a continuous ᾱ(u). */
export function betasForAlphaBar(steps: number, alphaBar: (u: number) => number, maxBeta = 0.999): Float64Array {
  const betas = new Float64Array(steps);
  for (let i = 0; i < steps; i++) betas[i] = Math.min(1 - alphaBar((i + 1) / steps) / alphaBar(i / steps), maxBeta);
  return betas;
}

/** The named schedule over `steps` base steps; every β must lie in (0, 1) for the process to exist. */
export function betaSchedule(name: NoiseSchedule, steps: number): Float64Array {
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`diffusion.steps is ${steps}; accepted: an integer ≥ 1`);
  const betas = name === 'linear' ? linearBetas(steps) : betasForAlphaBar(steps, cosineAlphaBar);
  const worst = betas.reduce((m, b) => Math.max(m, b), 0);
  if (!(worst < 1) || betas.some((b) => !(b > 0))) {
    throw new Error(
      `noise_schedule "${name}" over ${steps} steps gives β up to ${worst}, outside (0, 1); ` +
        `the linear schedule needs steps > 20 (its last β is 20/steps)`,
    );
  }
  return betas;
}
