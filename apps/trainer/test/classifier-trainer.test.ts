import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { initBackend } from '@diffq/diffusion';
import { parseMnistClassifierConfig, TfjsMnistClassifier } from '@diffq/networks';
import {
  type ClassifierTrainerSettings,
  cosineLearningRate,
  countCorrect,
  distortImages,
  type LabelledImages,
  MnistClassifierTrainer,
} from '@diffq/trainer';
import * as tf from '@tensorflow/tfjs';

await initBackend();

const SMALL = parseMnistClassifierConfig({ image_size: 12, stage_channels: [4, 8], convs_per_stage: 1, hidden: 16, num_classes: 3 });

/** n 12×12 images of 3 classes: a bright bar at the top, middle or bottom, at a jittered column. */
function bars(n: number): LabelledImages {
  const images = new Uint8Array(n * 144);
  const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
  for (let i = 0; i < n; i++) {
    const row = 2 + 4 * labels[i];
    for (let x = (i * 7) % 4; x < 8 + ((i * 7) % 4); x++) images[i * 144 + row * 12 + x] = 255;
  }
  return { images, shape: [n, 12, 12, 1], labels };
}

const SETTINGS: ClassifierTrainerSettings = {
  batchSize: 12,
  lr: 1e-2,
  steps: 30,
  warmupSteps: 0,
  weightDecay: 0,
  emaRate: 0.5,
  maxShift: 0,
  maxRotation: 0,
  maxScale: 0,
  seed: 1,
};

describe('the MNIST classifier trainer', () => {
  it('lowers the loss on a small labelled set within a few steps, without leaking tensors', () => {
    const trainer = new MnistClassifierTrainer(SMALL, bars(36), SETTINGS);
    try {
      const first = trainer.trainStep();
      const live = tf.memory().numTensors;
      let last = first;
      for (let i = 0; i < 24; i++) last = trainer.trainStep();
      assert.equal(tf.memory().numTensors, live, 'live tensors after 25 steps');
      assert.ok(last.loss < 0.5 * first.loss, `loss ${first.loss} → ${last.loss}`);
      const data = bars(36);
      assert.ok(countCorrect(trainer.emaLogits(data.images, data.shape), data.labels, 3) >= 33, 'the EMA weights classify the bars');
    } finally {
      trainer.dispose();
    }
  });

  it('saves EMA weights that the tfjs feature network loads and that give the same logits', async () => {
    const trainer = new MnistClassifierTrainer(SMALL, bars(36), { ...SETTINGS, steps: 3 });
    const net = (() => {
      try {
        for (let i = 0; i < 3; i++) trainer.trainStep();
        return new TfjsMnistClassifier(SMALL, trainer.emaStateDict());
      } catch (e) {
        trainer.dispose();
        throw e;
      }
    })();
    try {
      const data = bars(6);
      const { logits } = await net.extract(data.images, data.shape);
      const expected = trainer.emaLogits(data.images, data.shape);
      assert.ok(logits!.every((v, i) => Math.abs(v - expected[i]) < 1e-5));
    } finally {
      net.dispose();
      trainer.dispose();
    }
  });

  it('draws the same distorted minibatch for a step whatever came before', () => {
    const data = bars(36);
    const settings = { ...SETTINGS, maxShift: 2, maxRotation: 10, maxScale: 0.1 };
    const a = new MnistClassifierTrainer(SMALL, data, settings);
    const b = new MnistClassifierTrainer(SMALL, data, settings);
    try {
      a.trainStep();
      assert.deepEqual(a.batch(5), b.batch(5));
      assert.notDeepEqual(a.batch(5).images, a.batch(6).images);
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it('refuses settings out of range, naming the field', () => {
    assert.throws(
      () => new MnistClassifierTrainer(SMALL, bars(3), { ...SETTINGS, maxRotation: 90 }),
      /maxRotation is 90; accepted: a number of degrees in \[0, 45\]/,
    );
    assert.throws(
      () => new MnistClassifierTrainer(SMALL, { ...bars(3), shape: [3, 12, 12, 3] }, SETTINGS),
      /images are \[12, 12, 3\]; the network takes \[12, 12, 1\]/,
    );
  });
});

describe('digit distortions', () => {
  const image = Uint8Array.from({ length: 2 * 25 }, (_, i) => (i * 37) % 256);
  const shape = [2, 5, 5, 1] as const;

  it('moves pixels exactly by whole-pixel shifts, filling with zeros', () => {
    const out = distortImages(image, shape, [
      { angle: 0, scale: 1, dx: 1, dy: 0 },
      { angle: 0, scale: 1, dx: -2, dy: 1 },
    ]);
    for (let y = 0; y < 5; y++) {
      for (let x = 0; x < 5; x++) {
        assert.equal(out[y * 5 + x], x >= 1 ? image[y * 5 + x - 1] : 0);
        const sx = x + 2;
        const sy = y - 1;
        assert.equal(out[25 + y * 5 + x], sx < 5 && sy >= 0 ? image[25 + sy * 5 + sx] : 0);
      }
    }
  });

  it('leaves an image as it is under the identity and turns it a quarter by 90°', () => {
    const identity = { angle: 0, scale: 1, dx: 0, dy: 0 };
    assert.deepEqual(distortImages(image, shape, [identity, identity]), image);
    const turned = distortImages(image, shape, [{ ...identity, angle: Math.PI / 2 }, identity]);
    // out(x, y) = in(c + R(−90°)(p − c)): a quarter turn of the 5×5 grid about its centre.
    for (let y = 0; y < 5; y++) for (let x = 0; x < 5; x++) assert.equal(turned[y * 5 + x], image[(4 - x) * 5 + y]);
  });
});

describe('the learning-rate schedule', () => {
  it('warms up linearly, peaks, and decays along a half cosine to zero', () => {
    assert.equal(cosineLearningRate(5, 100, 10, 1e-3), 5e-4);
    assert.equal(cosineLearningRate(10, 100, 10, 1e-3), 1e-3);
    assert.ok(Math.abs(cosineLearningRate(55, 100, 10, 1e-3) - 5e-4) < 1e-12);
    assert.equal(cosineLearningRate(100, 100, 10, 1e-3), 0);
  });
});
