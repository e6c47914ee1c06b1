/**
 * Gathering per-sample schedule coefficients. The reference keeps the schedule in float64 and gathers
 * arr[t] per sample, casting it to float32 before any tensor arithmetic; doing the same makes diffq's
 * float32 formulas round like the reference's.
 */
import * as tf from '@tensorflow/tfjs';

/** Spaced timesteps, one per sample: integers in [0, S). Host-side, as the loops know them. */
export type Timesteps = ArrayLike<number>;

/**
 * float32(arr[t_i]) shaped [N, 1, 1, 1], to broadcast against NCHW tensors; with `f`, float32(f(arr[t_i], t_i)),
 * for a quantity derived from a schedule array, evaluated in float64 at the batch's timesteps only.
 */
export function extract(arr: ArrayLike<number>, t: Timesteps, f?: (value: number, t: number) => number): tf.Tensor4D {
  const values = new Float32Array(t.length);
  for (let i = 0; i < t.length; i++) {
    const ti = t[i];
    if (!Number.isInteger(ti) || ti < 0 || ti >= arr.length) {
      throw new Error(`timestep t[${i}] is ${ti}; accepted: an integer in [0, ${arr.length - 1}]`);
    }
    values[i] = f ? f(arr[ti], ti) : arr[ti];
  }
  return tf.tensor4d(values, [t.length, 1, 1, 1], 'float32');
}

/** The same timestep for every sample of a batch: [t, t, …] (N entries). */
export function batchTimesteps(t: number, n: number): number[] {
  return new Array<number>(n).fill(t);
}

/**
 * a [N, 1, 1, 1] (or any shape broadcastable to `shape`) spread to `shape`, exactly: a·1 is a. On the
 * wasm backend tf.broadcastTo (a Tile) costs ~3 ms for one MNIST micro-batch and this ~0.03 ms, which
 * matters at every sampling step.
 */
export function broadcastCoefficient(a: tf.Tensor, shape: readonly number[]): tf.Tensor4D {
  return tf.tidy(() => tf.mul(tf.fill([...shape], 1), a) as tf.Tensor4D);
}
