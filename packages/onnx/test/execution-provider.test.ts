import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { initBackend } from '@diffq/diffusion';
import { parseUNetConfig, randomUNetWeights } from '@diffq/networks';
import {
  buildUNetOnnx,
  describePlacement,
  loadFailureReason,
  OnnxEngine,
  openEngine,
  openOrtSession,
  parseProviderChoice,
  placementFromProfile,
  providerFromEnv,
} from '@diffq/onnx';
import { UNET_8 } from '../../../test/fixtures/small-networks.ts';

await initBackend();

const config = parseUNetConfig(UNET_8);
const weights = randomUNetWeights(config, 7);
const graph = buildUNetOnnx(config, weights);

/** Sets DIFFQ_ONNX_PROVIDER for the duration of fn. */
async function withProviderEnv<T>(value: string | undefined, fn: () => Promise<T>): Promise<T> {
  const before = process.env.DIFFQ_ONNX_PROVIDER;
  if (value === undefined) delete process.env.DIFFQ_ONNX_PROVIDER;
  else process.env.DIFFQ_ONNX_PROVIDER = value;
  try {
    return await fn();
  } finally {
    if (before === undefined) delete process.env.DIFFQ_ONNX_PROVIDER;
    else process.env.DIFFQ_ONNX_PROVIDER = before;
  }
}

describe('the webgpu execution provider', () => {
  it('falls back to cpu where no WebGPU adapter is found, with the reason in the description', async () => {
    const { engine, why } = await openEngine({ modelConfig: config, weights, engine: 'onnx', provider: 'webgpu' });
    try {
      assert.ok(engine instanceof OnnxEngine);
      if (engine.provider === 'webgpu') {
        // A machine with a GPU: the placement probe ran and said where the nodes went.
        assert.match(why, /placement: \d+ nodes on WebGpuExecutionProvider/);
        return;
      }
      assert.equal(engine.provider, 'cpu');
      assert.match(
        engine.description,
        /^onnxruntime-node \S+ cpu \(webgpu fallback: the webgpu provider did not load: Failed to get a WebGPU adapter: .+\)$/,
      );
      // The reason once: the report does not repeat what the description says.
      assert.equal(why.split('Failed to get a WebGPU adapter').length - 1, 1, why);
    } finally {
      engine.dispose();
    }
  });

  it('is tried after cuda and before cpu under auto, each skipped provider with its reason', async () => {
    const opened = await openOrtSession(graph, { provider: 'auto', threads: 1 });
    try {
      if (opened.provider !== 'cpu') return;
      assert.match(opened.providerFallback ?? '', /cuda.*; the webgpu provider did not load: Failed to get a WebGPU adapter/);
      assert.match(opened.description, /^onnxruntime-node \S+ cpu \(auto fallback: .*cuda.*; the webgpu provider did not load: .+\)$/);
    } finally {
      await opened.session.release();
    }
  });

  it('is what DIFFQ_ONNX_PROVIDER asks for when the caller names no provider', async () => {
    const opened = await withProviderEnv('webgpu', () => openOrtSession(graph, { threads: 1 }));
    try {
      if (opened.provider === 'webgpu') return;
      assert.match(opened.description, / cpu \(webgpu fallback: .*WebGPU adapter.*\)$/);
    } finally {
      await opened.session.release();
    }
  });

  it('refuses an unknown provider, naming the variable and the accepted values', async () => {
    await withProviderEnv('vulkan', async () => {
      assert.throws(() => providerFromEnv(), /DIFFQ_ONNX_PROVIDER is "vulkan"; accepted: auto, cpu, cuda, webgpu/);
    });
    assert.throws(() => parseProviderChoice('gpu', '--provider'), /--provider is "gpu"; accepted: auto, cpu, cuda, webgpu/);
  });

  it("reads the reason out of onnxruntime's load error", () => {
    const message =
      '/onnxruntime_src/onnxruntime/core/providers/webgpu/webgpu_context.cc:136 onnxruntime::webgpu::WebGpuContext::Initialize(const onnxruntime::webgpu::WebGpuContextConfig&)::<lambda()> adapter_result.status == wgpu::RequestAdapterStatus::Success was false. Failed to get a WebGPU adapter: No supported adapters\n';
    assert.equal(loadFailureReason(new Error(message)), 'Failed to get a WebGPU adapter: No supported adapters');
    assert.equal(loadFailureReason(new Error('plain reason\nmore')), 'plain reason');
  });
});

describe('node placement', () => {
  it("counts every node of a probed forward on the provider onnxruntime's profile names", async () => {
    const opened = await openOrtSession(graph, { provider: 'cpu', threads: 1, placement: true });
    try {
      const placement = opened.placement;
      assert.ok(placement, 'the probe ran');
      assert.deepEqual(Object.keys(placement.nodesByProvider), ['CPUExecutionProvider']);
      const count = placement.nodesByProvider.CPUExecutionProvider;
      assert.ok(count > 10, `a UNet runs more than 10 kernels, got ${count}`);
      assert.equal(placement.cpuNodes.length, count);
      assert.match(opened.report, new RegExp(`placement: ${count} nodes on CPUExecutionProvider$`));
      // The session serves real batches after the probe, profiling off.
      const x = new opened.ort.Tensor('float32', new Float32Array(2 * 3 * 8 * 8), [2, 3, 8, 8]);
      const t = new opened.ort.Tensor('float32', Float32Array.from([10, 20]), [2]);
      const y = new opened.ort.Tensor('int64', BigInt64Array.from([0n, 1n]), [2]);
      const out = await opened.session.run({ x, t, y });
      assert.deepEqual(Object.values(out)[0].dims, [2, 6, 8, 8]);
    } finally {
      await opened.session.release();
    }
  });

  it('is not probed on the cpu provider unless asked', async () => {
    const opened = await openOrtSession(graph, { provider: 'cpu', threads: 1 });
    try {
      assert.equal(opened.placement, undefined);
      assert.doesNotMatch(opened.report, /placement/);
    } finally {
      await opened.session.release();
    }
  });

  it('names the nodes a device provider left on the CPU', () => {
    const kernel = (name: string, op: string, provider: string) => ({
      cat: 'Node',
      name: `${name}_kernel_time`,
      args: { op_name: op, provider },
    });
    const placement = placementFromProfile([
      { cat: 'Session', name: 'model_run', args: {} },
      kernel('/conv1/Conv', 'Conv', 'WebGpuExecutionProvider'),
      kernel('/conv2/Conv', 'Conv', 'WebGpuExecutionProvider'),
      kernel('/emb/Range', 'Range', 'CPUExecutionProvider'),
    ]);
    assert.deepEqual(placement, {
      nodesByProvider: { WebGpuExecutionProvider: 2, CPUExecutionProvider: 1 },
      cpuNodes: ['Range /emb/Range'],
    });
    assert.equal(
      describePlacement(placement),
      '2 nodes on WebGpuExecutionProvider, 1 nodes on CPUExecutionProvider; on the CPU: Range /emb/Range',
    );
  });
});
