import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type DenoiserEngine, initBackend } from '@diffq/diffusion';
import { createDiT, parseDiTConfig, randomDiTWeights, TfjsDiTEngine } from '@diffq/networks';
import { buildDiTOnnx, ONNX_CACHE_DIR, OnnxEngine, openEngine, openModelEngine } from '@diffq/onnx';
import * as tf from '@tensorflow/tfjs';
import { DIT_8, forwardData, relativeL2, writeModelDirectory } from '../../../test/fixtures/small-networks.ts';

await initBackend();

const config = parseDiTConfig(DIT_8);
const weights = randomDiTWeights(config, 11);
const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

/** Three latents at three timesteps, labels 1, 4 and the null label 5. */
function batch(): { x: tf.Tensor4D; t: tf.Tensor1D; y: tf.Tensor1D } {
  return {
    x: tf.randomNormal([3, 4, 8, 8], 0, 1, 'float32', 5) as tf.Tensor4D,
    t: tf.tensor1d([10, 500, 999], 'float32'),
    y: tf.tensor1d([1, 4, 5], 'int32'),
  };
}

async function outputOf(engine: DenoiserEngine): Promise<Float32Array> {
  const { x, t, y } = batch();
  try {
    return await forwardData(engine, x, t, y);
  } finally {
    tf.dispose([x, t, y]);
  }
}

describe('buildDiTOnnx', () => {
  it('computes the same function as the tfjs DiT, and every block matters', async () => {
    const onnx = await OnnxEngine.create(buildDiTOnnx(config, weights) as Uint8Array);
    const tfjs = new TfjsDiTEngine(createDiT(config, weights));
    const withoutLastBlock = new Map(weights);
    // Zeroing the last block's adaLN gates (adaLN-Zero's initialisation) makes that block the identity.
    const ada = withoutLastBlock.get('blocks.1.adaLN_modulation.1.weight');
    assert.ok(ada);
    withoutLastBlock.set('blocks.1.adaLN_modulation.1.weight', { ...ada, data: new Float32Array(ada.data.length) });
    const identityBlock = await OnnxEngine.create(buildDiTOnnx(config, withoutLastBlock) as Uint8Array);
    try {
      const [a, b, c] = [await outputOf(onnx), await outputOf(tfjs), await outputOf(identityBlock)];
      assert.equal(a.length, 3 * 8 * 8 * 8);
      assert.ok(relativeL2(a, b) < 1e-5, `onnx and tfjs differ by ${relativeL2(a, b)}`);
      assert.ok(relativeL2(c, a) > 1e-2, `the last block changes the output by only ${relativeL2(c, a)}`);
    } finally {
      onnx.dispose();
      tfjs.dispose();
      identityBlock.dispose();
    }
  });

  it('gives a sample the same output whatever the batch it is in', async () => {
    const engine = await OnnxEngine.create(buildDiTOnnx(config, weights) as Uint8Array);
    const { x, t, y } = batch();
    const [x1, t1, y1] = [tf.slice(x, [1, 0, 0, 0], [1, -1, -1, -1]) as tf.Tensor4D, tf.slice(t, [1], [1]), tf.slice(y, [1], [1])];
    try {
      const all = await forwardData(engine, x, t, y);
      const alone = await forwardData(engine, x1, t1, y1);
      const inBatch = all.subarray(alone.length, 2 * alone.length);
      assert.ok(relativeL2(inBatch, alone) < 1e-6, `sample 1 moves by ${relativeL2(inBatch, alone)} with its batch`);
      // ...and the batch is not the same sample three times.
      assert.ok(relativeL2(all.subarray(0, alone.length), alone) > 1e-2);
    } finally {
      tf.dispose([x, t, y, x1, t1, y1]);
      engine.dispose();
    }
  });

  it('with dtype float16 computes the Linear layers in half precision, close to float32', async () => {
    const [full, half] = [
      await OnnxEngine.create(buildDiTOnnx(config, weights) as Uint8Array),
      await OnnxEngine.create(buildDiTOnnx(config, weights, { dtype: 'float16' }) as Uint8Array),
    ];
    try {
      const [a, b] = [await outputOf(full), await outputOf(half)];
      const err = relativeL2(b, a);
      assert.ok(err > 1e-6 && err < 1e-2, `float16 differs from float32 by ${err}`);
    } finally {
      full.dispose();
      half.dispose();
    }
  });

  it('refuses weights that do not match the config, naming the key', () => {
    const wrong = new Map(weights);
    wrong.set('final_layer.linear.weight', { dtype: 'F32', shape: [16, 32], data: new Float32Array(16 * 32) });
    assert.throws(
      () => buildDiTOnnx(config, wrong),
      /DiT weights: key "final_layer\.linear\.weight" has shape \[16, 32\] but the model configuration implies \[32, 32\]/,
    );
  });

  it('writes the weights as external data beside the graph past the threshold, and onnxruntime runs it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'diffq-dit-external-'));
    dirs.push(dir);
    const path = join(dir, 'dit.onnx');
    const inline = buildDiTOnnx(config, weights);
    const external = buildDiTOnnx(config, weights, { path, externalDataThreshold: 1000 });
    assert.ok(inline instanceof Uint8Array);
    assert.equal(external, path);
    const dataBytes = statSync(`${path}.data`).size;
    assert.ok(dataBytes > 0.95 * 4 * [...weights.values()].reduce((n, w) => n + w.data.length, 0), `only ${dataBytes} bytes of data`);
    assert.ok(statSync(path).size < inline.byteLength / 10, 'the graph file still holds the weights');
    assert.deepEqual((await readdir(dir)).sort(), ['dit.onnx', 'dit.onnx.data']);
    const [a, b] = [await OnnxEngine.create(inline), await OnnxEngine.create(path)];
    try {
      assert.deepEqual(await outputOf(b), await outputOf(a));
    } finally {
      a.dispose();
      b.dispose();
    }
  });
});

describe('openEngine and openModelEngine with a DiT', () => {
  it('opens a DiT model directory on onnx, caches its graph, and on tfjs when asked', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'diffq-dit-model-'));
    dirs.push(dir);
    await writeModelDirectory(dir, { format: 'diffq-model/1', architecture: 'dit', model: DIT_8, diffusion: { steps: 1000 } }, weights);
    const first = await openModelEngine({ modelDir: dir, engine: 'auto' });
    const second = await openModelEngine({ modelDir: dir, engine: 'onnx' });
    const tfjs = await openModelEngine({ modelDir: dir, engine: 'tfjs' });
    try {
      assert.equal(first.engine.name, 'onnx');
      assert.match(first.why, /graph built in .* and cached as /);
      assert.match(second.why, /graph from the cache /);
      assert.deepEqual(first.config, { inChannels: 4, imageSize: 8, outChannels: 8, numClasses: 6 });
      assert.ok(existsSync(join(dir, ONNX_CACHE_DIR)));
      assert.equal(tfjs.engine.name, 'tfjs');
      assert.equal(tfjs.engine.provider, tf.getBackend());
      const [a, b] = [await outputOf(second.engine), await outputOf(tfjs.engine)];
      assert.ok(relativeL2(a, b) < 1e-5);
    } finally {
      for (const e of [first, second, tfjs]) e.engine.dispose();
    }
  });

  it('opens a DiT from its config and weights, as the golden runner does', async () => {
    const { engine, why } = await openEngine({ architecture: 'dit', modelConfig: config, weights, engine: 'onnx' });
    try {
      assert.match(why, /^onnx, as asked: .*float32 graph built from the weights/);
      assert.equal((await outputOf(engine)).length, 3 * 8 * 8 * 8);
    } finally {
      engine.dispose();
    }
  });
});
