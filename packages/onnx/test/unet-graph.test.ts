import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { initBackend } from '@diffq/diffusion';
import { parseUNetConfig, randomUNetWeights, readSafetensors, type StoredTensor, type UNetConfig } from '@diffq/networks';
import { buildUNetOnnx, OnnxEngine } from '@diffq/onnx';
import * as tf from '@tensorflow/tfjs';
import { forwardData, relativeL2, UNET_8 } from '../../../test/fixtures/small-networks.ts';

await initBackend();

const GOLDEN = process.env.DIFFQ_GOLDEN ?? fileURLToPath(new URL('../../../test/golden/cases/', import.meta.url));
const unetCases = existsSync(GOLDEN)
  ? readdirSync(GOLDEN).filter((d) => d.startsWith('unet_') && existsSync(join(GOLDEN, d, 'case.json')))
  : [];

interface UNetCase {
  name: string;
  config: UNetConfig;
  weights: Map<string, StoredTensor>;
  x: tf.Tensor4D;
  timesteps: tf.Tensor1D;
  y?: tf.Tensor1D;
  expected: Float32Array;
}

function loadUNetCase(name: string): UNetCase {
  const json = JSON.parse(readFileSync(join(GOLDEN, name, 'case.json'), 'utf8'));
  const { tensors } = readSafetensors(new Uint8Array(readFileSync(join(GOLDEN, name, 'tensors.safetensors'))));
  const weights = new Map([...tensors].filter(([k]) => k.startsWith('model.')).map(([k, v]) => [k.slice('model.'.length), v]));
  const get = (k: string) => tensors.get(k) as StoredTensor;
  const numbers = (k: string) => Array.from(get(k).data as ArrayLike<number | bigint>, Number);
  return {
    name,
    config: parseUNetConfig(json.model),
    weights,
    x: tf.tensor4d(get('x').data as Float32Array, get('x').shape as [number, number, number, number]),
    timesteps: tf.tensor1d(numbers('timesteps'), 'float32'),
    y: tensors.has('y') && json.inputs.includes('y') ? tf.tensor1d(numbers('y'), 'int32') : undefined,
    expected: get('output').data as Float32Array,
  };
}

describe('the ONNX UNet graph', () => {
  it('finds the golden unet_forward cases', () => {
    assert.ok(unetCases.length >= 2, `no unet_* cases under ${GOLDEN}; set DIFFQ_GOLDEN`);
  });

  for (const name of unetCases) {
    it(`reproduces the reference network on ${name} within 1e-5 relative`, async () => {
      const c = loadUNetCase(name);
      const engine = await OnnxEngine.create(buildUNetOnnx(c.config, c.weights));
      try {
        const rel = relativeL2(await forwardData(engine, c.x, c.timesteps, c.y), c.expected);
        assert.ok(rel < 1e-5, `relative L2 error ${rel}`);
      } finally {
        engine.dispose();
      }
    });

    it(`keeps each sample to itself whatever the batch size on ${name}`, async () => {
      const c = loadUNetCase(name);
      const engine = await OnnxEngine.create(buildUNetOnnx(c.config, c.weights));
      try {
        const whole = await forwardData(engine, c.x, c.timesteps, c.y);
        const n = c.x.shape[0];
        const per = whole.length / n;
        for (let i = 0; i < n; i++) {
          const pick = <T extends tf.Tensor>(t: T) => tf.slice(t, [i], [1]) as T;
          const xi = tf.slice(c.x, [i, 0, 0, 0], [1, -1, -1, -1]);
          const one = await forwardData(engine, xi, pick(c.timesteps), c.y ? pick(c.y) : undefined);
          assert.ok(
            relativeL2(one, whole.subarray(i * per, (i + 1) * per)) < 1e-6,
            `sample ${i} alone differs from sample ${i} in the batch`,
          );
        }
      } finally {
        engine.dispose();
      }
    });

    it(`stays within 2e-3 relative of the reference in float16 on ${name}`, async () => {
      // The cpu provider runs a float16 graph by casting around the kernels it lacks, which rounds
      // every activation and weight to half precision as CUDA would; the figure goes in docs/deployment.md, "float16".
      const c = loadUNetCase(name);
      const engine = await OnnxEngine.create(buildUNetOnnx(c.config, c.weights, { dtype: 'float16' }));
      try {
        const rel = relativeL2(await forwardData(engine, c.x, c.timesteps, c.y), c.expected);
        console.log(`${name}: float16 relative L2 error ${rel.toExponential(2)}`);
        assert.ok(rel > 1e-5 && rel < 2e-3, `relative L2 error ${rel}: float16 should round (> 1e-5) yet stay close (< 2e-3)`);
      } finally {
        engine.dispose();
      }
    });
  }

  /** Two levels of different widths (64 channels in the middle block) and 3 classes. */
  const small = parseUNetConfig({ ...UNET_8, channel_mult: '1,2', num_classes: 3 });

  it('rejects a checkpoint with a missing key, naming it and its shape', () => {
    const weights = randomUNetWeights(small, 1);
    weights.delete('middle_block.1.qkv.weight');
    assert.throws(() => buildUNetOnnx(small, weights), /missing key "middle_block\.1\.qkv\.weight" \(expected shape \[192, 64, 1\]\)/);
  });

  it('rejects a checkpoint whose shapes do not match the flags', () => {
    const weights = randomUNetWeights(small, 1);
    weights.set('label_emb.weight', { dtype: 'F32', shape: [4, 128], data: new Float32Array(512) });
    assert.throws(() => buildUNetOnnx(small, weights), /"label_emb\.weight" has shape \[4, 128\].*\[3, 128\]/);
  });

  it('refuses labels for an unconditional graph and asks for them on a class-conditional one', async () => {
    const engine = await OnnxEngine.create(buildUNetOnnx(small, randomUNetWeights(small, 1)));
    const x = tf.zeros([1, 3, 8, 8]) as tf.Tensor4D;
    const t = tf.tensor1d([10]);
    try {
      await assert.rejects(engine.forward(x, t), /class-conditional and needs labels y/);
    } finally {
      engine.dispose();
      tf.dispose([x, t]);
    }
  });
});
