import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.ts';
import { extract } from '../src/process/extract.ts';
import { qMeanVariance, qSample } from '../src/process/forward.ts';
import { pMeanVariance } from '../src/process/p-mean-variance.ts';
import { qPosteriorMeanVariance } from '../src/process/posterior.ts';
import { predEpsFromXstart, predXstartFromEps } from '../src/process/predictions.ts';
import { testProcess } from './sampling-test-network.ts';

await initBackend();

const shape: [number, number, number, number] = [3, 2, 4, 4];
const maxAbsDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);

describe('forward process and posterior', () => {
  const p = testProcess({ timestep_respacing: '20' });
  // Not the last step: there √(1/ᾱ_t) ≈ 10⁴ amplifies float32 rounding beyond these bounds.
  const t = [0, 7, 15];

  it('draws x_t with the mean and variance of q(x_t | x_0)', () => {
    tf.tidy(() => {
      const x0 = tf.randomUniform(shape, -1, 1, 'float32', 1) as tf.Tensor4D;
      const noise = tf.randomNormal(shape, 0, 1, 'float32', 2) as tf.Tensor4D;
      const q = qMeanVariance(p, x0, t);
      assert.ok(maxAbsDiff(qSample(p, x0, t, noise), tf.add(q.mean, tf.mul(tf.sqrt(q.variance), noise))) < 1e-6);
      assert.deepEqual(q.logVariance.shape, shape);
    });
  });

  it('recovers x_0 from the ε that made x_t, and ε from that x_0', () => {
    tf.tidy(() => {
      const x0 = tf.randomUniform(shape, -1, 1, 'float32', 3) as tf.Tensor4D;
      const eps = tf.randomNormal(shape, 0, 1, 'float32', 4) as tf.Tensor4D;
      const xT = qSample(p, x0, t, eps);
      assert.ok(maxAbsDiff(predXstartFromEps(p, xT, t, eps), x0) < 1e-4);
      assert.ok(maxAbsDiff(predEpsFromXstart(p, xT, t, x0), eps) < 1e-3);
    });
  });

  it('gives the true posterior mean when the network predicts the true ε', () => {
    tf.tidy(() => {
      const x0 = tf.randomUniform(shape, -1, 1, 'float32', 5) as tf.Tensor4D;
      const eps = tf.randomNormal(shape, 0, 1, 'float32', 6) as tf.Tensor4D;
      const xT = qSample(p, x0, t, eps);
      const out = pMeanVariance(p, eps, xT, t, { clipDenoised: false });
      assert.ok(maxAbsDiff(out.mean, qPosteriorMeanVariance(p, x0, xT, t).mean) < 1e-4);
    });
  });

  it('names the timestep and the range when t is outside the schedule', () => {
    assert.throws(() => extract(p.betas, [0, 20]), /t\[1\] is 20; accepted: an integer in \[0, 19\]/);
  });
});

describe('p_mean_variance', () => {
  const t = [0, 3, 7];

  it('spans log β̃_t (v = −1) to log β_t (v = +1) with a learned range', () => {
    const p = testProcess({ learn_sigma: true });
    tf.tidy(() => {
      const x = tf.randomNormal(shape, 0, 1, 'float32', 7) as tf.Tensor4D;
      const eps = tf.zerosLike(x);
      for (const [v, expected] of [
        [1, p.betas.map(Math.log)],
        [-1, p.posteriorLogVarianceClipped],
      ] as const) {
        const out = pMeanVariance(p, tf.concat([eps, tf.fill(shape, v)], 1) as tf.Tensor4D, x, t, { clipDenoised: false });
        const lv = out.logVariance.arraySync() as number[][][][];
        t.forEach((ti, i) => {
          assert.ok(Math.abs(lv[i][1][2][3] - expected[ti]) < 1e-5, `v=${v} t=${ti}`);
        });
      }
    });
  });

  it('uses β̃_1 in place of β_0 for the fixed large variance', () => {
    const p = testProcess();
    tf.tidy(() => {
      const x = tf.randomNormal(shape, 0, 1, 'float32', 8) as tf.Tensor4D;
      const v = pMeanVariance(p, tf.zerosLike(x), x, t, { clipDenoised: false }).variance.arraySync() as number[][][][];
      assert.ok(Math.abs(v[0][0][0][0] - p.posteriorVariance[1]) < 1e-9);
      assert.ok(Math.abs(v[1][0][0][0] - p.betas[3]) < 1e-7);
    });
  });

  it('clamps x̂_0 to [−1, 1] only when asked', () => {
    const p = testProcess({ predict_xstart: true });
    tf.tidy(() => {
      const x = tf.randomNormal(shape, 0, 1, 'float32', 9) as tf.Tensor4D;
      const big = tf.mul(x, 5) as tf.Tensor4D;
      assert.equal(pMeanVariance(p, big, x, t, { clipDenoised: true }).predXstart.max().dataSync()[0], 1);
      assert.ok(pMeanVariance(p, big, x, t, { clipDenoised: false }).predXstart.max().dataSync()[0] > 1);
    });
  });

  it('returns tensors of its own, so disposing them leaves the model output alive', () => {
    const p = testProcess({ predict_xstart: true });
    const x = tf.randomNormal(shape) as tf.Tensor4D;
    const modelOutput = tf.randomNormal(shape) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const out = pMeanVariance(p, modelOutput, x, t, { clipDenoised: false });
    assert.equal(tf.memory().numTensors, before + 4);
    tf.dispose([out.mean, out.variance, out.logVariance, out.predXstart]);
    assert.equal(modelOutput.isDisposed, false);
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([x, modelOutput]);
  });
});
