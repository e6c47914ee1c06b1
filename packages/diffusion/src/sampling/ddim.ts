/** DDIM (Song et al. 2021): x_{t−1} from x̂_0 and ε̂ with stochasticity η, guided-diffusion's ddim_sample_loop. */
import * as tf from '@tensorflow/tfjs';
import { batchTimesteps, extract } from '../process/extract.ts';
import { predictXstart } from '../process/p-mean-variance.ts';
import { predEpsFromXstart, predXstartFromEps } from '../process/predictions.ts';
import { nonzeroMask } from './ddpm.ts';
import { runSampling, type SampleOptions } from './loop.ts';
import { spacedSteps } from './spaced-steps.ts';

/**
 * For t = S−1 … 0, with ᾱ = ᾱ_t, ᾱ' = ᾱ_{t−1}: under classifier guidance first ε̂ = ε(x̂_0) − √(1 − ᾱ)·∇
 * and x̂_0 ← x̂_0(ε̂) (Song's condition_score, not clipped again); then ε̂ = ε(x̂_0),
 * σ = η·√((1 − ᾱ')/(1 − ᾱ))·√(1 − ᾱ/ᾱ'), x_{t−1} = √ᾱ'·x̂_0 + √(1 − ᾱ' − σ²)·ε̂ + [t ≠ 0]·σ·z_i.
 * The learned variance channels are not used. z_i is drawn at every step when η > 0; at η = 0 it is
 * not drawn (guided-diffusion draws it and multiplies it by σ = 0): each step's noise is its own
 * stream, so skipping it changes no other draw, and x_{t−1} is the same number without it.
 * Resolves to x_0 [N, C, H, W] (the caller owns it).
 */
export function sampleDdim(o: SampleOptions & { eta: number }): Promise<tf.Tensor4D> {
  const { eta } = o;
  if (!(eta >= 0)) throw new Error(`DDIM eta is ${eta}; accepted: a number ≥ 0 (0 = deterministic, 1 ≈ DDPM)`);
  const p = o.process;
  const n = o.shape[0];
  return runSampling(o, async ({ denoiser, live, xT }) => {
    let x = xT;
    for (const { i, t: ti, modelTimestep } of spacedSteps(p)) {
      const t = batchTimesteps(ti, n);
      const { output, grad } = await denoiser.evaluate(x, modelTimestep);
      live.hold(output);
      if (grad) live.hold(grad);
      const z = eta > 0 ? live.hold(o.noise.step(i, o.shape)) : undefined;
      const [xNext, predXstart] = tf.tidy(() => {
        const alphaBar = extract(p.alphasCumprod, t);
        const alphaBarPrev = extract(p.alphasCumprodPrev, t);
        let predXstart = predictXstart(p, output, x, t, { clipDenoised: o.clipDenoised });
        if (grad) {
          const guidedEps = tf.sub(predEpsFromXstart(p, x, t, predXstart), tf.mul(tf.sqrt(tf.sub(1, alphaBar)), grad)) as tf.Tensor4D;
          predXstart = predXstartFromEps(p, x, t, guidedEps);
        }
        const eps = predEpsFromXstart(p, x, t, predXstart);
        const sigma = tf.mul(
          tf.mul(eta, tf.sqrt(tf.div(tf.sub(1, alphaBarPrev), tf.sub(1, alphaBar)))),
          tf.sqrt(tf.sub(1, tf.div(alphaBar, alphaBarPrev))),
        );
        const meanPred = tf.add(
          tf.mul(predXstart, tf.sqrt(alphaBarPrev)),
          tf.mul(tf.sqrt(tf.sub(tf.sub(1, alphaBarPrev), tf.square(sigma))), eps),
        );
        if (!z) return [meanPred as tf.Tensor4D, predXstart];
        return [tf.add(meanPred, tf.mul(tf.mul(nonzeroMask(t), sigma), z)) as tf.Tensor4D, predXstart];
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
