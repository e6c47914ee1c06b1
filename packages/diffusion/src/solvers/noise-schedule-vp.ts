/**
 * The discrete-time VP noise schedule as the official DPM-Solver / UniPC code sees a guided-diffusion
 * model (`NoiseScheduleVP('discrete', betas)`): the training timesteps become keypoints on a continuous
 * time t ∈ (0, 1], and log α(t) is interpolated between them. Pure float64 math; the solvers cast the
 * coefficients they take from here to float32 only when they meet a tensor.
 */

export interface NoiseScheduleVP {
  /** Number of keypoints kept (the base steps, less those clipped off the noisy end). */
  totalN: number;
  /** The solver's start time, 1. */
  T: number;
  /** The solver's end time, 1/totalN: the first keypoint (the training timestep 0). */
  t0: number;
  /** Keypoint times t_i = (i+1)/totalN, i = 0 … totalN−1. */
  keypointTimes: Float64Array;
  /** ℓ_i = log α at keypoint i = ½·Σ_{j≤i} ln(1 − β_j); decreasing in i. */
  keypointLogAlpha: Float64Array;
}

/**
 * DPM-Solver drops the keypoints whose half-logSNR λ is below this (`numerical_clip_alpha`): the cosine
 * schedule's last few steps have α ≈ 0, where x̂_0 = (x − σ·ε)/α blows up. UniPC does not clip.
 */
export const DPM_SOLVER_CLIPPED_LAMBDA = -5.1;

/** λ = log α − log σ from log α, σ² = 1 − α². */
export function lambdaFromLogAlpha(logAlpha: number): number {
  return logAlpha - 0.5 * Math.log(1 - Math.exp(2 * logAlpha));
}

/**
 * The schedule of base betas β_0 … β_{N₀−1} (float64), keeping keypoints with λ ≥ clippedLambda
 * (every one when clippedLambda is undefined).
 */
export function noiseScheduleVP(betas: Float64Array, clippedLambda?: number): NoiseScheduleVP {
  if (betas.length < 2) throw new Error(`the noise schedule has ${betas.length} betas; the solvers need at least 2`);
  const logAlpha = new Float64Array(betas.length);
  let sum = 0;
  for (let i = 0; i < betas.length; i++) {
    sum += Math.log(1 - betas[i]);
    logAlpha[i] = 0.5 * sum;
  }
  let clipped = 0;
  if (clippedLambda !== undefined) for (const l of logAlpha) if (lambdaFromLogAlpha(l) < clippedLambda) clipped++;
  const totalN = betas.length - clipped;
  if (totalN < 2)
    throw new Error(`clipping λ < ${clippedLambda} leaves ${totalN} keypoints of ${betas.length}; the solvers need at least 2`);
  const keypointTimes = new Float64Array(totalN);
  for (let i = 0; i < totalN; i++) keypointTimes[i] = (i + 1) / totalN;
  return { totalN, T: 1, t0: 1 / totalN, keypointTimes, keypointLogAlpha: logAlpha.slice(0, totalN) };
}

/**
 * Piecewise-linear interpolation through (xp_i, yp_i), xp increasing; outside [xp_0, xp_last] the first
 * or last segment is extended, as the official `interpolate_fn` does.
 */
export function interpolate(x: number, xp: ArrayLike<number>, yp: ArrayLike<number>): number {
  // The segment [xp_lo, xp_lo+1] holding x, or the first/last one when x lies outside.
  let lo = 0;
  let hi = xp.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (xp[mid] <= x) lo = mid;
    else hi = mid;
  }
  return yp[lo] + ((x - xp[lo]) * (yp[hi] - yp[lo])) / (xp[hi] - xp[lo]);
}

/** log α(t), interpolated through the keypoints. */
export function marginalLogMeanCoeff(s: NoiseScheduleVP, t: number): number {
  return interpolate(t, s.keypointTimes, s.keypointLogAlpha);
}

/** α(t) = e^{log α(t)}. */
export function marginalAlpha(s: NoiseScheduleVP, t: number): number {
  return Math.exp(marginalLogMeanCoeff(s, t));
}

/** σ(t) = √(1 − α(t)²). */
export function marginalStd(s: NoiseScheduleVP, t: number): number {
  return Math.sqrt(1 - Math.exp(2 * marginalLogMeanCoeff(s, t)));
}

/** λ(t) = log α(t) − log σ(t), the half-logSNR. */
export function marginalLambda(s: NoiseScheduleVP, t: number): number {
  return lambdaFromLogAlpha(marginalLogMeanCoeff(s, t));
}

/** λ⁻¹: log α = −½·log(1 + e^{−2λ}), then t through the keypoints read backwards (ℓ decreases in t). */
export function inverseLambda(s: NoiseScheduleVP, lambda: number): number {
  const logAlpha = -0.5 * logAddExp0(-2 * lambda);
  const xp = s.keypointLogAlpha.slice().reverse();
  const yp = s.keypointTimes.slice().reverse();
  return interpolate(logAlpha, xp, yp);
}

/** log(1 + e^x) without overflow. */
function logAddExp0(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}
