/** The KL divergence between two diagonal Gaussians, element-wise. */
import * as tf from '@tensorflow/tfjs';

/**
 * KL(N(μ₁, e^{lv₁}) ‖ N(μ₂, e^{lv₂})) = ½(−1 + lv₂ − lv₁ + e^{lv₁ − lv₂} + (μ₁ − μ₂)²·e^{−lv₂}), in nats,
 * element-wise; all arguments broadcast against each other.
 */
export function normalKl(mean1: tf.Tensor, logvar1: tf.Tensor, mean2: tf.Tensor, logvar2: tf.Tensor): tf.Tensor {
  return tf.tidy(() =>
    tf.mul(
      0.5,
      tf.addN([
        tf.scalar(-1).broadcastTo(mean1.shape),
        tf.sub(logvar2, logvar1),
        tf.exp(tf.sub(logvar1, logvar2)),
        tf.mul(tf.square(tf.sub(mean1, mean2)), tf.exp(tf.neg(logvar2))),
      ] as tf.Tensor[]),
    ),
  );
}
