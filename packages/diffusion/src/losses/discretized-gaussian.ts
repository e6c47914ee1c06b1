/** The likelihood of 8-bit image data under a Gaussian decoder, discretised to the 256 pixel bins. */
import * as tf from '@tensorflow/tfjs';

/** Φ(x) ≈ ½(1 + tanh(√(2/π)·(x + 0.044715·x³))), the tanh approximation of the standard normal CDF. */
export function approxStandardNormalCdf(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(0.5, tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))))))));
}

/**
 * log P(x) for x ∈ [−1, 1] scaled from uint8, each value owning the bin x ± 1/255 under N(means, e^{2·logScales}):
 * log(Φ(z₊) − Φ(z₋)) with z± = (x − μ ± 1/255)·e^{−logScale}, except that the edge bins are open-ended
 * (x < −0.999: log Φ(z₊); x > 0.999: log(1 − Φ(z₋))). Probabilities are floored at 1e−12. In nats, element-wise.
 */
export function discretizedGaussianLogLikelihood(x: tf.Tensor, means: tf.Tensor, logScales: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const centered = tf.sub(x, means);
    const invStdv = tf.exp(tf.neg(logScales));
    const cdfPlus = approxStandardNormalCdf(tf.mul(invStdv, tf.add(centered, 1 / 255)));
    const cdfMin = approxStandardNormalCdf(tf.mul(invStdv, tf.sub(centered, 1 / 255)));
    const logCdfPlus = tf.log(tf.maximum(cdfPlus, 1e-12));
    const logOneMinusCdfMin = tf.log(tf.maximum(tf.sub(1, cdfMin), 1e-12));
    const logCdfDelta = tf.log(tf.maximum(tf.sub(cdfPlus, cdfMin), 1e-12));
    return tf.where(tf.less(x, -0.999), logCdfPlus, tf.where(tf.greater(x, 0.999), logOneMinusCdfMin, logCdfDelta));
  });
}
