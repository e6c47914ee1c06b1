import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.ts';
import { discretizedGaussianLogLikelihood } from '../src/losses/discretized-gaussian.ts';
import { normalKl } from '../src/losses/normal-kl.ts';
import { engineTrainingLosses, lossTerms, perturbedXt, type TrainingBatch, trainingLosses } from '../src/losses/training-loss.ts';
import { TestNetwork, testProcess } from './sampling-test-network.ts';

await initBackend();

const shape: [number, number, number, number] = [4, 3, 4, 4];

function batch(seed: number): TrainingBatch {
  return {
    xStart: tf.tidy(() => tf.sub(tf.div(tf.floor(tf.randomUniform(shape, 0, 256, 'float32', seed)), 127.5), 1) as tf.Tensor4D),
    t: [0, 1, 4, 7],
    noise: tf.randomNormal(shape, 0, 1, 'float32', seed + 1) as tf.Tensor4D,
    perturbNoise: tf.randomNormal(shape, 0, 1, 'float32', seed + 2) as tf.Tensor4D,
  };
}

const values = (x: tf.Tensor) => Array.from(x.dataSync());

describe('normal KL', () => {
  it('is zero between identical Gaussians and matches the closed form otherwise', () => {
    tf.tidy(() => {
      assert.deepEqual(values(normalKl(tf.tensor([0.3]), tf.tensor([-1.2]), tf.tensor([0.3]), tf.tensor([-1.2]))), [0]);
      const [m1, lv1, m2, lv2] = [0.5, Math.log(0.4), -0.2, Math.log(1.5)];
      const expected = Math.log(Math.sqrt(1.5 / 0.4)) + (0.4 + (m1 - m2) ** 2) / (2 * 1.5) - 0.5;
      const kl = normalKl(tf.tensor([m1]), tf.tensor([lv1]), tf.tensor([m2]), tf.tensor([lv2])).dataSync()[0];
      assert.ok(Math.abs(kl - expected) < 1e-6, `${kl} vs ${expected}`);
    });
  });
});

describe('discretised Gaussian likelihood', () => {
  it('gives the 256 pixel values probabilities that sum to one', () => {
    tf.tidy(() => {
      const pixels = tf.sub(tf.div(tf.range(0, 256), 127.5), 1);
      for (const [mean, logScale] of [
        [0.1, Math.log(0.05)],
        [-0.97, Math.log(0.3)],
        [0.999, Math.log(0.01)],
      ]) {
        const logp = discretizedGaussianLogLikelihood(pixels, tf.fill([256], mean), tf.fill([256], logScale));
        const total = tf.sum(tf.exp(logp)).dataSync()[0];
        assert.ok(Math.abs(total - 1) < 1e-3, `mean ${mean}: total ${total}`);
      }
    });
  });
});

describe('DDPM-IP training loss', () => {
  it('feeds the network perturbed noise but regresses the unperturbed noise', () => {
    const p = testProcess({ input_perturbation: 0.1 });
    tf.tidy(() => {
      const b = batch(10);
      const xT = perturbedXt(p, b.xStart, b.t, b.noise, b.perturbNoise);
      const unperturbed = perturbedXt(testProcess({ input_perturbation: 0 }), b.xStart, b.t, b.noise, b.perturbNoise);
      assert.ok(tf.max(tf.abs(tf.sub(xT, unperturbed))).dataSync()[0] > 1e-3);
      const { mse, loss } = lossTerms(p, b, xT, b.noise);
      assert.deepEqual(values(mse!), [0, 0, 0, 0]);
      assert.deepEqual(values(loss), [0, 0, 0, 0]);
    });
  });

  it('lets the vb term train only the variance channels and the mse term only the mean channels', () => {
    const p = testProcess({ learn_sigma: true });
    tf.tidy(() => {
      const b = batch(20);
      const xT = perturbedXt(p, b.xStart, b.t, b.noise, b.perturbNoise);
      const output = tf.randomNormal([4, 6, 4, 4], 0, 0.5, 'float32', 21) as tf.Tensor4D;
      const gradOf = (term: 'vb' | 'mse') => {
        const g = tf.grad((o) => tf.sum(lossTerms(p, b, xT, o as tf.Tensor4D)[term]!))(output);
        const [meanPart, varPart] = tf.split(g, 2, 1);
        return { mean: tf.max(tf.abs(meanPart)).dataSync()[0], variance: tf.max(tf.abs(varPart)).dataSync()[0] };
      };
      const vb = gradOf('vb');
      assert.equal(vb.mean, 0);
      assert.ok(vb.variance > 0);
      const mse = gradOf('mse');
      assert.ok(mse.mean > 0);
      assert.equal(mse.variance, 0);
    });
  });

  it('scales the vb term by S/1000 for RESCALED_MSE', () => {
    const plain = testProcess({ learn_sigma: true });
    const rescaled = testProcess({ learn_sigma: true, rescale_learned_sigmas: true });
    tf.tidy(() => {
      const b = batch(30);
      const xT = perturbedXt(plain, b.xStart, b.t, b.noise, b.perturbNoise);
      const output = tf.randomNormal([4, 6, 4, 4], 0, 0.5, 'float32', 31) as tf.Tensor4D;
      const vb = values(lossTerms(plain, b, xT, output).vb!);
      const scaled = values(lossTerms(rescaled, b, xT, output).vb!);
      vb.forEach((v, i) => {
        assert.ok(Math.abs(scaled[i] - (v * 8) / 1000) <= 1e-6 * Math.abs(v), `sample ${i}`);
      });
    });
  });

  it('is differentiable through a tfjs network with respect to its variables', () => {
    const p = testProcess({ learn_sigma: true, input_perturbation: 0.1 });
    const w = tf.variable(tf.scalar(0.7));
    const b = batch(40);
    const denoise = (x: tf.Tensor4D, ts: tf.Tensor1D) =>
      tf.tidy(() => {
        const tt = tf.div(tf.reshape(ts, [-1, 1, 1, 1]), 1000);
        return tf.concat([tf.mul(w, tf.add(x, tt)), tf.tanh(tf.mul(w, x))], 1) as tf.Tensor4D;
      });
    const before = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(() => tf.mean(trainingLosses(p, denoise, b).loss) as tf.Scalar, [w]);
    const g = grads[w.name].dataSync()[0];
    assert.ok(Number.isFinite(g) && g !== 0, `gradient ${g}`);
    tf.dispose([value, grads[w.name]]);
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([b.xStart, b.noise, b.perturbNoise, w]);
  });

  it('leaves no tensors behind when an engine output does not fit the process', async () => {
    const b = batch(50);
    const before = tf.memory().numTensors;
    // a network without variance channels for a learned-variance process
    await assert.rejects(
      engineTrainingLosses(testProcess({ learn_sigma: true }), new TestNetwork(false), b),
      /model output has 3 channels/,
    );
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([b.xStart, b.noise, b.perturbNoise]);
  });
});
