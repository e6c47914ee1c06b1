/**
 * The device check (docs/deployment.md, "Device check"): on a GPU machine with no Node, no npm and
 * no network, run from bench/device/run.sh with the Node and onnxruntime that prepare.sh packed.
 * Every figure is one JSON line on stdout; progress and logs go to stderr.
 *
 *   1. golden: the denoiser golden cases (unet_forward, and dit_forward / vae_decode once vendored)
 *      on the provider, each with its worst error as a fraction of the case's tolerance;
 *   2. timing: each network of NETWORKS on the provider in float32 and float16, beside the same
 *      network with the same weights in PyTorch (torch_networks.py) on the same device;
 *   3. e2e: `diffq demo` of the shipped MNIST model, its workers on the provider, Redis started by
 *      the demo from the carried redis-server; its report.json says which provider ran.
 *
 * Usage: node device-check.mjs --repo <checkout> [--provider webgpu] [--quick] [--python python3]
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend } from '@diffq/diffusion';
import { type StoredTensor, type UNetConfig, unetParameterCount, writeSafetensors } from '@diffq/networks';
import { type GraphDtype, loadOrt, type OnnxEngine, openEngine, parseProviderChoice, timeForwards } from '@diffq/onnx';
import { CIFAR_SIZE, cifarSizeModel } from '../cifar-config.ts';

const { values } = parseArgs({
  options: {
    repo: { type: 'string' },
    provider: { type: 'string', default: 'webgpu' },
    quick: { type: 'boolean', default: false },
    python: { type: 'string', default: 'python3' },
    skip: { type: 'string', default: '' },
  },
});
const repo = resolve(values.repo ?? '.');
const provider = parseProviderChoice(values.provider ?? 'webgpu', '--provider');
const quick = values.quick ?? false;
const skip = new Set((values.skip ?? '').split(',').filter(Boolean));
const bin = import.meta.dirname;
process.env.DIFFQ_ONNX_PROVIDER = provider;

/** One figure: a JSON line on stdout. */
function figure(record: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(record)}\n`);
}
const log = (text: string) => process.stderr.write(`device-check: ${text}\n`);

/** Runs a program to its end; resolves to its exit code and what it printed. */
function runProgram(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((done) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
      process.stderr.write(c);
    });
    child.on('error', (e) => done({ code: null, out, err: `${err}${e.message}` }));
    child.on('close', (code) => done({ code, out, err }));
  });
}

/** The case kinds that run a network: what a GPU provider changes. */
const NETWORK_KINDS = ['unet_forward', 'dit_forward', 'vae_decode'];

async function golden(): Promise<void> {
  const cases = join(repo, 'test', 'golden', 'cases');
  const picked = mkdtempSync(join(tmpdir(), 'diffq-device-golden-'));
  try {
    const names = readdirSync(cases, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .filter((d) => {
        try {
          return NETWORK_KINDS.includes(JSON.parse(readFileSync(join(cases, d.name, 'case.json'), 'utf8')).kind);
        } catch {
          return false;
        }
      })
      .map((d) => d.name);
    // Copies, not links: the golden runner takes directories only.
    for (const name of names) cpSync(join(cases, name), join(picked, name), { recursive: true });
    log(`golden: ${names.length} network cases (${NETWORK_KINDS.join(', ')}) on ${provider}`);
    const run = await runProgram(process.execPath, [join(bin, 'golden.mjs'), picked, '--engine', 'onnx']);
    for (const line of run.out.split('\n')) {
      const m = line.match(/^(PASS|FAIL) (\S+) (\S+) (.*)$/);
      if (m) figure({ check: 'golden', provider, case: m[2], kind: m[3], pass: m[1] === 'PASS', detail: m[4] });
    }
    if (run.code !== 0) figure({ check: 'golden', provider, exitCode: run.code, summary: run.out.trim().split('\n').at(-1) });
  } finally {
    rmSync(picked, { recursive: true, force: true });
  }
}

/**
 * A network timed on both sides: its UNet flags and weights (the PyTorch side rebuilds it from
 * them) and the batch the figure is for. DiT-XL/2 (batch 8) and the SD decoder join this list when
 * their graphs are merged: one entry each, and a class of the same name in torch_networks.py.
 */
interface TimedNetwork {
  name: string;
  config: UNetConfig;
  args: Record<string, unknown>;
  weights: Map<string, StoredTensor>;
  batch: number;
}

function networks(): TimedNetwork[] {
  const cifar = cifarSizeModel();
  return [{ name: 'adm_unet_cifar', config: cifar.config, args: { ...CIFAR_SIZE }, weights: cifar.weights, batch: quick ? 4 : 32 }];
}

async function timeOnnx(net: TimedNetwork, dtype: GraphDtype, repeat: number): Promise<void> {
  const opened = await openEngine({ modelConfig: net.config, weights: net.weights, engine: 'onnx', provider, dtype });
  try {
    const engine = opened.engine as OnnxEngine;
    const times = await timeForwards(engine, net.config, net.batch, repeat);
    const medianMs = [...times].sort((a, b) => a - b)[times.length >> 1];
    figure({
      check: 'timing',
      network: net.name,
      runtime: 'onnxruntime-node',
      provider: engine.provider,
      precision: opened.precision,
      batch: net.batch,
      medianMs: Number(medianMs.toFixed(2)),
      imagesPerSecond: Number(((net.batch * 1000) / medianMs).toFixed(1)),
      repeat,
      why: opened.why,
    });
  } finally {
    opened.engine.dispose();
  }
}

async function timing(): Promise<void> {
  const repeat = quick ? 3 : 20;
  const scratch = mkdtempSync(join(tmpdir(), 'diffq-device-weights-'));
  try {
    for (const net of networks()) {
      log(`timing ${net.name} (${(unetParameterCount(net.config) / 1e6).toFixed(2)}M parameters) at batch ${net.batch} on ${provider}`);
      for (const dtype of ['float32', 'float16'] as const) await timeOnnx(net, dtype, repeat);
      const weightsFile = join(scratch, `${net.name}.safetensors`);
      // Random weights are float32 (randomUNetWeights): written as they are, the PyTorch side reads the same numbers.
      const tensors = Object.fromEntries([...net.weights].map(([k, t]) => [k, { shape: t.shape, data: t.data as Float32Array }]));
      writeFileSync(weightsFile, writeSafetensors(tensors));
      writeFileSync(join(scratch, `${net.name}.json`), JSON.stringify(net.args));
      const torch = await runProgram(values.python ?? 'python3', [
        join(repo, 'bench', 'device', 'torch_networks.py'),
        '--network',
        net.name,
        '--args',
        join(scratch, `${net.name}.json`),
        '--weights',
        weightsFile,
        '--batch',
        String(net.batch),
        '--repeat',
        String(repeat),
      ]);
      for (const line of torch.out.split('\n')) if (line.startsWith('{')) process.stdout.write(`${line}\n`);
      if (torch.code !== 0) figure({ check: 'timing', network: net.name, runtime: 'pytorch', error: torch.err.trim().split('\n').at(-1) });
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

async function endToEnd(): Promise<void> {
  const store = mkdtempSync(join(tmpdir(), 'diffq-device-store-'));
  try {
    const seeds = quick ? '0-19' : '0-499';
    const steps = quick ? '5' : '50';
    log(`e2e: diffq demo, seeds ${seeds}, ${steps} DDIM steps, workers on ${provider}`);
    // Nothing listens on this loopback port, so the demo starts its own redis-server for its length.
    const run = await runProgram(
      process.execPath,
      [join(bin, 'diffq.mjs'), 'demo', '--model', join(repo, 'models', 'mnist'), '--seeds', seeds, '--steps', steps, '--engine', 'onnx'],
      { DIFFQ_STORE: `file://${store}`, DIFFQ_REDIS_URL: 'redis://127.0.0.1:6391' },
    );
    const runId = run.out.match(/launched (\S+):/)?.[1];
    const report = runId ? JSON.parse(readFileSync(join(store, runId, 'report.json'), 'utf8')) : undefined;
    figure({
      check: 'e2e',
      exitCode: run.code,
      runId,
      providers: report?.providers,
      engines: report?.engines,
      samples: report?.counts?.samples,
      wallSeconds: report?.timings?.wallSeconds,
      samplesPerSecond: report?.timings?.samplesPerSecond,
      workers: run.out.match(/^workers: .*$/m)?.[0],
    });
  } finally {
    rmSync(store, { recursive: true, force: true });
  }
}

const ort = await loadOrt();
await initBackend();
figure({ check: 'environment', node: process.version, onnxruntime: ort.env.versions?.node, provider, quick });
const started = performance.now();
for (const [name, step] of [
  ['golden', golden],
  ['timing', timing],
  ['e2e', endToEnd],
] as const) {
  if (skip.has(name)) continue;
  const t = performance.now();
  try {
    await step();
  } catch (e) {
    figure({ check: name, error: (e as Error).message.split('\n')[0] });
  }
  log(`${name} took ${((performance.now() - t) / 1000).toFixed(1)} s`);
}
figure({ check: 'done', seconds: Number(((performance.now() - started) / 1000).toFixed(1)) });
