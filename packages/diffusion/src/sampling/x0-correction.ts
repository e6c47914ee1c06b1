/**
 * The ODE solvers' correction of every data prediction x̂_0 (the official DPM-Solver / UniPC
 * `correcting_x0_fn`): Imagen's dynamic thresholding, guided-diffusion's static clipping to the data
 * range, or both.
 */
import * as tf from '@tensorflow/tfjs';
import { type DynamicThreshold, dynamicThreshold } from './dynamic-threshold.ts';

/** The data range of a pixel model: images scaled to [−1, 1], as guided-diffusion trains on them. */
export const PIXEL_DATA_RANGE = { min: -1, max: 1 } as const;

export interface X0Correction {
  /** Clamp x̂_0 to PIXEL_DATA_RANGE (guided-diffusion's clip_denoised); off for a latent, which has no such range. */
  clipDenoised: boolean;
  dynamicThreshold?: DynamicThreshold;
}

/**
 * x̂_0 ← clamp(threshold(x̂_0), −1, 1): thresholding first, then the clip, so the clip has the last word
 * and x̂_0 always ends in the data range (after a threshold it changes nothing: thresholding already
 * divides into [−1, 1]). x0 [N, C, H, W]; call inside tf.tidy. Returns x0 itself when nothing applies.
 */
export function correctX0(x0: tf.Tensor4D, { clipDenoised, dynamicThreshold: threshold }: X0Correction): tf.Tensor4D {
  const thresholded = threshold ? dynamicThreshold(x0, threshold) : x0;
  return clipDenoised ? tf.clipByValue(thresholded, PIXEL_DATA_RANGE.min, PIXEL_DATA_RANGE.max) : thresholded;
}
