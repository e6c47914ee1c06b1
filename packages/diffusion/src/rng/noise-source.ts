/**
 * Where a sampling loop's random numbers come from. Samplers draw through this interface only, so a
 * golden case can inject the reference's draws and production can draw each seed's own Philox
 * streams (docs/design.md#one-seed-one-image): x_T is stream 0, the draw of loop step i is stream i + 1.
 */
import type * as tf from '@tensorflow/tfjs';

export type Shape4 = [number, number, number, number];

export interface NoiseSource {
  /** x_T, [N, C, H, W] float32. */
  initial(shape: Shape4): tf.Tensor4D;
  /** The draw of loop step i (i = 0 … S−1 in loop order, i.e. at t = S−1−i), [N, C, H, W]. */
  step(i: number, shape: Shape4): tf.Tensor4D;
}
