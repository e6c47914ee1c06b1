/**
 * The device check's rehearsal (docs/deployment.md, "Device check"): the bundle that travels to the
 * GPU machine, run here with webgpu asked for. This machine has no usable adapter, so every network
 * falls back to the cpu provider with the adapter's reason, which is the path a GPU run takes when its
 * Vulkan driver is missing: the figures must still come, and say so.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PYTHON, skipUnlessPython } from '../fixtures/reference-python.ts';
import { REPO } from './harness.ts';

type Figure = Record<string, unknown>;

describe('the device check, rehearsed on this machine with --provider webgpu --quick', { skip: skipUnlessPython(['torch']) }, () => {
  const out = mkdtempSync(join(tmpdir(), 'diffq-device-check-test-'));
  let figures: Figure[] = [];
  let stderr = '';
  let code: number | null = null;

  before(async () => {
    const bundled = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'bench', 'device', 'bundle.ts'), out], {
      cwd: REPO,
      encoding: 'utf8',
    });
    assert.equal(bundled.status, 0, bundled.stderr);
    // prepare.sh copies the hoisted onnxruntime-node beside the bundle; linking it is the same for a run here.
    mkdirSync(join(out, 'app', 'node_modules'), { recursive: true });
    for (const pkg of ['onnxruntime-node', 'onnxruntime-common'])
      symlinkSync(join(REPO, 'node_modules', pkg), join(out, 'app', 'node_modules', pkg));
    const child = spawn(
      process.execPath,
      [join(out, 'app', 'bin', 'device-check.mjs'), '--repo', REPO, '--provider', 'webgpu', '--quick', '--python', PYTHON],
      // run.sh's setting: tfjs only carries tensors between onnxruntime calls there.
      { env: { ...process.env, DIFFQ_BACKEND: 'cpu' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    code = await new Promise((done) => child.on('close', done));
    figures = stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Figure);
  });
  after(() => rmSync(out, { recursive: true, force: true }));

  const of = (check: string) => figures.filter((f) => f.check === check);

  it('exits 0 and ends with its done line, no step failing', () => {
    assert.equal(code, 0, stderr.slice(-3000));
    assert.deepEqual(
      figures.filter((f) => 'error' in f),
      [],
    );
    assert.equal(figures.at(-1)?.check, 'done');
  });

  it('says first what WebGPU will find: the Vulkan ICDs and the GPUs', () => {
    const [environment] = of('environment');
    assert.equal(environment?.provider, 'webgpu');
    assert.ok(Array.isArray(environment.vulkanIcds), JSON.stringify(environment));
    assert.ok('gpus' in environment && 'vkDriverFiles' in environment);
  });

  it('passes every unet_forward, dit_forward and vae_decode golden case on the fallback provider, and so do the PyTorch twins', () => {
    for (const runtime of ['onnxruntime-node', 'pytorch']) {
      const golden = of('golden').filter((f) => f.runtime === runtime);
      const kinds = new Set(golden.map((f) => f.kind));
      assert.deepEqual([...kinds].sort(), ['dit_forward', 'unet_forward', 'vae_decode'], runtime);
      assert.ok(golden.length >= 6, `${runtime}: ${golden.length} cases`);
      for (const f of golden) assert.equal(f.pass, true, JSON.stringify(f));
    }
    assert.deepEqual(
      of('golden').filter((f) => f.runtime === undefined),
      [],
    );
  });

  it('times each network on onnxruntime, states the webgpu fallback, and agrees with the PyTorch twin on the same weights', () => {
    for (const network of ['adm_unet_cifar', 'dit_small', 'sd_decoder_small']) {
      const timing = of('timing').filter((f) => f.network === network);
      const onnx = timing.find((f) => f.runtime === 'onnxruntime-node' && f.precision === 'float32');
      assert.ok(onnx, `${network}: no onnxruntime float32 figure in ${JSON.stringify(timing)}`);
      assert.equal(onnx.provider, 'cpu');
      assert.match(String(onnx.why), /webgpu/i);
      assert.ok(Number(onnx.medianMs) > 0);
      assert.equal(onnx.agreesWithPyTorch, true, `${network}: relative L2 ${onnx.relL2VsPyTorchFloat32}`);
      // float16 was asked for too; the cpu fallback runs float32, which is not timed twice.
      assert.ok(
        timing.some((f) => f.runtime === 'onnxruntime-node' && f.asked === 'float16' && String(f.skipped).startsWith('already timed')),
      );
      const torch = timing.find((f) => f.runtime === 'pytorch' && f.precision === 'float32');
      assert.ok(torch && Number(torch.medianMs) > 0, `${network}: no PyTorch float32 figure in ${JSON.stringify(timing)}`);
      assert.equal(torch.device, 'cpu');
    }
  });

  it('samples the demo end to end and its report records the provider that ran', () => {
    const [e2e] = of('e2e');
    assert.equal(e2e?.exitCode, 0, JSON.stringify(e2e));
    assert.deepEqual(e2e.providers, ['cpu']);
    assert.equal(e2e.samples, 20);
    assert.match(String(e2e.workers), /^workers: demo-worker-1@\S+; /, 'one worker, as a GPU node runs one per device');
  });
});
