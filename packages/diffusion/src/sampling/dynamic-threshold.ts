/** Imagen's dynamic thresholding of x̂_0 (Saharia et al. 2022), as DPM-Solver++ applies it. */
import * as tf from '@tensorflow/tfjs';

export interface DynamicThreshold {
  /** p: the quantile of |x̂_0| per sample that becomes the threshold, in (0, 1]. */
  ratio: number;
  /** m: the threshold is at least this. */
  maxValue: number;
}

/**
 * Per sample: s = max(quantile_p(|x̂_0|), m) over its C·H·W values (torch.quantile's linear
 * interpolation), then x̂_0 ← clamp(x̂_0, −s, s)/s, so x̂_0 ∈ [−1, 1]. x0 [N, C, H, W]; call inside tf.tidy.
 */
export function dynamicThreshold(x0: tf.Tensor4D, { ratio, maxValue }: DynamicThreshold): tf.Tensor4D {
  const [n, c, h, w] = x0.shape;
  const size = c * h * w;
  const q = ratio * (size - 1);
  const lo = Math.floor(q);
  const hi = Math.min(lo + 1, size - 1);
  // topk sorts descending: the ascending a[j] is column size − 1 − j.
  const sorted = tf.topk(tf.reshape(tf.abs(x0), [n, size]), size).values;
  const aLo = tf.slice(sorted, [0, size - 1 - lo], [n, 1]);
  const aHi = tf.slice(sorted, [0, size - 1 - hi], [n, 1]);
  const s = tf.reshape(tf.maximum(tf.add(aLo, tf.mul(q - lo, tf.sub(aHi, aLo))), maxValue), [n, 1, 1, 1]);
  return tf.div(tf.minimum(tf.maximum(x0, tf.neg(s)), s), s) as tf.Tensor4D;
}
