/** The forward-process posterior q(x_{t−1} | x_t, x_0) = N(μ̃_t, β̃_t·I). */
import * as tf from '@tensorflow/tfjs';
import type { DiffusionProcess } from '../schedule/diffusion-process.ts';
import { broadcastCoefficient, extract, type Timesteps } from './extract.ts';
import type { Gaussian } from './forward.ts';

/**
 * μ̃_t = posteriorMeanCoef1_t·x_0 + posteriorMeanCoef2_t·x_t, variance β̃_t, log-variance clipped at t = 0
 * (logVariance holds posterior_log_variance_clipped). x_0, x_t: [N, C, H, W].
 */
export function qPosteriorMeanVariance(p: DiffusionProcess, xStart: tf.Tensor4D, xT: tf.Tensor4D, t: Timesteps): Gaussian {
  return tf.tidy(
    (): Gaussian => ({
      mean: posteriorMean(p, xStart, xT, t),
      variance: broadcastCoefficient(extract(p.posteriorVariance, t), xT.shape),
      logVariance: broadcastCoefficient(extract(p.posteriorLogVarianceClipped, t), xT.shape),
    }),
  );
}

/** μ̃_t(x_t, x_0) = posteriorMeanCoef1_t·x_0 + posteriorMeanCoef2_t·x_t. */
export function posteriorMean(p: DiffusionProcess, xStart: tf.Tensor4D, xT: tf.Tensor4D, t: Timesteps): tf.Tensor4D {
  return tf.tidy(() => tf.add(tf.mul(extract(p.posteriorMeanCoef1, t), xStart), tf.mul(extract(p.posteriorMeanCoef2, t), xT)));
}
