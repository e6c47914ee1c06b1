import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type DenoiserEngine, initBackend } from '@diffq/diffusion';
import { parseUNetConfig, randomUNetWeights } from '@diffq/networks';
import { benchModel, buildUNetOnnx, ONNX_CACHE_DIR, OnnxEngine, openEngine, openModelEngine, USER_ONNX_FILE } from '@diffq/onnx';
import * as tf from '@tensorflow/tfjs';
import onnxProto from 'onnx-proto';
import { forwardData, UNET_8, writeModelDirectory } from '../../../test/fixtures/small-networks.ts';

await initBackend();

const config = parseUNetConfig(UNET_8);
const weights = randomUNetWeights(config, 7);

/** The output on a fixed batch of two at timestep t, labels 0 and 2. */
async function run(engine: DenoiserEngine, t = 250): Promise<Float32Array> {
  const x = tf.randomNormal([2, 3, 8, 8], 0, 1, 'float32', 3) as tf.Tensor4D;
  const ts = tf.tensor1d([t, t], 'float32');
  const y = tf.tensor1d([0, 2], 'int32');
  try {
    return await forwardData(engine, x, ts, y);
  } finally {
    tf.dispose([x, ts, y]);
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
}

/**
 * A graph shaped like a PyTorch export: the timesteps input is named `timesteps` and is int64, as
 * torch.onnx.export writes an integer tensor; a Cast feeds the float value to the network.
 */
function asPyTorchExport(bytes: Uint8Array): Uint8Array {
  const { onnx } = onnxProto;
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph as InstanceType<typeof onnx.GraphProto>;
  const t = graph.input.find((i) => i.name === 't');
  assert.ok(t?.type?.tensorType);
  t.name = 'timesteps';
  t.type.tensorType.elemType = onnx.TensorProto.DataType.INT64;
  graph.node.unshift(
    onnx.NodeProto.create({ opType: 'Cast', input: ['timesteps'], output: ['t'], attribute: [{ name: 'to', type: 2, i: 1 }] }),
  );
  return onnx.ModelProto.encode(model).finish();
}

describe('openEngine', () => {
  it('takes onnx under auto when onnxruntime loads, and says so', async () => {
    const { engine, why } = await openEngine({ modelConfig: config, weights, engine: 'auto' });
    try {
      assert.equal(engine.name, 'onnx');
      assert.match(why, /^auto took onnx because it loaded: onnxruntime-node \S+ cpu/);
      assert.equal(engine.provider, 'cpu');
    } finally {
      engine.dispose();
    }
  });

  it('gives the tfjs engine when asked, naming its backend', async () => {
    const { engine, why } = await openEngine({ modelConfig: config, weights, engine: 'tfjs' });
    try {
      assert.equal(engine.name, 'tfjs');
      assert.match(why, /^tfjs, as asked; tfjs backend \w+/);
      assert.equal(engine.provider, (await initBackend()).tfBackend, 'the tfjs backend is what runs its forward passes');
      assert.equal(engine.description, `tfjs ${engine.provider}`);
    } finally {
      engine.dispose();
    }
  });

  it('falls back to cpu when cuda cannot load, saying why', async () => {
    const { engine, why } = await openEngine({ modelConfig: config, weights, engine: 'onnx', provider: 'cuda' });
    try {
      assert.ok(engine instanceof OnnxEngine);
      if (engine.provider === 'cuda') assert.equal(engine.providerFallback, undefined);
      else {
        assert.match(engine.providerFallback ?? '', /libonnxruntime_providers_cuda\.so|cuda provider did not load/);
        assert.match(
          engine.description,
          /^onnxruntime-node \S+ cpu \(cuda fallback: (libonnxruntime_providers_cuda\.so is not installed|the cuda provider did not load: .+)\)$/,
        );
        assert.match(why, /cuda was asked for and cpu runs instead: /);
      }
    } finally {
      engine.dispose();
    }
  });

  it('runs float32 when float16 is asked for on the cpu provider, and says so', async () => {
    const { engine, why, precision } = await openEngine({ modelConfig: config, weights, engine: 'onnx', dtype: 'float16' });
    const reference = await OnnxEngine.create(buildUNetOnnx(config, weights));
    try {
      assert.match(why, /float16 is for the cuda and webgpu providers, so the cpu provider runs float32/);
      assert.equal(precision, 'float32', 'the precision a run records is the one that runs');
      assert.equal(maxAbsDiff(await run(engine), await run(reference)), 0);
    } finally {
      engine.dispose();
      reference.dispose();
    }
  });

  it('fails an explicit onnx request without weights or a graph, naming what is missing', async () => {
    await assert.rejects(
      openEngine({ modelConfig: config, engine: 'onnx' }),
      /needs the UNet weights \(weights\.safetensors\) or a model\.onnx/,
    );
  });
});

describe('openModelEngine', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'diffq-onnx-'));
    const json = {
      format: 'diffq-model/1',
      architecture: 'adm-unet',
      model: UNET_8,
      diffusion: { steps: 1000, noise_schedule: 'cosine', learn_sigma: true },
    };
    await writeModelDirectory(dir, json, weights);
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('caches the built graph beside the model and reuses it', async () => {
    const first = await openModelEngine({ modelDir: dir, engine: 'onnx' });
    const firstOut = await run(first.engine);
    first.engine.dispose();
    assert.match(first.why, /graph built in [\d.]+ s and cached as .*\.diffq-onnx\/unet-float32-[0-9a-f]{16}\.onnx/);
    assert.equal((await readdir(join(dir, ONNX_CACHE_DIR))).length, 1);

    const second = await openModelEngine({ modelDir: dir, engine: 'onnx' });
    try {
      assert.match(second.why, /graph from the cache /);
      assert.equal(maxAbsDiff(await run(second.engine), firstOut), 0);
    } finally {
      second.engine.dispose();
    }
  });

  it("runs a user's model.onnx with integer timesteps named `timesteps`", async () => {
    await writeFile(join(dir, USER_ONNX_FILE), asPyTorchExport(buildUNetOnnx(config, weights)));
    const built = await OnnxEngine.create(buildUNetOnnx(config, weights));
    const user = await openModelEngine({ modelDir: dir, engine: 'onnx' });
    try {
      assert.match(user.why, /graph is the user's .*model\.onnx/);
      assert.equal(maxAbsDiff(await run(user.engine), await run(built)), 0);
      const x = tf.zeros([1, 3, 8, 8]) as tf.Tensor4D;
      const t = tf.tensor1d([12.5]);
      const y = tf.tensor1d([1], 'int32');
      await assert.rejects(user.engine.forward(x, t, y), /integer timesteps \(int64\) but got fractional ones/);
      tf.dispose([x, t, y]);
    } finally {
      built.dispose();
      user.engine.dispose();
      await rm(join(dir, USER_ONNX_FILE));
    }
  });

  it('takes tfjs under auto when the onnx graph does not load, and says why', async () => {
    await writeFile(join(dir, USER_ONNX_FILE), 'not an onnx model');
    const { engine, why } = await openModelEngine({ modelDir: dir, engine: 'auto' });
    try {
      assert.equal(engine.name, 'tfjs');
      assert.match(why, /^auto took tfjs because onnx did not load \(.+\); tfjs backend \w+/);
    } finally {
      engine.dispose();
      await rm(join(dir, USER_ONNX_FILE));
    }
  });

  it('benchmarks a forward and names the engine and provider', async () => {
    const result = await benchModel({ modelDir: dir, batch: 2, engine: 'onnx', repeat: 3 });
    assert.equal(result.engine, 'onnx');
    assert.equal(result.provider, 'cpu');
    assert.equal(result.timesMs.length, 3);
    assert.ok(result.medianMs > 0 && result.medianMs >= Math.min(...result.timesMs) && result.medianMs <= Math.max(...result.timesMs));
    await assert.rejects(benchModel({ modelDir: dir, batch: 0, engine: 'onnx', repeat: 3 }), /--batch is 0; accepted: an integer ≥ 1/);
  });
});
