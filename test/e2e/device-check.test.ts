/**
 * The device check's rehearsal (docs/deployment.md, "Device check"): exactly what travels to the GPU
 * machine, built by prepare.sh and run through run.sh, here with webgpu asked for. This machine has no
 * usable adapter, so every network falls back to the cpu provider with the adapter's reason, which is
 * the path a GPU run takes when its Vulkan driver is missing: the figures must still come, and say so.
 * Building the payload is the point (a file prepare.sh forgets to carry fails here, not in the one GPU
 * run), so it is built with prepare.sh's real compression, about 1.5 minutes on 2 cores.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PYTHON, skipUnlessPython } from '../fixtures/reference-python.ts';
import { REPO } from './harness.ts';

/** What the device tool sends at most: the working tree plus `carry`. */
const TRAVEL_LIMIT_BYTES = 64 * 1048576;

type Figure = Record<string, unknown>;

describe('the device check, rehearsed on this machine with --provider webgpu --quick', { skip: skipUnlessPython(['torch']) }, () => {
  const out = mkdtempSync(join(tmpdir(), 'diffq-device-check-test-'));
  let figures: Figure[] = [];
  let stderr = '';
  let code: number | null = null;

  const dist = join(out, 'dist');
  const root = join(out, 'root');
  let prepareLog = '';

  before(async () => {
    const prepared = spawnSync('bash', [join(REPO, 'bench', 'device', 'prepare.sh')], {
      cwd: REPO,
      encoding: 'utf8',
      env: { ...process.env, DIFFQ_DEVICE_DIST: dist },
    });
    prepareLog = prepared.stderr;
    assert.equal(prepared.status, 0, prepared.stderr);
    const child = spawn('bash', [join(REPO, 'bench', 'device', 'run.sh'), '--provider', 'webgpu', '--quick'], {
      cwd: REPO,
      env: { ...process.env, DIFFQ_DEVICE_DIST: dist, DIFFQ_DEVICE_ROOT: root, PYTHON },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
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

  it('fits, with the tree slimmed to the golden kinds it runs, in the 64 MiB that travels', () => {
    const payload = statSync(join(dist, 'payload.tar.xz')).size;
    const slim = spawnSync('bash', [join(REPO, 'bench', 'device', 'slim-tree.sh'), 'slim-size'], { cwd: REPO, encoding: 'utf8' });
    assert.equal(slim.status, 0, slim.stderr);
    const tree = Number(slim.stdout.trim()) * 1048576;
    assert.ok(tree > 0 && payload > 0, `tree ${slim.stdout}, payload ${payload}`);
    assert.ok(
      payload + tree <= TRAVEL_LIMIT_BYTES,
      `payload ${(payload / 1048576).toFixed(1)} MiB + tree ${slim.stdout.trim()} MiB\n${prepareLog}`,
    );
  });

  it('carries its own Node, redis-server and the Vulkan loader, none of which the GPU machine has', () => {
    for (const file of ['node', 'redis-server', join('lib', 'libvulkan.so.1'), join('app', 'bin', 'device-check.mjs')])
      assert.ok(existsSync(join(root, file)), `${file} is not in the payload`);
    const binding = join(root, 'app', 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64');
    assert.ok(existsSync(join(binding, 'libonnxruntime.so.1')), "onnxruntime-node's native library is not in the payload");
  });

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
