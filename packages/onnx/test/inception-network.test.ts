import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type FeatureNetwork,
  inceptionParamSpecs,
  inceptionRuleWeights,
  parseModelDirectory,
  readSafetensors,
  type StoredTensor,
  type TensorToWrite,
  writeSafetensors,
} from '@diffq/networks';
import { buildInceptionOnnx, INCEPTION_MAX_BATCH, ONNX_CACHE_DIR, openFeatureNetwork } from '@diffq/onnx';
import { relativeL2 } from '../../../test/fixtures/small-networks.ts';
import { assertWebgpuOrItsFallback } from '../../../test/fixtures/webgpu-fallback.ts';

/** The golden case whose images and reference outputs the network must reproduce (4 images, 64×64). */
const CASE = join(import.meta.dirname, '../../../test/golden/cases/inception_features_64px_n4');
const caseJson = JSON.parse(readFileSync(join(CASE, 'case.json'), 'utf8')) as { weight_seed: number };
const caseTensors = readSafetensors(new Uint8Array(readFileSync(join(CASE, 'tensors.safetensors')))).tensors;
const reference = (name: string) => caseTensors.get(name)!.data as Float32Array;
const images = caseTensors.get('images')!;
const shape = images.shape as [number, number, number, number];
const pixels = Uint8Array.from(images.data as BigInt64Array, Number);

const MODEL_JSON = { format: 'diffq-model/1', architecture: 'fid-inception-v3' };

const root = mkdtempSync(join(tmpdir(), 'diffq-inception-'));
after(() => rmSync(root, { recursive: true, force: true }));

function toWrite(weights: ReadonlyMap<string, StoredTensor>): Record<string, TensorToWrite> {
  return Object.fromEntries([...weights].map(([key, t]) => [key, { shape: t.shape, data: t.data as Float32Array }]));
}

function writeModel(dir: string, json: object, weights: Record<string, TensorToWrite>): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
  writeFileSync(join(dir, 'weights.safetensors'), writeSafetensors(weights));
  return dir;
}

async function withNetwork<T>(
  dir: string,
  options: Parameters<typeof openFeatureNetwork>[1],
  fn: (net: FeatureNetwork) => Promise<T>,
): Promise<T> {
  const net = await openFeatureNetwork(dir, options);
  try {
    return await fn(net);
  } finally {
    net.dispose();
  }
}

describe('the fid-inception-v3 feature network', () => {
  let dir = '';
  before(() => {
    dir = writeModel(join(root, 'inception'), MODEL_JSON, toWrite(inceptionRuleWeights(caseJson.weight_seed)));
  });

  it("reproduces the golden case's pool3, unbiased logits and sFID features in the default pytorch-fid mode", async () => {
    await withNetwork(dir, {}, async (net) => {
      assert.deepEqual(net.info, {
        architecture: 'fid-inception-v3',
        featureDim: 2048,
        logitDim: 1008,
        spatialDim: 2023,
        channels: [1, 3],
        imageSize: null,
        preprocess: 'pytorch-fid',
        numClasses: null,
      });
      const out = await net.extract(pixels, shape);
      assert.ok(relativeL2(out.features, reference('pool3')) < 1e-4);
      assert.ok(relativeL2(out.logits!, reference('logits_unbiased')) < 1e-4);
      assert.ok(relativeL2(out.spatial!, reference('spatial_2023')) < 1e-4);
    });
  });

  it('builds its graph once and opens the cached file afterwards', async () => {
    await withNetwork(dir, {}, async (net) => assert.match(net.description, /graph from the cache/));
    assert.equal(readdirSync(join(dir, ONNX_CACHE_DIR)).length, 1);
  });

  it('takes the tf1 preprocessing from the options or from model.json', async () => {
    const tf1Dir = join(root, 'inception-tf1');
    mkdirSync(tf1Dir);
    writeFileSync(join(tf1Dir, 'model.json'), JSON.stringify({ ...MODEL_JSON, preprocess: 'tf1' }));
    // Links share the weights file and so its cached graph: nothing is built again.
    symlinkSync(join(dir, 'weights.safetensors'), join(tf1Dir, 'weights.safetensors'));
    symlinkSync(join(dir, ONNX_CACHE_DIR), join(tf1Dir, ONNX_CACHE_DIR));
    const fromOption = await withNetwork(dir, { preprocess: 'tf1' }, (net) => net.extract(pixels, shape));
    assert.ok(relativeL2(fromOption.features, reference('pool3_tf1')) < 1e-4);
    assert.ok(relativeL2(fromOption.logits!, reference('logits_unbiased_tf1')) < 1e-4);
    assert.ok(relativeL2(fromOption.spatial!, reference('spatial_2023_tf1')) < 1e-4);
    const fromJson = await withNetwork(tf1Dir, {}, async (net) => {
      assert.equal(net.info.preprocess, 'tf1');
      assert.match(net.description, /graph from the cache/);
      return net.extract(pixels.subarray(0, pixels.length / 4), [1, ...shape.slice(1)] as typeof shape);
    });
    assert.ok(relativeL2(fromJson.features, fromOption.features.subarray(0, 2048)) < 1e-6);
  });

  it("gives pytorch-fid's --dims 768 features when asked, the same rows whatever the batch", async () => {
    // 18 images: the case's 4 repeated, so a batch larger than one run (INCEPTION_MAX_BATCH) is cut in two.
    const count = 18;
    assert.ok(count > INCEPTION_MAX_BATCH);
    const per = shape[1] * shape[2] * shape[3];
    const many = new Uint8Array(count * per);
    for (let i = 0; i < count; i++) many.set(pixels.subarray((i % 4) * per, ((i % 4) + 1) * per), i * per);
    await withNetwork(dir, { dims: 768 }, async (net) => {
      assert.equal(net.info.featureDim, 768);
      const out = await net.extract(many, [count, ...shape.slice(1)] as typeof shape);
      assert.ok(relativeL2(out.features.subarray(0, 4 * 768), reference('block2_768')) < 1e-4);
      for (const i of [4, 15, 16, 17]) {
        const first = out.features.subarray((i % 4) * 768, ((i % 4) + 1) * 768);
        assert.ok(relativeL2(out.features.subarray(i * 768, (i + 1) * 768), first) < 1e-6, `image ${i}`);
        assert.ok(
          relativeL2(out.spatial!.subarray(i * 2023, (i + 1) * 2023), out.spatial!.subarray((i % 4) * 2023, ((i % 4) + 1) * 2023)) < 1e-6,
        );
      }
    });
  });

  it('replicates a grey image to RGB, as pytorch-fid does', async () => {
    const grey = Uint8Array.from({ length: 2 * 20 * 20 }, (_, i) => (i * 53) % 256);
    const rgb = Uint8Array.from({ length: grey.length * 3 }, (_, i) => grey[Math.floor(i / 3)]);
    await withNetwork(dir, {}, async (net) => {
      const a = await net.extract(grey, [2, 20, 20, 1]);
      const b = await net.extract(rgb, [2, 20, 20, 3]);
      assert.deepEqual(a.features, b.features);
      await assert.rejects(net.extract(new Uint8Array(2 * 20 * 20 * 2), [2, 20, 20, 2]), /2 channels; accepted: 1 or 3/);
    });
  });

  it('names the provider that loaded: cpu where webgpu was asked for and no adapter is found', async () => {
    await withNetwork(dir, { provider: 'webgpu', threads: 1 }, async (net) => assertWebgpuOrItsFallback(net));
    await withNetwork(dir, { provider: 'cpu', threads: 1 }, async (net) => assert.equal(net.provider, 'cpu'));
  });

  it('refuses options it has no meaning for, naming the accepted values', async () => {
    await assert.rejects(openFeatureNetwork(dir, { dims: 100 as never }), /dims is 100; accepted: 64, 192, 768, 2048/);
    await assert.rejects(openFeatureNetwork(dir, { preprocess: 'tf2' as never }), /preprocess is "tf2"; accepted: "pytorch-fid", "tf1"/);
    await assert.rejects(openFeatureNetwork(dir, { engine: 'tfjs' }), /onnx engine only/);
  });
});

describe('opening a directory that is not an Inception network', () => {
  it('refuses a UNet directory, naming the feature network architectures', async () => {
    await assert.rejects(
      openFeatureNetwork(join(import.meta.dirname, '../../../models/mnist')),
      /architecture is "adm-unet", which is not a feature network; accepted: "fid-inception-v3", "mnist-classifier"/,
    );
  });

  it('refuses an unknown preprocessing in model.json', () => {
    assert.throws(
      () => parseModelDirectory(JSON.stringify({ ...MODEL_JSON, preprocess: 'tf2' }), writeSafetensors({})),
      /preprocess.*"pytorch-fid", "tf1"/,
    );
  });

  it('names the first missing, unexpected and mis-shaped weight', () => {
    // Shapes are checked before any value is read, so zero-length stand-ins are enough.
    const fake = new Map<string, StoredTensor>(
      inceptionParamSpecs().map((s) => [s.key, { dtype: 'F32', shape: s.shape, data: new Float32Array(0) }]),
    );
    const missing = new Map(fake);
    missing.delete('Mixed_6d.branch1x1.bn.running_var');
    assert.throws(
      () => buildInceptionOnnx(missing),
      /missing key "Mixed_6d.branch1x1.bn.running_var" \(expected shape \[192\]\).*pt_inception-2015-12-05/,
    );
    const extra = new Map(fake).set('AuxLogits.fc.weight', { dtype: 'F32', shape: [1000, 768], data: new Float32Array(0) });
    assert.throws(() => buildInceptionOnnx(extra), /unexpected key "AuxLogits.fc.weight"/);
    const misShaped = new Map(fake).set('fc.weight', { dtype: 'F32', shape: [1000, 2048], data: new Float32Array(0) });
    assert.throws(
      () => buildInceptionOnnx(misShaped),
      /key "fc.weight" has shape \[1000, 2048\] but the model configuration implies \[1008, 2048\]/,
    );
  });
});
