/** Ancestral sampling (Ho et al. 2020): x_{t−1} ~ p_θ(x_{t−1} | x_t), guided-diffusion's p_sample_loop. */
import * as tf from '@tensorflow/tfjs';
import { type SampleOptions, type SamplerUpdate, sampleLoop } from './loop.ts';

/** [t_i ≠ 0] as [N, 1, 1, 1]: no noise is added on the last step. */
export function nonzeroMask(t: number[]): tf.Tensor4D {
  return tf.tensor4d(
    t.map((ti) => (ti !== 0 ? 1 : 0)),
    [t.length, 1, 1, 1],
    'float32',
  );
}

/**
 * x_{t−1} = μ + [t ≠ 0]·exp(½·log Σ)·z, with μ ← μ + Σ·∇_x log p(y | x_t) under classifier guidance
 * (Sohl-Dickstein's condition_mean).
 */
export const ddpmUpdate: SamplerUpdate = ({ t, out, grad, noise }) => {
  const mean = grad ? tf.add(out.mean, tf.mul(out.variance, grad)) : out.mean;
  const xNext = tf.add(mean, tf.mul(tf.mul(nonzeroMask(t), tf.exp(tf.mul(0.5, out.logVariance))), noise)) as tf.Tensor4D;
  return { xNext, predXstart: out.predXstart };
};

/** DDPM ancestral sampling over all S steps of options.process; resolves to x_0 [N, C, H, W] (the caller owns it). */
export function sampleDdpm(options: SampleOptions): Promise<tf.Tensor4D> {
  return sampleLoop(options, ddpmUpdate);
}
