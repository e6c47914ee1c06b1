/**
 * The float64 arrays of a Gaussian diffusion process, derived from its betas exactly as
 * guided-diffusion's GaussianDiffusion.__init__ derives them (every array indexed by t = 0 … S−1).
 */

export interface ProcessArrays {
  /** β_t. */
  betas: Float64Array;
  /** ᾱ_t = Π_{s≤t} (1 − β_s). */
  alphasCumprod: Float64Array;
  /** ᾱ_{t−1}, with ᾱ_{−1} = 1. */
  alphasCumprodPrev: Float64Array;
  /** ᾱ_{t+1}, with ᾱ_S = 0. */
  alphasCumprodNext: Float64Array;
  /** √ᾱ_t. */
  sqrtAlphasCumprod: Float64Array;
  /** √(1 − ᾱ_t). */
  sqrtOneMinusAlphasCumprod: Float64Array;
  /** log(1 − ᾱ_t). */
  logOneMinusAlphasCumprod: Float64Array;
  /** √(1/ᾱ_t). */
  sqrtRecipAlphasCumprod: Float64Array;
  /** √(1/ᾱ_t − 1). */
  sqrtRecipm1AlphasCumprod: Float64Array;
  /** β̃_t = β_t(1 − ᾱ_{t−1})/(1 − ᾱ_t), the variance of q(x_{t−1} | x_t, x_0). */
  posteriorVariance: Float64Array;
  /** log β̃_t with the t = 0 entry (β̃_0 = 0) replaced by β̃_1. */
  posteriorLogVarianceClipped: Float64Array;
  /** β_t√ᾱ_{t−1}/(1 − ᾱ_t): the weight of x_0 in the posterior mean. */
  posteriorMeanCoef1: Float64Array;
  /** (1 − ᾱ_{t−1})√(1 − β_t)/(1 − ᾱ_t): the weight of x_t in the posterior mean. */
  posteriorMeanCoef2: Float64Array;
}

function map(a: Float64Array, f: (v: number, i: number) => number): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = f(a[i], i);
  return out;
}

/** Every array of the process with the given betas (each in (0, 1]). */
export function processArrays(betas: Float64Array): ProcessArrays {
  const S = betas.length;
  const alphasCumprod = new Float64Array(S);
  let product = 1;
  for (let t = 0; t < S; t++) {
    product *= 1 - betas[t];
    alphasCumprod[t] = product;
  }
  const alphasCumprodPrev = map(alphasCumprod, (_, t) => (t === 0 ? 1 : alphasCumprod[t - 1]));
  const alphasCumprodNext = map(alphasCumprod, (_, t) => (t === S - 1 ? 0 : alphasCumprod[t + 1]));
  const posteriorVariance = map(betas, (b, t) => (b * (1 - alphasCumprodPrev[t])) / (1 - alphasCumprod[t]));
  return {
    betas: Float64Array.from(betas),
    alphasCumprod,
    alphasCumprodPrev,
    alphasCumprodNext,
    sqrtAlphasCumprod: map(alphasCumprod, Math.sqrt),
    sqrtOneMinusAlphasCumprod: map(alphasCumprod, (a) => Math.sqrt(1 - a)),
    logOneMinusAlphasCumprod: map(alphasCumprod, (a) => Math.log(1 - a)),
    sqrtRecipAlphasCumprod: map(alphasCumprod, (a) => Math.sqrt(1 / a)),
    sqrtRecipm1AlphasCumprod: map(alphasCumprod, (a) => Math.sqrt(1 / a - 1)),
    posteriorVariance,
    posteriorLogVarianceClipped: map(posteriorVariance, (v, t) => Math.log(t === 0 && S > 1 ? posteriorVariance[1] : v)),
    posteriorMeanCoef1: map(betas, (b, t) => (b * Math.sqrt(alphasCumprodPrev[t])) / (1 - alphasCumprod[t])),
    posteriorMeanCoef2: map(betas, (b, t) => ((1 - alphasCumprodPrev[t]) * Math.sqrt(1 - b)) / (1 - alphasCumprod[t])),
  };
}

/**
 * The betas of the process that keeps only `useTimesteps` (sorted) of a base process with ᾱ = `baseAlphasCumprod`:
 * β'_k = 1 − ᾱ_{i_k}/ᾱ_{i_{k−1}} (ᾱ_{i_{−1}} = 1), so that the kept steps have the base process's ᾱ.
 */
export function spacedBetas(baseAlphasCumprod: Float64Array, useTimesteps: readonly number[]): Float64Array {
  const betas = new Float64Array(useTimesteps.length);
  let last = 1;
  useTimesteps.forEach((i, k) => {
    betas[k] = 1 - baseAlphasCumprod[i] / last;
    last = baseAlphasCumprod[i];
  });
  return betas;
}
