import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { initBackend } from '@diffq/diffusion';
import {
  classifierGradient,
  createClassifier,
  parseClassifierConfig,
  parseUNetConfig,
  randomClassifierWeights,
  unetParameterShapes,
} from '@diffq/networks';
import * as tf from '@tensorflow/tfjs';
import { CLASSIFIER_8, randomTfjsEngine, UNET_8 } from '../../../test/fixtures/small-networks.ts';

await initBackend();

/** Unconditional, so that a forward needs only x and t; with resampling ResBlocks. */
const unetConfig = parseUNetConfig({ ...UNET_8, class_cond: false, num_classes: null, resblock_updown: true });
const classifierConfig = parseClassifierConfig(CLASSIFIER_8);

describe('tensor memory', () => {
  it('does not grow across repeated forwards, and dispose() frees the weights', async () => {
    const before = tf.memory().numTensors;
    const engine = randomTfjsEngine(unetConfig, 1);
    const withWeights = tf.memory().numTensors;
    assert.equal(withWeights - before, unetParameterShapes(unetConfig).size, 'one tensor per parameter');
    const x = tf.randomNormal([2, 3, 8, 8]) as tf.Tensor4D;
    const t = tf.tensor1d([10, 500]);
    const counts: number[] = [];
    for (let i = 0; i < 5; i++) {
      const out = await engine.forward(x, t);
      out.dispose();
      counts.push(tf.memory().numTensors);
    }
    assert.deepEqual(counts, Array(5).fill(withWeights + 2), 'only x and t stay alive between forwards');
    tf.dispose([x, t]);
    engine.dispose();
    assert.equal(tf.memory().numTensors, before);
  });

  it('does not grow across repeated classifier gradients', () => {
    const classifier = createClassifier(classifierConfig, randomClassifierWeights(classifierConfig, 2));
    const x = tf.randomNormal([3, 3, 8, 8]) as tf.Tensor4D;
    const t = tf.tensor1d([1, 50, 900]);
    const y = tf.tensor1d([0, 4, 2], 'int32');
    const counts: number[] = [];
    for (let i = 0; i < 5; i++) {
      classifierGradient(classifier, x, t, y, 2).dispose();
      counts.push(tf.memory().numTensors);
    }
    assert.ok(
      counts.every((c) => c === counts[0]),
      `tensor count drifts: ${counts.join(', ')}`,
    );
    tf.dispose([x, t, y]);
    classifier.dispose();
  });
});
