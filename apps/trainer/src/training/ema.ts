/**
 * The exponential moving average of the weights that sampling uses (guided-diffusion update_ema):
 * θ_ema ← r·θ_ema + (1 − r)·θ.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * The decay used at update number `step` (1-based): min(rate, (1 + step)/(10 + step)). guided-diffusion
 * uses a constant 0.9999, which averages over ~10⁴ steps and suits runs of 10⁵–10⁶ steps; a run of a
 * few thousand steps would still be dominated by its random initialisation, so the decay ramps up
 * from 0.18 as in TensorFlow's ExponentialMovingAverage(num_updates) and the trainer's default rate is lower.
 */
export function emaDecay(rate: number, step: number): number {
  return Math.min(rate, (1 + step) / (10 + step));
}

/** The new average, as new tensors (the caller disposes the old ones). */
export function emaUpdate(
  ema: ReadonlyMap<string, tf.Tensor>,
  params: ReadonlyMap<string, tf.Tensor>,
  decay: number,
): Map<string, tf.Tensor> {
  return new Map([...ema].map(([key, avg]) => [key, tf.tidy(() => tf.add(tf.mul(avg, decay), tf.mul(params.get(key)!, 1 - decay)))]));
}
