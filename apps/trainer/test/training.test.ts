import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { initBackend } from '@diffq/diffusion';
import {
  createUNet,
  parseModelDirectory,
  parseUNetConfig,
  randomStateDict,
  unetForward,
  unetParamSpecs,
  uploadParams,
} from '@diffq/networks';
import {
  checkpointFiles,
  DiffusionTrainer,
  downloadStateDict,
  drawBatch,
  EpochOrder,
  type ImageDataset,
  initialStateDict,
  type ModelSpec,
  readCheckpoint,
  type TrainerSettings,
} from '@diffq/trainer';
import * as tf from '@tensorflow/tfjs';
import { UNET_TRAINABLE } from '../../../test/fixtures/small-networks.ts';

await initBackend();

const SPEC: ModelSpec = {
  model: UNET_TRAINABLE,
  diffusion: { steps: 100, noise_schedule: 'cosine', input_perturbation: 0.1 },
  nullLabel: 2,
};

const SETTINGS: TrainerSettings = { batchSize: 4, lr: 2e-3, weightDecay: 0, emaRate: 0.99, classDropout: 0.25, gradClip: 1, seed: 7 };

/** Four 8×8 images: a bright square per image at its own place, labels 0, 1, 0, 1. */
function tinyData(count = 4): ImageDataset {
  const pixels = new Uint8Array(count * 64);
  for (let n = 0; n < count; n++) {
    for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) pixels[n * 64 + (y + (n % 4)) * 8 + x + (n % 3)] = 255;
  }
  return { pixels, labels: Int32Array.from({ length: count }, (_, i) => i % 2), imageShape: [1, 8, 8], count };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('DiffusionTrainer', () => {
  it('lowers the loss of a minibatch it trains on (overfits a tiny batch)', () => {
    const trainer = DiffusionTrainer.create(SPEC, tinyData(), { ...SETTINGS, classDropout: 0 });
    try {
      const before = trainer.batchLoss(0);
      for (let i = 0; i < 12; i++) trainer.trainStep();
      const after = trainer.batchLoss(0);
      assert.ok(after < 0.8 * before, `loss on the batch went from ${before} to ${after}`);
    } finally {
      trainer.dispose();
    }
  });

  it('keeps the number of live tensors constant across steps', () => {
    const trainer = DiffusionTrainer.create(SPEC, tinyData(), SETTINGS);
    try {
      trainer.trainStep();
      const after1 = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) trainer.trainStep();
      assert.equal(tf.memory().numTensors, after1);
    } finally {
      trainer.dispose();
    }
  });

  it('refuses settings it cannot train with, naming the field, and frees what it allocated', () => {
    const before = tf.memory().numTensors;
    assert.throws(
      () => DiffusionTrainer.create({ ...SPEC, nullLabel: null }, tinyData(), SETTINGS),
      /classDropout is 0.25 but the model has no null label/,
    );
    assert.throws(
      () => DiffusionTrainer.create(SPEC, tinyData(), { ...SETTINGS, batchSize: 0 }),
      /batchSize is 0; accepted: an integer ≥ 1/,
    );
    assert.throws(
      () => DiffusionTrainer.create({ ...SPEC, diffusion: { ...SPEC.diffusion, timestep_respacing: 'ddim10' } }, tinyData(), SETTINGS),
      /timestep_respacing is "ddim10"; training runs on every step/,
    );
    assert.equal(tf.memory().numTensors, before);
  });

  it('starts from a network whose output is zero (zero_module on the output conv and residual branches)', () => {
    const config = parseUNetConfig(SPEC.model);
    const unet = createUNet(config, initialStateDict(unetParamSpecs(config), 1));
    try {
      const out = tf.tidy(() => unetForward(unet, tf.randomNormal([2, 1, 8, 8]), tf.tensor1d([3, 50]), tf.tensor1d([0, 2], 'int32')));
      assert.equal(tf.max(tf.abs(out)).dataSync()[0], 0);
      out.dispose();
    } finally {
      unet.dispose();
    }
  });
});

describe('training checkpoints', () => {
  it('round-trip: a saved and reloaded run has identical weights, EMA outputs and next step', () => {
    const data = tinyData();
    const original = DiffusionTrainer.create(SPEC, data, SETTINGS);
    for (let i = 0; i < 3; i++) original.trainStep();
    const files = checkpointFiles(original);
    const saved = readCheckpoint(files);
    assert.equal(saved.step, 3);
    const resumed = DiffusionTrainer.resume(saved.spec, data, saved.settings!, saved);
    try {
      const a = original.stateDicts();
      const b = resumed.stateDicts();
      for (const part of ['params', 'm', 'v', 'ema'] as const) {
        for (const [key, t] of a[part]) assert.deepEqual(b[part].get(key)!.data, t.data, `${part} ${key}`);
      }
      // The model directory loads like any checkpoint and computes what the trainer's EMA network computes.
      const dir = parseModelDirectory(files.modelJson, files.weights);
      assert.equal(dir.architecture, 'adm-unet');
      const loaded = createUNet(parseUNetConfig(dir.json.model), dir.weights);
      const ema = original.emaUNet();
      const forward = (u: typeof ema) =>
        tf.tidy(() =>
          unetForward(u, tf.linspace(-1, 1, 128).reshape([2, 1, 8, 8]), tf.tensor1d([10, 90]), tf.tensor1d([1, 2], 'int32')).dataSync(),
        );
      assert.deepEqual(forward(loaded), forward(ema));
      loaded.dispose();
      ema.dispose();
      assert.equal(resumed.trainStep().loss, original.trainStep().loss);
    } finally {
      original.dispose();
      resumed.dispose();
    }
  });

  it('refuses a train state whose step differs from the weights', () => {
    const trainer = DiffusionTrainer.create(SPEC, tinyData(), SETTINGS);
    try {
      const older = checkpointFiles(trainer);
      trainer.trainStep();
      const newer = checkpointFiles(trainer);
      assert.throws(
        () => readCheckpoint({ ...newer, state: older.state }),
        /train-state.safetensors is at step 0 but weights.safetensors at step 1/,
      );
    } finally {
      trainer.dispose();
    }
  });

  it('downloads uploaded parameters back to the PyTorch layout, legacy attention order included', () => {
    const config = parseUNetConfig({ ...SPEC.model, use_new_attention_order: false, num_head_channels: -1, num_heads: 2 });
    const specs = unetParamSpecs(config);
    const stateDict = randomStateDict(new Map(specs.map((s) => [s.key, s.shape])), 3);
    const params = uploadParams(specs, stateDict, 'test');
    const back = downloadStateDict(specs, params);
    tf.dispose([...params.values()]);
    for (const [key, t] of stateDict) assert.equal(maxAbsDiff(back.get(key)!.data as Float32Array, t.data as Float32Array), 0, key);
  });
});

describe('minibatch draws', () => {
  const settings = { seed: 5, batchSize: 3, numTimesteps: 100, classDropout: 0.5, nullLabel: 2 };

  it('reads every image once per epoch', () => {
    const order = new EpochOrder(5, 10);
    const epoch = [...order.indices(0, 5), ...order.indices(1, 5)].sort((a, b) => a - b);
    assert.deepEqual(epoch, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('depends on (seed, step) only, so a resumed run draws what an unbroken one would', () => {
    const data = tinyData(8);
    const fresh = drawBatch(data, new EpochOrder(5, 8), settings, 6);
    const warm = new EpochOrder(5, 8);
    for (let s = 0; s < 6; s++) drawBatch(data, warm, settings, s);
    assert.deepEqual(drawBatch(data, warm, settings, 6), fresh);
  });

  it('scales pixels to [-1, 1], draws timesteps in range and replaces labels by the null label at the dropout rate', () => {
    const data = tinyData(8);
    const order = new EpochOrder(5, 8);
    let dropped = 0;
    let total = 0;
    for (let s = 0; s < 400; s++) {
      const d = drawBatch(data, order, settings, s);
      assert.ok(d.xStart.every((v) => v === -1 || v === 1));
      assert.ok(d.t.every((t) => t >= 0 && t < 100));
      d.y!.forEach((y, i) => {
        total += 1;
        if (y === 2) dropped += 1;
        else assert.equal(y, data.labels![d.indices[i]]);
      });
    }
    assert.ok(Math.abs(dropped / total - 0.5) < 0.05, `dropout rate ${dropped / total}`);
  });
});
