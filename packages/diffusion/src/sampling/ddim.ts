/** DDIM (Song et al. 2021): x_{t−1} from x̂_0 and ε̂ with stochasticity η, guided-diffusion's ddim_sample_loop. */
import * as tf from '@tensorflow/tfjs';
import { extract } from '../process/extract.ts';
import { predEpsFromXstart, predXstartFromEps } from '../process/predictions.ts';
import { nonzeroMask } from './ddpm.ts';
import { type SampleOptions, type SamplerUpdate, sampleLoop } from './loop.ts';

/**
 * With ᾱ = ᾱ_t, ᾱ' = ᾱ_{t−1}: under classifier guidance first ε̂ = ε(x̂_0) − √(1 − ᾱ)·∇ and x̂_0 ← x̂_0(ε̂)
 * (Song's condition_score, not clipped again); then ε̂ = ε(x̂_0), σ = η·√((1 − ᾱ')/(1 − ᾱ))·√(1 − ᾱ/ᾱ'),
 * x_{t−1} = √ᾱ'·x̂_0 + √(1 − ᾱ' − σ²)·ε̂ + [t ≠ 0]·σ·z. The learned variance channels are not used.
 */
export function ddimUpdate(eta: number): SamplerUpdate {
  if (!(eta >= 0)) throw new Error(`DDIM eta is ${eta}; accepted: a number ≥ 0 (0 = deterministic, 1 ≈ DDPM)`);
  return ({ process: p, x, t, out, grad, noise }) => {
    const alphaBar = extract(p.alphasCumprod, t);
    const alphaBarPrev = extract(p.alphasCumprodPrev, t);
    let predXstart = out.predXstart;
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
    const xNext = tf.add(meanPred, tf.mul(tf.mul(nonzeroMask(t), sigma), noise)) as tf.Tensor4D;
    return { xNext, predXstart };
  };
}

/** DDIM sampling over all S steps of options.process; resolves to x_0 [N, C, H, W] (the caller owns it). */
export function sampleDdim(options: SampleOptions & { eta: number }): Promise<tf.Tensor4D> {
  return sampleLoop(options, ddimUpdate(options.eta));
}
