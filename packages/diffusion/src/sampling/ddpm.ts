/** Ancestral sampling (Ho et al. 2020): x_{t−1} ~ p_θ(x_{t−1} | x_t), guided-diffusion's p_sample_loop. */
import * as tf from '@tensorflow/tfjs';
import { batchTimesteps } from '../process/extract.ts';
import { pMeanVariance } from '../process/p-mean-variance.ts';
import { runSampling, type SampleOptions } from './loop.ts';
import { spacedSteps } from './spaced-steps.ts';

/** [t_i ≠ 0] as [N, 1, 1, 1]: no noise is added on the last step. */
export function nonzeroMask(t: number[]): tf.Tensor4D {
  return tf.tensor4d(
    t.map((ti) => (ti !== 0 ? 1 : 0)),
    [t.length, 1, 1, 1],
    'float32',
  );
}

/**
 * For t = S−1 … 0: x_{t−1} = μ + [t ≠ 0]·exp(½·log Σ)·z_i, with μ ← μ + Σ·∇_x log p(y | x_t) under
 * classifier guidance (Sohl-Dickstein's condition_mean). Draws step i's z_i at every step, also at
 * t = 0 where it is multiplied by 0. Resolves to x_0 [N, C, H, W] (the caller owns it).
 */
export function sampleDdpm(o: SampleOptions): Promise<tf.Tensor4D> {
  const p = o.process;
  const n = o.shape[0];
  return runSampling(o, async ({ denoiser, live, xT }) => {
    let x = xT;
    for (const { i, t: ti, modelTimestep } of spacedSteps(p)) {
      const t = batchTimesteps(ti, n);
      const { output, grad } = await denoiser.evaluate(x, modelTimestep);
      live.hold(output);
      if (grad) live.hold(grad);
      const z = live.hold(o.noise.step(i, o.shape));
      const [xNext, predXstart] = tf.tidy(() => {
        // Fixed variances stay [N, 1, 1, 1]: the same values, without an exp over every pixel.
        const out = pMeanVariance(p, output, x, t, { clipDenoised: o.clipDenoised, compactVariance: true });
        const mean = grad ? tf.add(out.mean, tf.mul(out.variance, grad)) : out.mean;
        return [tf.add(mean, tf.mul(tf.mul(nonzeroMask(t), tf.exp(tf.mul(0.5, out.logVariance))), z)) as tf.Tensor4D, out.predXstart];
      });
      live.release(output, grad, z, x);
      x = live.hold(xNext);
      live.hold(predXstart);
      await o.onStep?.({ i, t: ti, steps: p.numTimesteps, modelTimestep, x, predXstart });
      live.release(predXstart);
    }
    return x;
  });
}
