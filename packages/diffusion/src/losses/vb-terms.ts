/**
 * One term of the variational bound L_vlb, in bits per dimension: the decoder NLL at t = 0,
 * KL(q(x_{t−1} | x_t, x_0) ‖ p_θ(x_{t−1} | x_t)) otherwise (guided-diffusion's _vb_terms_bpd).
 */
import * as tf from '@tensorflow/tfjs';
import type { Timesteps } from '../process/extract.ts';
import { pMeanVariance } from '../process/p-mean-variance.ts';
import { qPosteriorMeanVariance } from '../process/posterior.ts';
import type { DiffusionProcess } from '../schedule/diffusion-process.ts';
import { discretizedGaussianLogLikelihood } from './discretized-gaussian.ts';
import { normalKl } from './normal-kl.ts';

/** mean over every axis but the batch: [N, …] → [N]. */
export function meanFlat(x: tf.Tensor): tf.Tensor1D {
  return tf.tidy(
    () =>
      tf.mean(
        x,
        Array.from({ length: x.rank - 1 }, (_, i) => i + 1),
      ) as tf.Tensor1D,
  );
}

/**
 * L_t per sample, [N], in bits: with p_θ from modelOutput (no clipping) and q the true posterior,
 * L_0 = −mean_CHW log p_θ(x_0 | x_1) / ln 2 (discretised decoder), L_t = mean_CHW KL(q ‖ p_θ) / ln 2 for t > 0.
 * xStart, xT: [N, C, H, W]; modelOutput: [N, C or 2C, H, W].
 */
export function vbTermsBpd(p: DiffusionProcess, xStart: tf.Tensor4D, xT: tf.Tensor4D, t: Timesteps, modelOutput: tf.Tensor4D): tf.Tensor1D {
  return tf.tidy(() => {
    const q = qPosteriorMeanVariance(p, xStart, xT, t);
    const out = pMeanVariance(p, modelOutput, xT, t, { clipDenoised: false });
    const kl = tf.div(meanFlat(normalKl(q.mean, q.logVariance, out.mean, out.logVariance)), Math.LN2);
    const decoderNll = tf.div(meanFlat(tf.neg(discretizedGaussianLogLikelihood(xStart, out.mean, tf.mul(0.5, out.logVariance)))), Math.LN2);
    const atZero = tf.tensor1d(
      Array.from(t, (ti) => ti === 0),
      'bool',
    );
    return tf.where(atZero, decoderNll, kl) as tf.Tensor1D;
  });
}
