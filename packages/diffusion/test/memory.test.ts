import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  classifierGradient,
  classifierParameterShapes,
  createClassifier,
  createUNet,
  initBackend,
  parseClassifierConfig,
  parseUNetConfig,
  randomStateDict,
  TfjsEngine,
  unetParameterShapes,
} from '@diffq/diffusion';
import * as tf from '@tensorflow/tfjs';

await initBackend();

const unetConfig = parseUNetConfig({
  image_size: 8,
  num_channels: 32,
  num_res_blocks: 1,
  channel_mult: '1,1',
  attention_resolutions: '4',
  num_heads: 2,
  use_scale_shift_norm: true,
  resblock_updown: true,
  learn_sigma: true,
});

const classifierConfig = parseClassifierConfig({
  image_size: 8,
  classifier_width: 32,
  classifier_depth: 1,
  classifier_attention_resolutions: '4',
  channel_mult: '1,1',
  num_head_channels: 16,
  out_channels: 5,
});

describe('tensor memory', () => {
  it('does not grow across repeated forwards, and dispose() frees the weights', async () => {
    const before = tf.memory().numTensors;
    const engine = new TfjsEngine(createUNet(unetConfig, randomStateDict(unetParameterShapes(unetConfig), 1)));
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
    const classifier = createClassifier(classifierConfig, randomStateDict(classifierParameterShapes(classifierConfig), 2));
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
