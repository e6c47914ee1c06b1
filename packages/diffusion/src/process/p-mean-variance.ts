/**
 * The reverse step p(x_{t−1} | x_t) = N(μ_θ, Σ_θ) from one network output (guided-diffusion's
 * p_mean_variance with the model call taken out, so guidance can combine outputs before this).
 */
import * as tf from '@tensorflow/tfjs';
import type { DiffusionProcess } from '../schedule/diffusion-process.ts';
import { broadcastCoefficient, extract, type Timesteps } from './extract.ts';
import { posteriorMean } from './posterior.ts';
import { predXstartFromEps } from './predictions.ts';

export interface PMeanVariance {
  /** μ_θ(x_t, t), [N, C, H, W]. */
  mean: tf.Tensor4D;
  /** Σ_θ, [N, C, H, W]. */
  variance: tf.Tensor4D;
  /** log Σ_θ, [N, C, H, W]. */
  logVariance: tf.Tensor4D;
  /** x̂_0, clamped to [−1, 1] when asked, [N, C, H, W]. */
  predXstart: tf.Tensor4D;
}

/**
 * Splits an output [N, C', H, W] into its mean channels (the first C) and, with a learned variance,
 * the variance values v (the other C). C is x's channel count.
 */
export function splitModelOutput(
  p: DiffusionProcess,
  modelOutput: tf.Tensor4D,
  channels: number,
): { meanPart: tf.Tensor4D; varValues?: tf.Tensor4D } {
  const expected = p.modelVarType === 'LEARNED_RANGE' ? 2 * channels : channels;
  if (modelOutput.shape[1] !== expected) {
    throw new Error(
      `model output has ${modelOutput.shape[1]} channels; ${p.modelVarType} with ${channels}-channel images needs ${expected}`,
    );
  }
  if (p.modelVarType !== 'LEARNED_RANGE') return { meanPart: modelOutput };
  const [meanPart, varValues] = tf.split(modelOutput, 2, 1) as [tf.Tensor4D, tf.Tensor4D];
  return { meanPart, varValues };
}

/**
 * Σ_θ and log Σ_θ at t, [N, C, H, W] (with `compact`, fixed variances stay [N, 1, 1, 1]: a sampler
 * that only multiplies by them saves the broadcast and an exp over every pixel):
 * - LEARNED_RANGE: log Σ = f·log β_t + (1 − f)·log β̃_t (clipped), f = (v + 1)/2;
 * - FIXED_SMALL: β̃_t; FIXED_LARGE: β_t, with the t = 0 entry raised to β̃_1 for a better decoder likelihood.
 * Values derived from the schedule are computed at the batch's t only: this runs at every sampling step.
 */
export function modelVariance(
  p: DiffusionProcess,
  t: Timesteps,
  shape: [number, number, number, number],
  varValues?: tf.Tensor4D,
  compact = false,
): { variance: tf.Tensor4D; logVariance: tf.Tensor4D } {
  const spread = (a: tf.Tensor4D) => (compact ? a : broadcastCoefficient(a, shape));
  return tf.tidy(() => {
    if (p.modelVarType === 'LEARNED_RANGE') {
      if (!varValues) throw new Error('LEARNED_RANGE needs the variance channels of the model output');
      const minLog = extract(p.posteriorLogVarianceClipped, t);
      const maxLog = extract(p.betas, t, Math.log);
      const frac = tf.div(tf.add(varValues, 1), 2);
      const logVariance: tf.Tensor4D = tf.add(tf.mul(frac, maxLog), tf.mul(tf.sub(1, frac), minLog));
      return { variance: tf.exp(logVariance), logVariance };
    }
    if (p.modelVarType === 'FIXED_LARGE') {
      const large = (beta: number, ti: number) => (ti === 0 ? p.posteriorVariance[1] : beta);
      return {
        variance: spread(extract(p.betas, t, large)),
        logVariance: spread(extract(p.betas, t, (beta, ti) => Math.log(large(beta, ti)))),
      };
    }
    return {
      variance: spread(extract(p.posteriorVariance, t)),
      logVariance: spread(extract(p.posteriorLogVarianceClipped, t)),
    };
  });
}

/**
 * x̂_0 from the network output at (x_t, t): the mean part (START_X) or predXstartFromEps(x_t, t, mean
 * part) (EPSILON), clamped to [−1, 1] when clipDenoised. What DDIM and the solvers need of
 * pMeanVariance, without the posterior and the variances. Inputs are not disposed.
 */
export function predictXstart(
  p: DiffusionProcess,
  modelOutput: tf.Tensor4D,
  x: tf.Tensor4D,
  t: Timesteps,
  options: { clipDenoised: boolean },
): tf.Tensor4D {
  return tf.tidy(() => xstartFromMeanPart(p, splitModelOutput(p, modelOutput, x.shape[1]).meanPart, x, t, options));
}

/** predictXstart from the mean channels already split off the output. */
function xstartFromMeanPart(
  p: DiffusionProcess,
  meanPart: tf.Tensor4D,
  x: tf.Tensor4D,
  t: Timesteps,
  options: { clipDenoised: boolean },
): tf.Tensor4D {
  // clone: without learned variance the mean part is the caller's modelOutput itself, which the caller disposes.
  const predXstart = p.modelMeanType === 'START_X' ? meanPart.clone() : predXstartFromEps(p, x, t, meanPart);
  return options.clipDenoised ? tf.clipByValue(predXstart, -1, 1) : predXstart;
}

/**
 * p(x_{t−1} | x_t) from the network output at (x_t, t):
 * x̂_0 = the mean part (START_X) or predXstartFromEps(x_t, t, mean part) (EPSILON), clamped to [−1, 1]
 * when clipDenoised (predictXstart); μ_θ = posteriorMeanCoef1_t·x̂_0 + posteriorMeanCoef2_t·x_t; Σ_θ per
 * modelVariance (`compactVariance`: fixed variances as [N, 1, 1, 1]).
 * x: [N, C, H, W]; modelOutput: [N, C or 2C, H, W]. Inputs are not disposed.
 */
export function pMeanVariance(
  p: DiffusionProcess,
  modelOutput: tf.Tensor4D,
  x: tf.Tensor4D,
  t: Timesteps,
  options: { clipDenoised: boolean; compactVariance?: boolean },
): PMeanVariance {
  return tf.tidy(() => {
    const { meanPart, varValues } = splitModelOutput(p, modelOutput, x.shape[1]);
    const { variance, logVariance } = modelVariance(p, t, x.shape, varValues, options.compactVariance);
    const predXstart = xstartFromMeanPart(p, meanPart, x, t, options);
    return { mean: posteriorMean(p, predXstart, x, t), variance, logVariance, predXstart };
  });
}
