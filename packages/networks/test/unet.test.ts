import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { initBackend } from '@diffq/diffusion';
import {
  createUNet,
  parseUNetConfig,
  randomUNetWeights,
  readSafetensors,
  type TfjsEngine,
  unetForward,
  unetParameterCount,
  unetParameterShapes,
} from '@diffq/networks';
import * as tf from '@tensorflow/tfjs';
import { CIFAR_SIZE } from '../../../bench/cifar-config.ts';
import { forwardData, randomTfjsEngine, UNET_16 } from '../../../test/fixtures/small-networks.ts';

await initBackend();

const GOLDEN = new URL('../../../test/golden/cases/', import.meta.url);

/** A seed's own input: x uniform in [-1, 1) from the seed alone, t and y derived from the seed. */
function sampleInput(seed: number, shape: number[]): { x: Float32Array; t: number; y: number } {
  let state = seed * 2654435761 + 1;
  const x = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < x.length; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    x[i] = state / 2 ** 31 - 1;
  }
  return { x, t: (seed * 137) % 1000, y: seed % 10 };
}

async function forwardSeeds(engine: TfjsEngine, seeds: number[]): Promise<Float32Array[]> {
  const cfg = engine.unet.config;
  const sampleShape = [cfg.inChannels, cfg.imageSize, cfg.imageSize];
  const inputs = seeds.map((s) => sampleInput(s, sampleShape));
  const x = tf.tensor4d(Float32Array.from(inputs.flatMap((i) => Array.from(i.x))), [seeds.length, ...sampleShape] as [
    number,
    number,
    number,
    number,
  ]);
  const t = tf.tensor1d(inputs.map((i) => i.t));
  const y = tf.tensor1d(
    inputs.map((i) => i.y),
    'int32',
  );
  const data = await forwardData(engine, x, t, y);
  tf.dispose([x, t, y]);
  const per = data.length / seeds.length;
  return seeds.map((_, i) => data.slice(i * per, (i + 1) * per));
}

describe('UNetModel', () => {
  it('gives the same output for a sample whatever the batch it is in', async () => {
    const engine = randomTfjsEngine(parseUNetConfig(UNET_16), 1);
    try {
      const seeds = [0, 1, 2, 3, 4, 5, 6, 7];
      const together = await forwardSeeds(engine, seeds);
      const apart = [
        ...(await forwardSeeds(engine, [0, 1, 2])),
        ...(await forwardSeeds(engine, [3, 4, 5])),
        ...(await forwardSeeds(engine, [6, 7])),
      ];
      seeds.forEach((s, i) => {
        assert.ok(
          together[i].every((v, j) => Object.is(v, apart[i][j])),
          `seed ${s}: batch of 8 and batch of ${i < 6 ? 3 : 2} differ`,
        );
      });
      assert.notDeepEqual(together[0], together[1], 'different seeds give different outputs');
    } finally {
      engine.dispose();
    }
  });

  it('has as many parameters as the reference UNetModel for the configurations docs/models.md and docs/benchmarks.md describe', () => {
    // Counts of guided-diffusion's own UNetModel (PyTorch, sum of p.numel()) for the same flags.
    const ddpmIpCifar10 = parseUNetConfig({
      image_size: 32,
      num_channels: 128,
      num_res_blocks: 3,
      channel_mult: '1,2,2,2',
      attention_resolutions: '16,8',
      num_heads: 4,
      num_head_channels: 32,
      use_scale_shift_norm: true,
      resblock_updown: true,
      use_new_attention_order: true,
      learn_sigma: true,
    });
    // The benchmarks' own configuration, so that the count docs/benchmarks.md gives is the benched network's.
    const benchCifarSize = parseUNetConfig(CIFAR_SIZE);
    assert.deepEqual([unetParameterCount(ddpmIpCifar10), unetParameterCount(benchCifarSize)], [57_094_662, 10_734_790]);
  });

  it('returns [N, out_channels, H, W] in the PyTorch layout', async () => {
    const engine = randomTfjsEngine(parseUNetConfig(UNET_16), 2);
    const x = tf.zeros([2, 3, 16, 16]) as tf.Tensor4D;
    const out = await engine.forward(x, tf.tensor1d([1, 2]), tf.tensor1d([0, 1], 'int32'));
    assert.deepEqual(out.shape, [2, 6, 16, 16]);
    assert.match(engine.description, new RegExp(`^tfjs ${tf.getBackend()}$`));
    tf.dispose([x, out]);
    engine.dispose();
  });

  it('refuses labels for an unconditional model and requires them for a conditional one', () => {
    const conditional = parseUNetConfig(UNET_16);
    const unconditional = parseUNetConfig({ ...UNET_16, class_cond: false, num_classes: null });
    const cond = createUNet(conditional, randomUNetWeights(conditional, 3));
    const uncond = createUNet(unconditional, randomUNetWeights(unconditional, 3));
    tf.tidy(() => {
      const x = tf.zeros([1, 3, 16, 16]) as tf.Tensor4D;
      const t = tf.tensor1d([5]);
      assert.throws(() => unetForward(cond, x, t), /class-conditional \(10 classes\) and needs labels y/);
      assert.throws(() => unetForward(uncond, x, t, tf.tensor1d([0], 'int32')), /unconditional/);
    });
    cond.dispose();
    uncond.dispose();
  });

  for (const name of ['unet_a_mult11_nrb2_ss_heads4_cond10_learnsigma_float_t', 'unet_b_mult21_16px_updown_newattn_noss_1ch']) {
    it(`expects exactly the reference state_dict keys and shapes (${name.slice(0, 6)})`, { skip: !existsSync(GOLDEN) }, () => {
      const dir = new URL(`${name}/`, GOLDEN);
      const config = parseUNetConfig(JSON.parse(readFileSync(new URL('case.json', dir), 'utf8')).model);
      const { tensors } = readSafetensors(new Uint8Array(readFileSync(new URL('tensors.safetensors', dir))));
      const reference = [...tensors].filter(([k]) => k.startsWith('model.')).map(([k, v]) => [k.slice(6), v.shape]);
      assert.deepEqual(
        [...unetParameterShapes(config)].sort(([a], [b]) => (a < b ? -1 : 1)),
        reference.sort(([a], [b]) => ((a as string) < (b as string) ? -1 : 1)),
      );
    });
  }
});
