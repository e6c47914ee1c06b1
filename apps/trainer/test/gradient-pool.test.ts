import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { initBackend } from '@diffq/diffusion';
import { DiffusionTrainer, type ImageDataset, type ModelSpec, type TrainerSettings } from '@diffq/trainer';
import * as tf from '@tensorflow/tfjs';
import { UNET_TRAINABLE } from '../../../test/fixtures/small-networks.ts';
import { ThreadGradientPool } from '../src/gradient-pool.ts';

await initBackend();

const SPEC: ModelSpec = {
  model: UNET_TRAINABLE,
  diffusion: { steps: 100, noise_schedule: 'cosine', input_perturbation: 0.1 },
  nullLabel: 2,
};
const SETTINGS: TrainerSettings = { batchSize: 5, lr: 2e-3, weightDecay: 0, emaRate: 0.99, classDropout: 0.25, gradClip: 1, seed: 11 };

/** Eight 8×8 digits-like images with labels 0, 1. */
function data(count = 8): ImageDataset {
  const pixels = Uint8Array.from({ length: count * 64 }, (_, i) => (i * 37 + (i >> 6) * 11) % 256);
  return { pixels, labels: Int32Array.from({ length: count }, (_, i) => i % 2), imageShape: [1, 8, 8], count };
}

/** ‖a − b‖ / ‖b‖ over all parameters at once: a layer whose true gradient is zero (a bias a GroupNorm cancels) holds only rounding noise. */
function relativeL2(a: ReadonlyMap<string, Float32Array>, b: ReadonlyMap<string, Float32Array>): number {
  let num = 0;
  let den = 0;
  for (const [key, bv] of b) {
    const av = a.get(key)!;
    for (let i = 0; i < bv.length; i++) {
      num += (av[i] - bv[i]) ** 2;
      den += bv[i] ** 2;
    }
  }
  return Math.sqrt(num / den);
}

describe('data-parallel training (worker threads)', () => {
  let pool: ThreadGradientPool;
  before(async () => {
    pool = await ThreadGradientPool.start(1, { model: SPEC.model, diffusion: SPEC.diffusion, imageShape: [1, 8, 8] });
  });
  after(() => pool.close());

  it('computes the same gradient as one thread, the batch split between the threads', { timeout: 120_000 }, async () => {
    const trainer = DiffusionTrainer.create(SPEC, data(), SETTINGS);
    try {
      // A few steps first, so that the zero-initialised output layers pass gradient to every weight.
      for (let i = 0; i < 2; i++) trainer.trainStep();
      const single = await trainer.gradients();
      const parallel = await trainer.gradients(pool);
      assert.ok(Math.abs(parallel.loss - single.loss) <= 1e-6 * Math.abs(single.loss), `loss ${parallel.loss} vs ${single.loss}`);
      assert.deepEqual([...parallel.grads.keys()], [...single.grads.keys()]);
      const rel = relativeL2(parallel.grads, single.grads);
      assert.ok(rel < 1e-5, `relative L2 difference of the gradients ${rel}`);
    } finally {
      trainer.dispose();
    }
  });

  it('takes the same steps as a single-thread run, and leaks no tensors', { timeout: 120_000 }, async () => {
    const a = DiffusionTrainer.create(SPEC, data(), SETTINGS);
    const b = DiffusionTrainer.create(SPEC, data(), SETTINGS);
    try {
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) {
        const single = a.trainStep();
        const parallel = await b.trainStepParallel(pool);
        assert.equal(parallel.step, single.step);
        assert.ok(Math.abs(parallel.loss - single.loss) <= 1e-4 * single.loss, `step ${single.step}: ${parallel.loss} vs ${single.loss}`);
      }
      assert.equal(tf.memory().numTensors, before);
      const weights = (t: DiffusionTrainer) => new Map([...t.stateDicts().params].map(([k, v]) => [k, v.data as Float32Array]));
      const rel = relativeL2(weights(b), weights(a));
      // AdamW divides by √v: where the true gradient is exactly zero (biases a GroupNorm cancels) the
      // rounding noise of either run becomes a step of size lr, so the weights agree less tightly than the gradients.
      assert.ok(rel < 1e-4, `weights after 3 steps: relative L2 difference ${rel}`);
    } finally {
      a.dispose();
      b.dispose();
    }
  });
});
