import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { initBackend } from '@diffq/diffusion';
import { createUNet, type FeatureNetwork, parseUNetConfig, randomUNetWeights, readModelDirectory, TfjsEngine } from '@diffq/networks';
import { openFeatureNetwork } from '@diffq/onnx';
import { randomMnistClassifierJson, writeRandomMnistClassifier } from '../../../test/fixtures/random-feature-model.ts';
import { UNET_8 } from '../../../test/fixtures/small-networks.ts';
import { assertWebgpuOrItsFallback } from '../../../test/fixtures/webgpu-fallback.ts';

await initBackend();

const root = mkdtempSync(join(tmpdir(), 'diffq-mnist-classifier-'));
after(() => rmSync(root, { recursive: true, force: true }));
const dir = writeRandomMnistClassifier(join(root, 'net'), 3);
const { hidden, num_classes: classes } = randomMnistClassifierJson().model;

/** n random digits-like images: uint8 [n, 28, 28, 1], a seeded pattern per image. */
function images(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n * 784);
  let s = seed >>> 0;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

async function withNetwork<T>(engine: 'onnx' | 'tfjs', fn: (net: FeatureNetwork) => Promise<T>): Promise<T> {
  const net = await openFeatureNetwork(dir, { engine });
  try {
    return await fn(net);
  } finally {
    net.dispose();
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

describe('the mnist-classifier feature network', () => {
  for (const engine of ['onnx', 'tfjs'] as const) {
    it(`gives [N, hidden] features and [N, 10] logits on ${engine}, described as 1-channel 28×28 without preprocessing`, async () => {
      await withNetwork(engine, async (net) => {
        assert.deepEqual(net.info, {
          architecture: 'mnist-classifier',
          featureDim: hidden,
          logitDim: classes,
          spatialDim: null,
          channels: [1],
          imageSize: 28,
          preprocess: 'none',
          numClasses: 10,
        });
        assert.match(net.description, engine === 'onnx' ? /onnxruntime/ : /tfjs/);
        const out = await net.extract(images(5, 1), [5, 28, 28, 1]);
        assert.equal(out.features.length, 5 * hidden);
        assert.equal(out.logits?.length, 5 * classes);
        assert.equal(out.spatial, undefined);
        assert.ok(
          out.features.every((v) => v >= 0),
          'features are the hidden layer after its ReLU',
        );
        assert.ok(maxAbs(out.logits!) > 0);
      });
    });

    it(`gives each image the same rows whatever the batch around it on ${engine}`, async () => {
      await withNetwork(engine, async (net) => {
        const batch = images(7, 2);
        const all = await net.extract(batch, [7, 28, 28, 1]);
        for (const i of [0, 4, 6]) {
          const one = await net.extract(batch.subarray(i * 784, (i + 1) * 784), [1, 28, 28, 1]);
          assert.ok(maxAbsDiff(one.features, all.features.subarray(i * hidden, (i + 1) * hidden)) < 1e-5, `features of image ${i}`);
          assert.ok(maxAbsDiff(one.logits!, all.logits!.subarray(i * classes, (i + 1) * classes)) < 1e-5, `logits of image ${i}`);
        }
      });
    });
  }

  it('names the provider that loaded on onnx: cpu where webgpu was asked for and no adapter is found', async () => {
    const net = await openFeatureNetwork(dir, { engine: 'onnx', provider: 'webgpu', threads: 1 });
    try {
      assertWebgpuOrItsFallback(net);
    } finally {
      net.dispose();
    }
  });

  it('names the tfjs backend it runs on, as a tfjs denoiser engine does, whatever onnx provider was asked for', async () => {
    const config = parseUNetConfig(UNET_8);
    const denoiser = new TfjsEngine(createUNet(config, randomUNetWeights(config, 1)));
    const net = await openFeatureNetwork(dir, { engine: 'tfjs', provider: 'webgpu' });
    try {
      assert.match(net.provider, /^(wasm|tensorflow|cpu)$/);
      assert.equal(net.provider, denoiser.provider);
    } finally {
      net.dispose();
      denoiser.dispose();
    }
  });

  it('computes the same features and logits on onnx and tfjs', async () => {
    const batch = images(9, 4);
    const [onnx, tfjs] = [
      await withNetwork('onnx', (net) => net.extract(batch, [9, 28, 28, 1])),
      await withNetwork('tfjs', (net) => net.extract(batch, [9, 28, 28, 1])),
    ];
    assert.ok(maxAbsDiff(onnx.features, tfjs.features) < 1e-4 * Math.max(1, maxAbs(tfjs.features)));
    assert.ok(maxAbsDiff(onnx.logits!, tfjs.logits!) < 1e-4 * Math.max(1, maxAbs(tfjs.logits!)));
  });

  it('refuses images of another size or channel count, naming what it accepts', async () => {
    await withNetwork('onnx', async (net) => {
      await assert.rejects(net.extract(new Uint8Array(2 * 32 * 32), [2, 32, 32, 1]), /images are 32×32; accepted: 28×28/);
      await assert.rejects(net.extract(new Uint8Array(2 * 784 * 3), [2, 28, 28, 3]), /images have 3 channels; accepted: 1/);
      await assert.rejects(net.extract(new Uint8Array(100), [2, 28, 28, 1]), /images hold 100 bytes; shape \[2,28,28,1\] needs 1568/);
    });
  });

  it('refuses a model.json whose layers do not fit the image, or weights of another shape', async () => {
    const bad = join(root, 'bad');
    writeRandomMnistClassifier(bad);
    writeFileSync(
      join(bad, 'model.json'),
      JSON.stringify({
        ...randomMnistClassifierJson(),
        model: { ...randomMnistClassifierJson().model, image_size: 8, stage_channels: [4, 4, 4, 4] },
      }),
    );
    await assert.rejects(readModelDirectory(bad), /model\.json\.model\.stage_channels has 4 stages; an image_size of 8 allows at most 3/);
    writeFileSync(
      join(bad, 'model.json'),
      JSON.stringify({ ...randomMnistClassifierJson(), model: { ...randomMnistClassifierJson().model, hidden: 64 } }),
    );
    await assert.rejects(readModelDirectory(bad), /key "fc\.weight" has shape \[32, 784\] but the model configuration implies \[64, 784\]/);
  });
});
