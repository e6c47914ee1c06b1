/**
 * The shipped MNIST feature network (models/mnist-classifier, docs/mnist-classifier.md) classifies
 * the 2,000 held-out digits it never trained on at ≥ 99 %, on the engine the statistics use, and
 * agrees with the accuracy its training recorded.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { mnistDigits } from '@diffq/datasets';
import { openFeatureNetwork } from '@diffq/onnx';
import { countCorrect } from '@diffq/trainer';

const MODEL = join(fileURLToPath(new URL('../..', import.meta.url)), 'models', 'mnist-classifier');

describe('the shipped MNIST classifier', () => {
  it('classifies at least 99 % of the held-out digits, as its training log says', async () => {
    const heldout = await mnistDigits('heldout');
    const net = await openFeatureNetwork(MODEL, { engine: 'onnx' });
    try {
      assert.equal(net.info.architecture, 'mnist-classifier');
      const { features, logits } = await net.extract(heldout.images, heldout.shape);
      assert.equal(features.length, heldout.count * net.info.featureDim);
      const correct = countCorrect(logits!, heldout.labels, 10);
      assert.ok(correct / heldout.count >= 0.99, `held-out accuracy ${correct / heldout.count}`);
      const recorded = JSON.parse(readFileSync(join(MODEL, 'evaluation.json'), 'utf8'));
      // Training evaluated on tfjs; onnx may flip a near-tie, no more.
      assert.ok(Math.abs(recorded.heldoutCorrect - correct) <= 1, `recorded ${recorded.heldoutCorrect}, onnx ${correct}`);
    } finally {
      net.dispose();
    }
  });
});
