/** The forward (noising) process q(x_t | x_0) = N(√ᾱ_t·x_0, (1 − ᾱ_t)·I). */
import * as tf from '@tensorflow/tfjs';
import type { DiffusionProcess } from '../schedule/diffusion-process.ts';
import { broadcastCoefficient, extract, type Timesteps } from './extract.ts';

/** x_t = √ᾱ_t·x_0 + √(1 − ᾱ_t)·ε. x_0, ε: [N, C, H, W]; returns [N, C, H, W]. */
export function qSample(p: DiffusionProcess, xStart: tf.Tensor4D, t: Timesteps, noise: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.add(tf.mul(extract(p.sqrtAlphasCumprod, t), xStart), tf.mul(extract(p.sqrtOneMinusAlphasCumprod, t), noise)));
}

/** A type alias, not an interface, so that tf.tidy accepts it as a TensorContainer. */
export type Gaussian = {
  /** [N, C, H, W]. */
  mean: tf.Tensor4D;
  /** [N, C, H, W] (per-sample values broadcast over C, H, W). */
  variance: tf.Tensor4D;
  /** [N, C, H, W]. */
  logVariance: tf.Tensor4D;
};

/** q(x_t | x_0): mean √ᾱ_t·x_0, variance 1 − ᾱ_t, log-variance log(1 − ᾱ_t). */
export function qMeanVariance(p: DiffusionProcess, xStart: tf.Tensor4D, t: Timesteps): Gaussian {
  return tf.tidy(
    (): Gaussian => ({
      mean: tf.mul(extract(p.sqrtAlphasCumprod, t), xStart),
      variance: broadcastCoefficient(
        extract(p.alphasCumprod, t, (a) => 1 - a),
        xStart.shape,
      ),
      logVariance: broadcastCoefficient(extract(p.logOneMinusAlphasCumprod, t), xStart.shape),
    }),
  );
}
