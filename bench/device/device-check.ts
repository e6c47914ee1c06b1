/**
 * The device check (docs/deployment.md, "Device check"): on a GPU machine with no Node, no npm and
 * no network, run from bench/device/run.sh with the Node and onnxruntime that prepare.sh packed.
 * Every figure is one JSON line on stdout; progress and logs go to stderr.
 *
 *   1. golden: the network golden cases (unet_forward, dit_forward, vae_decode) on the provider,
 *      each with its worst error as a fraction of the case's tolerance;
 *   2. timing: each network of networks() on the provider in float32 and float16, beside its PyTorch
 *      twin (torch_networks.py) on the same weights, inputs and device, after checking that the two
 *      compute the same function;
 *   3. e2e: `diffq demo` of the shipped MNIST model, one worker on the provider, Redis started by
 *      the demo from the carried redis-server; its report.json says which provider ran.
 *
 * Usage: node device-check.mjs --repo <checkout> [--provider webgpu] [--quick] [--python python3]
 *        [--skip golden,timing,e2e] [--networks adm_unet_cifar,sd_decoder,dit_xl_2] [--budget 420]
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend, seedNormals } from '@diffq/diffusion';
import {
  type DecoderConfig,
  decoderImageSize,
  ditParameterCount,
  parseDiffusersDecoderConfig,
  parseDiTConfig,
  randomDecoderWeights,
  randomDiTWeights,
  readDecoderDirectory,
  readSafetensors,
  type StoredTensor,
  writeSafetensors,
} from '@diffq/networks';
import {
  buildDiTOnnx,
  type DenoiserNetwork,
  type GraphDtype,
  loadOrt,
  median,
  openDecoder,
  openEngine,
  parseProviderChoice,
} from '@diffq/onnx';
import * as tf from '@tensorflow/tfjs';
import { relativeL2 } from '../../test/fixtures/small-networks.ts';
import { CIFAR_SIZE, cifarSizeModel } from '../cifar-config.ts';
import { DIT_XL_2, SD_VAE_CONFIG } from '../latent-configs.ts';

const { values } = parseArgs({
  options: {
    repo: { type: 'string' },
    provider: { type: 'string', default: 'webgpu' },
    quick: { type: 'boolean', default: false },
    python: { type: 'string', default: 'python3' },
    skip: { type: 'string', default: '' },
    networks: { type: 'string' },
    budget: { type: 'string', default: '420' },
  },
});
const repo = resolve(values.repo ?? '.');
const provider = parseProviderChoice(values.provider ?? 'webgpu', '--provider');
const quick = values.quick ?? false;
const skip = new Set((values.skip ?? '').split(',').filter(Boolean));
for (const k of skip) if (!['golden', 'timing', 'e2e'].includes(k)) throw new Error(`--skip names "${k}"; accepted: golden, timing, e2e`);
/** Seconds after which no further step starts: the device run has 8 minutes of wall time, unpacking included. */
const budget = Number(values.budget);
if (!(budget > 0)) throw new Error(`--budget is "${values.budget}"; accepted: seconds > 0`);
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

/**
 * What WebGPU will find: the Vulkan ICD manifests the loader reads (VK_DRIVER_FILES, else its default
 * directories) and the GPU nvidia-smi names. One run is all the device time allows, so a webgpu
 * fallback must come with what to fix.
 */
function vulkanAndGpu(): Record<string, unknown> {
  const dirs = ['/etc/vulkan/icd.d', '/usr/share/vulkan/icd.d', '/usr/local/share/vulkan/icd.d', '/usr/local/nvidia/share/vulkan/icd.d'];
  const manifests = dirs.flatMap((d) => {
    try {
      return readdirSync(d).map((f) => join(d, f));
    } catch {
      return [];
    }
  });
  const smi = spawnSync('nvidia-smi', ['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader'], { encoding: 'utf8' });
  return {
    vkDriverFiles: process.env.VK_DRIVER_FILES ?? null,
    vulkanIcds: manifests,
    gpus: smi.status === 0 ? smi.stdout.trim().split('\n') : `nvidia-smi: ${smi.error?.message ?? smi.stderr.trim()}`,
  };
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
      if (m)
        figure({ check: 'golden', runtime: 'onnxruntime-node', provider, case: m[2], kind: m[3], pass: m[1] === 'PASS', detail: m[4] });
    }
    if (run.code !== 0) figure({ check: 'golden', provider, exitCode: run.code, summary: run.out.trim().split('\n').at(-1) });
    // The PyTorch twins on the same cases, on the GPU where torch has CUDA (its fused attention included):
    // the timing below compares diffq with them, so they are shown to be the reference networks there too.
    const twins = await runProgram(values.python ?? 'python3', [
      join(repo, 'bench', 'python', 'golden_twin.py'),
      '--device',
      'auto',
      ...names.map((n) => join(picked, n)),
    ]);
    for (const line of twins.out.split('\n')) {
      if (!line.startsWith('{')) continue;
      const r = JSON.parse(line) as Record<string, unknown>;
      figure({
        check: 'golden',
        runtime: 'pytorch',
        device: r.device,
        attention: r.attention,
        case: r.case,
        kind: r.kind,
        pass: r.pass,
        outputs: r.outputs,
        error: r.error,
      });
    }
    if (twins.code !== 0 && !twins.out.includes('"pass": false'))
      figure({ check: 'golden', runtime: 'pytorch', error: twins.err.trim().split('\n').at(-1) });
  } finally {
    rmSync(picked, { recursive: true, force: true });
  }
}

/** A tensor as safetensors holds it: what the PyTorch twin reads its inputs from. */
type Tensor = { shape: number[]; data: Float32Array | BigInt64Array };

/** diffq's side of one network, opened on the provider in one precision. */
interface OnnxSide {
  /** One forward of the network's inputs, read back to the host (as the worker does each step). */
  forward(): Promise<Float32Array<ArrayBufferLike>>;
  provider: string;
  precision: GraphDtype;
  why: string;
  dispose(): Promise<void> | void;
}

/**
 * A network timed on both sides: diffq's graph on the provider, and the PyTorch twin
 * (torch_networks.py --network `twin`) on the same weights file and the same inputs.
 */
interface TimedNetwork {
  name: string;
  twin: 'adm_unet' | 'dit' | 'sd_decoder';
  /** The twin's constructor argument, written as its config.json. */
  twinConfig: unknown;
  batch: number;
  summary: string;
  /** Generated when the network's turn comes and dropped after it: DiT-XL/2's are 2.7 GB. */
  weights(): Map<string, StoredTensor>;
  inputs: Record<string, Tensor>;
  open(weights: ReadonlyMap<string, StoredTensor>, dtype: GraphDtype, scratch: string): Promise<OnnxSide>;
}

const labels = (n: number, classes: number) => BigInt64Array.from({ length: n }, (_, i) => BigInt((i * 37) % classes));
const timesteps = (n: number) => Float32Array.from({ length: n }, (_, i) => (i * 997) % 1000);

/** A denoiser (UNet or DiT) through openEngine, as the worker opens it. */
async function openDenoiser(
  network: DenoiserNetwork,
  weights: ReadonlyMap<string, StoredTensor>,
  dtype: GraphDtype,
  inputs: Record<string, Tensor>,
  scratch: string,
): Promise<OnnxSide> {
  // DiT-XL/2's graph is written with external data (2.7 GB): into the network's scratch directory, which goes with it.
  const buildGraph =
    network.architecture === 'dit'
      ? async (d: GraphDtype) => buildDiTOnnx(network.modelConfig, weights, { dtype: d, path: join(scratch, `dit-${d}.onnx`) })
      : undefined;
  const opened = await openEngine({ ...network, weights, buildGraph, engine: 'onnx', provider, dtype });
  const x = inputs.x;
  const t = inputs.t ?? inputs.timesteps;
  const y = inputs.y;
  const tensors = [
    tf.tensor4d(x.data as Float32Array, x.shape as [number, number, number, number]),
    tf.tensor1d(t.data as Float32Array),
    ...(y ? [tf.tensor1d(Int32Array.from(y.data as BigInt64Array, Number), 'int32')] : []),
  ] as const;
  return {
    async forward() {
      const out = await opened.engine.forward(tensors[0] as tf.Tensor4D, tensors[1] as tf.Tensor1D, tensors[2] as tf.Tensor1D | undefined);
      const data = (await out.data()) as Float32Array;
      out.dispose();
      return data;
    },
    provider: opened.engine.provider,
    precision: opened.precision,
    why: opened.why,
    dispose() {
      tf.dispose([...tensors]);
      opened.engine.dispose();
    },
  };
}

function networks(): TimedNetwork[] {
  const cifar = cifarSizeModel();
  const unetBatch = quick ? 4 : 32;
  const unetInputs: Record<string, Tensor> = {
    x: { shape: [unetBatch, 3, 32, 32], data: seedNormals(1, 0, unetBatch * 3 * 32 * 32) },
    timesteps: { shape: [unetBatch], data: timesteps(unetBatch) },
  };
  // Quick (the CPU rehearsal) runs small networks of the same kinds; the GPU run the full-size ones.
  const dit = quick ? parseDiTConfig({ input_size: 8, patch_size: 2, hidden_size: 64, depth: 2, num_heads: 4 }) : DIT_XL_2;
  const ditBatch = quick ? 2 : 8;
  const ditInputs: Record<string, Tensor> = {
    x: {
      shape: [ditBatch, dit.in_channels, dit.input_size, dit.input_size],
      data: seedNormals(2, 0, ditBatch * dit.in_channels * dit.input_size ** 2),
    },
    t: { shape: [ditBatch], data: timesteps(ditBatch) },
    y: { shape: [ditBatch], data: labels(ditBatch, dit.num_classes) },
  };
  const vae = quick
    ? {
        ...SD_VAE_CONFIG,
        block_out_channels: [32, 64],
        up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D'],
        layers_per_block: 1,
        norm_num_groups: 8,
      }
    : SD_VAE_CONFIG;
  const decoder: DecoderConfig = { ...parseDiffusersDecoderConfig(vae), keyLayout: 'diffusers' };
  const decodeBatch = quick ? 2 : 8;
  const latent = quick ? 8 : 32;
  const z = seedNormals(7, 0, decodeBatch * decoder.latentChannels * latent * latent);
  const side = decoderImageSize(decoder, latent);
  return [
    {
      name: 'adm_unet_cifar',
      twin: 'adm_unet',
      twinConfig: { ...CIFAR_SIZE },
      batch: unetBatch,
      summary: cifar.summary,
      weights: () => cifar.weights,
      inputs: unetInputs,
      open: (weights, dtype, scratch) => openDenoiser({ modelConfig: cifar.config }, weights, dtype, unetInputs, scratch),
    },
    {
      name: quick ? 'dit_small' : 'dit_xl_2',
      twin: 'dit',
      twinConfig: dit,
      batch: ditBatch,
      summary: `DiT ${JSON.stringify({ input_size: dit.input_size, patch_size: dit.patch_size, hidden_size: dit.hidden_size, depth: dit.depth, num_heads: dit.num_heads })}, ${(ditParameterCount(dit) / 1e6).toFixed(1)}M parameters`,
      weights: () => randomDiTWeights(dit, 0),
      inputs: ditInputs,
      open: (weights, dtype, scratch) => openDenoiser({ architecture: 'dit', modelConfig: dit }, weights, dtype, ditInputs, scratch),
    },
    {
      name: quick ? 'sd_decoder_small' : 'sd_decoder',
      twin: 'sd_decoder',
      twinConfig: vae,
      batch: decodeBatch,
      summary: `KL decoder ${JSON.stringify(vae.block_out_channels)}, ${decodeBatch}×${decoder.latentChannels}×${latent}×${latent} → ${side}×${side}×3`,
      weights: () => randomDecoderWeights(decoder, 2024),
      inputs: { z: { shape: [decodeBatch, decoder.latentChannels, latent, latent], data: z } },
      async open(_weights, dtype, scratch) {
        // The decoder opens from a directory, as a model's `decoder` names it; the twin reads the same file.
        const opened = await openDecoder(await readDecoderDirectory(join(scratch, 'decoder')), { provider, dtype, cache: false });
        return {
          forward: async () => (await opened.decodeImages(z, decodeBatch, latent, latent)).images,
          provider: opened.provider,
          precision: opened.precision,
          why: opened.description,
          dispose: () => opened.dispose(),
        };
      },
    },
  ];
}

/** float32 on both sides computes one function: the same weights and inputs agree this closely or the figures are not comparable. */
const FLOAT32_AGREEMENT = 1e-4;
/** Each figure times forwards for about this long after its warm-up, at most `repeat` of them. */
const SECONDS_PER_FIGURE = 15;
const WARMUP = 2;

async function timeNetwork(net: TimedNetwork, repeatAtMost: number): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), `diffq-device-${net.name}-`));
  try {
    log(`timing ${net.name}: ${net.summary}, batch ${net.batch}, on ${provider}`);
    let weights: Map<string, StoredTensor> | undefined = net.weights();
    const weightsPath =
      net.twin === 'sd_decoder' ? join(scratch, 'decoder', 'diffusion_pytorch_model.safetensors') : join(scratch, 'weights.safetensors');
    mkdirSync(dirname(weightsPath), { recursive: true });
    // Generated weights are float32: written as they are, the PyTorch side reads the same numbers.
    // fs.promises.writeFile, since writeFileSync stops at 2 GiB and DiT-XL/2's file is 2.7 GB.
    await writeFile(
      weightsPath,
      writeSafetensors(Object.fromEntries([...weights].map(([k, t]) => [k, { shape: t.shape, data: t.data as Float32Array }]))),
    );
    writeFileSync(join(scratch, 'config.json'), JSON.stringify(net.twinConfig));
    if (net.twin === 'sd_decoder') writeFileSync(join(scratch, 'decoder', 'config.json'), JSON.stringify(net.twinConfig));
    writeFileSync(join(scratch, 'inputs.safetensors'), writeSafetensors(net.inputs));

    const outputs: { dtype: GraphDtype; provider: string; out: Float32Array; figure: Record<string, unknown> }[] = [];
    let repeat = repeatAtMost;
    for (const dtype of ['float32', 'float16'] as const) {
      const side = await net.open(weights, dtype, scratch);
      try {
        if (outputs.some((o) => o.provider === side.provider && o.figure.precision === side.precision)) {
          figure({ check: 'timing', network: net.name, runtime: 'onnxruntime-node', asked: dtype, skipped: `already timed: ${side.why}` });
          continue;
        }
        let warmMs = 0;
        let out: Float32Array | undefined;
        for (let i = 0; i < WARMUP; i++) {
          const t = performance.now();
          out = await side.forward();
          warmMs = performance.now() - t;
        }
        // A provider that fell back to the CPU would spend minutes at the GPU's repeat count: the time, not the count, is fixed.
        repeat = Math.max(1, Math.min(repeatAtMost, Math.floor((SECONDS_PER_FIGURE * 1000) / warmMs)));
        const times: number[] = [];
        for (let i = 0; i < repeat; i++) {
          const t = performance.now();
          out = await side.forward();
          times.push(performance.now() - t);
        }
        const medianMs = median(times);
        const record = {
          check: 'timing',
          network: net.name,
          runtime: 'onnxruntime-node',
          provider: side.provider,
          precision: side.precision,
          batch: net.batch,
          medianMs: Number(medianMs.toFixed(2)),
          imagesPerSecond: Number(((net.batch * 1000) / medianMs).toFixed(1)),
          repeat,
          timed: 'forward with inputs in from the host and the output back to it, as the worker runs it',
          why: side.why,
        };
        if (out) outputs.push({ dtype, provider: side.provider, out, figure: record });
      } finally {
        await side.dispose();
      }
    }
    weights = undefined;

    const torchOut = join(scratch, 'torch-output.safetensors');
    const torch = await runProgram(values.python ?? 'python3', [
      join(repo, 'bench', 'device', 'torch_networks.py'),
      ...['--network', net.twin, '--label', net.name, '--config', join(scratch, 'config.json'), '--weights', weightsPath],
      ...['--inputs', join(scratch, 'inputs.safetensors'), '--output', torchOut, '--repeat', String(repeat)],
    ]);
    const reference = existsSync(torchOut)
      ? (readSafetensors(new Uint8Array(readFileSync(torchOut))).tensors.get('out')?.data as Float32Array)
      : undefined;
    // diffq's figures carry their distance from PyTorch's float32 output: both sides shown to compute the same function.
    for (const o of outputs) {
      if (reference) {
        const rel = relativeL2(o.out, reference);
        o.figure.relL2VsPyTorchFloat32 = Number(rel.toExponential(3));
        if (o.figure.precision === 'float32') o.figure.agreesWithPyTorch = rel <= FLOAT32_AGREEMENT;
      }
      figure(o.figure);
    }
    for (const line of torch.out.split('\n')) if (line.startsWith('{')) process.stdout.write(`${line}\n`);
    if (torch.code !== 0) figure({ check: 'timing', network: net.name, runtime: 'pytorch', error: torch.err.trim().split('\n').at(-1) });
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
      // One worker, holding the GPU, as a GPU node runs one worker per device.
      [
        join(bin, 'diffq.mjs'),
        'demo',
        '--model',
        join(repo, 'models', 'mnist'),
        '--seeds',
        seeds,
        '--steps',
        steps,
        '--engine',
        'onnx',
        '--workers',
        '1',
      ],
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
figure({
  check: 'environment',
  node: process.version,
  onnxruntime: ort.env.versions?.node,
  provider,
  quick,
  budgetSeconds: budget,
  ...vulkanAndGpu(),
});
const started = performance.now();
const timed = networks();
const wanted = values.networks ? values.networks.split(',') : timed.map((n) => n.name);
for (const name of wanted)
  if (!timed.some((n) => n.name === name)) throw new Error(`--networks names "${name}"; accepted: ${timed.map((n) => n.name).join(', ')}`);
const timing = (net: TimedNetwork): [string, string, () => Promise<void>] => [
  'timing',
  `timing ${net.name}`,
  () => timeNetwork(net, quick ? 3 : 20),
];
const chosen = timed.filter((n) => wanted.includes(n.name));
// The full-size DiT comes last: with the end-to-end run before it, a budget that runs out loses the one costliest figure.
const steps: [string, string, () => Promise<void>][] = [
  ['golden', 'golden', golden],
  ...chosen.filter((n) => n.twin !== 'dit').map(timing),
  ['e2e', 'e2e', endToEnd],
  ...chosen.filter((n) => n.twin === 'dit').map(timing),
];
for (const [kind, name, step] of steps) {
  if (skip.has(kind)) continue;
  const elapsed = (performance.now() - started) / 1000;
  if (elapsed > budget) {
    figure({ check: kind, step: name, skipped: `the check's budget of ${budget} s is spent (${elapsed.toFixed(0)} s)` });
    continue;
  }
  const t = performance.now();
  try {
    await step();
  } catch (e) {
    figure({ check: kind, step: name, error: (e as Error).message.split('\n')[0] });
  }
  log(`${name} took ${((performance.now() - t) / 1000).toFixed(1)} s`);
}
figure({ check: 'done', seconds: Number(((performance.now() - started) / 1000).toFixed(1)) });
