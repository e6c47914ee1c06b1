/** Converting between the network's two parameterisations, ε and x_0, through x_t = √ᾱ_t·x_0 + √(1 − ᾱ_t)·ε. */
import * as tf from '@tensorflow/tfjs';
import type { DiffusionProcess } from '../schedule/diffusion-process.ts';
import { extract, type Timesteps } from './extract.ts';

/** x̂_0 = √(1/ᾱ_t)·x_t − √(1/ᾱ_t − 1)·ε. All [N, C, H, W]. */
export function predXstartFromEps(p: DiffusionProcess, xT: tf.Tensor4D, t: Timesteps, eps: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.sub(tf.mul(extract(p.sqrtRecipAlphasCumprod, t), xT), tf.mul(extract(p.sqrtRecipm1AlphasCumprod, t), eps)));
}

/** ε̂ = (√(1/ᾱ_t)·x_t − x̂_0) / √(1/ᾱ_t − 1). All [N, C, H, W]. */
export function predEpsFromXstart(p: DiffusionProcess, xT: tf.Tensor4D, t: Timesteps, predXstart: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() =>
    tf.div(tf.sub(tf.mul(extract(p.sqrtRecipAlphasCumprod, t), xT), predXstart), extract(p.sqrtRecipm1AlphasCumprod, t)),
  );
}
