import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { initBackend } from '@diffq/diffusion';
import {
  CLASSIFIER_POOLS,
  type ClassifierPool,
  classifierGradient,
  classifierLogits,
  createClassifier,
  type NoisyClassifier,
  parseClassifierConfig,
  randomClassifierWeights,
} from '@diffq/networks';
import * as tf from '@tensorflow/tfjs';

await initBackend();

function classifierWith(pool: ClassifierPool, seed: number): NoisyClassifier {
  const config = parseClassifierConfig({
    image_size: 8,
    classifier_width: 32,
    classifier_depth: 1,
    classifier_attention_resolutions: '4',
    classifier_pool: pool,
    channel_mult: '1,2',
    num_head_channels: 32,
    out_channels: 7,
  });
  return createClassifier(config, randomClassifierWeights(config, seed));
}

/** Σᵢ log softmax(logits)[i, yᵢ], the quantity whose gradient classifier guidance follows. */
function selectedLogProb(c: NoisyClassifier, x: tf.Tensor4D, t: tf.Tensor1D, y: number[]): number {
  return tf.tidy(() => {
    const logp = tf.logSoftmax(classifierLogits(c, x, t));
    const picked = tf.mul(logp, tf.oneHot(tf.tensor1d(y, 'int32'), c.config.outChannels).toFloat());
    return tf.sum(picked).dataSync()[0];
  });
}

/**
 * Relative agreement asked of a central finite difference in float32. The spatial heads are looser:
 * `spatial` has ReLU kinks inside the difference interval, and `spatial_v2`'s GroupNorm over 2048
 * random features gives a derivative small against the value, so float32 rounding shows.
 */
const FD_TOLERANCE: Record<ClassifierPool, number> = { attention: 1e-2, adaptive: 1e-2, spatial: 0.1, spatial_v2: 0.2 };

describe('noisy classifier', () => {
  for (const pool of CLASSIFIER_POOLS) {
    it(`follows the directional derivative of Σ log p(y|x) with the ${pool} head`, () => {
      const c = classifierWith(pool, 11);
      const x = tf.randomNormal([2, 3, 8, 8], 0, 1, 'float32', 5) as tf.Tensor4D;
      const d = tf.randomNormal([2, 3, 8, 8], 0, 1, 'float32', 6) as tf.Tensor4D;
      const t = tf.tensor1d([3, 700]);
      const y = [1, 6];
      const scale = 2.5;
      const grad = classifierGradient(c, x, t, tf.tensor1d(y, 'int32'), scale);
      assert.deepEqual(grad.shape, [2, 3, 8, 8]);
      const analytic = tf.sum(tf.mul(grad, d)).dataSync()[0];
      const eps = 3e-3;
      const plus = tf.add(x, tf.mul(d, eps)) as tf.Tensor4D;
      const minus = tf.sub(x, tf.mul(d, eps)) as tf.Tensor4D;
      const numeric = (scale * (selectedLogProb(c, plus, t, y) - selectedLogProb(c, minus, t, y))) / (2 * eps);
      assert.ok(
        Math.abs(analytic - numeric) <= FD_TOLERANCE[pool] * Math.abs(numeric),
        `analytic ${analytic}, finite difference ${numeric}`,
      );
      assert.ok(Math.abs(numeric) > 1e-3, 'the check is not vacuous');
      tf.dispose([x, d, t, grad, plus, minus]);
      c.dispose();
    });
  }

  it("gives each sample's gradient from that sample alone", () => {
    const c = classifierWith('attention', 12);
    const x = tf.randomNormal([3, 3, 8, 8], 0, 1, 'float32', 7) as tf.Tensor4D;
    const t = tf.tensor1d([10, 20, 30]);
    const y = tf.tensor1d([0, 1, 2], 'int32');
    const whole = classifierGradient(c, x, t, y, 1);
    const first = tf.tidy(() => classifierGradient(c, tf.slice(x, [0], [1]), tf.slice(t, [0], [1]), tf.slice(y, [0], [1]), 1));
    const rest = tf.tidy(() => classifierGradient(c, tf.slice(x, [1], [2]), tf.slice(t, [1], [2]), tf.slice(y, [1], [2]), 1));
    assert.deepEqual(Array.from(whole.dataSync()), [...first.dataSync(), ...rest.dataSync()]);
    tf.dispose([x, t, y, whole, first, rest]);
    c.dispose();
  });
});
