/**
 * Full-size DiT-XL/2 forward (input 32, patch 2, hidden 1152, depth 28, 16 heads, 4 channels, learned
 * sigma, 1000 classes; 675M parameters) with generated weights, on diffq's onnx engine and on an
 * equivalent PyTorch model (bench/python/dit_reference.py on Debian's torch, /usr/bin/python3) loading
 * the same weights from a safetensors file, timed one after the other in the same run with the same
 * number of threads. The two outputs must agree (relative L2 ≤ 1e-4) or the bench fails.
 *
 * Options: `--dit-batch <n>` (default 8), `--dit-repeat <n>` timed forwards after one warm-up (default
 * 3; `--quick` 1), `--threads <n>` (default all cores). Needs ~6 GB of memory: run it under
 * `flock /tmp/diffq-heavy.lock` on a shared machine.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '@diffq/diffusion';
import { type DiTConfig, ditParameterCount, randomDiTWeights, readSafetensors, writeSafetensors } from '@diffq/networks';
import { buildDiTOnnx, median, OnnxEngine } from '@diffq/onnx';
import * as tf from '@tensorflow/tfjs';
import { PYTHON } from '../test/fixtures/reference-python.ts';
import { relativeL2, weightsFile } from '../test/fixtures/small-networks.ts';
import { DIT_XL_2 } from './latent-configs.ts';
import { loadLine, numberOption } from './options.ts';

export interface BenchDiTOptions {
  /** The network; default DiT-XL/2 (tests give a small one). */
  config?: DiTConfig;
  /** Its name in the result line; default `dit-xl/2`. */
  name?: string;
  batch?: number;
  /** Timed forwards per engine, after one warm-up forward. */
  repeat?: number;
  threads?: number;
  /** Receives the lines besides the result: agreement, memory, load. Default console.log. */
  log?: (line: string) => void;
}

const SCRIPT = join(import.meta.dirname, 'python', 'dit_reference.py');

interface TorchResult {
  median_ms: number;
  times_ms: number[];
  max_rss_mb: number;
  threads: number;
  torch: string;
}

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;

/**
 * Times the DiT forward on diffq's onnx engine and on PyTorch; returns
 * `latent: <name> batch <B>: diffq <ms> ms, PyTorch <ms> ms, <r>× PyTorch` (r > 1: diffq is faster).
 */
export async function benchDiT(options: BenchDiTOptions = {}): Promise<string> {
  const config = options.config ?? DIT_XL_2;
  const name = options.name ?? 'dit-xl/2';
  const batch = options.batch ?? numberOption('dit-batch', 8);
  const repeat = options.repeat ?? numberOption('dit-repeat', 3, 1);
  const threads = options.threads ?? numberOption('threads', availableParallelism());
  const log = options.log ?? console.log;
  await initBackend();
  const dir = await mkdtemp(join(tmpdir(), 'diffq-bench-dit-'));
  try {
    const size = config.input_size;
    const x = tf.tidy(() => tf.randomNormal([batch, config.in_channels, size, size], 0, 1, 'float32', 7).dataSync() as Float32Array);
    const t = Float32Array.from({ length: batch }, (_, i) => (i * 997) % 1000);
    const y = BigInt64Array.from({ length: batch }, (_, i) => BigInt((i * 37) % config.num_classes));
    await writeFile(
      join(dir, 'inputs.safetensors'),
      writeSafetensors({
        x: { shape: [batch, config.in_channels, size, size], data: x },
        t: { shape: [batch], data: t },
        y: { shape: [batch], data: y },
      }),
    );
    await writeFile(join(dir, 'config.json'), JSON.stringify(config));

    // The weights exist once at a time where it can be helped: written for PyTorch, built into the graph's
    // external data file, then dropped before onnxruntime reads them back.
    let graph: Uint8Array | string;
    {
      const weights = randomDiTWeights(config, 0);
      await writeFile(join(dir, 'weights.safetensors'), weightsFile(weights));
      graph = buildDiTOnnx(config, weights, { path: join(dir, 'dit.onnx') });
    }

    const engine = await OnnxEngine.create(graph, { threads });
    let diffqTimes: number[];
    let diffqOut: Float32Array;
    let rssAfterOnnx: number;
    const inputs = [
      tf.tensor4d(x, [batch, config.in_channels, size, size]),
      tf.tensor1d(t),
      tf.tensor1d(Int32Array.from(y, Number), 'int32'),
    ] as const;
    try {
      const once = async () => {
        const start = performance.now();
        const out = await engine.forward(...inputs);
        const data = (await out.data()) as Float32Array;
        out.dispose();
        return { ms: performance.now() - start, data };
      };
      await once();
      diffqTimes = [];
      let last: Float32Array | undefined;
      for (let i = 0; i < repeat; i++) {
        const r = await once();
        diffqTimes.push(r.ms);
        last = r.data;
      }
      if (!last) throw new Error(`--dit-repeat must be ≥ 1`);
      diffqOut = last;
      rssAfterOnnx = process.memoryUsage().rss;
    } finally {
      tf.dispose([...inputs]);
      engine.dispose();
    }

    const run = spawnSync(PYTHON, [SCRIPT, dir, join(dir, 'config.json'), String(threads), '1', String(repeat)], {
      encoding: 'utf8',
      maxBuffer: 1 << 24,
    });
    if (run.status !== 0)
      throw new Error(
        `PyTorch reference failed (${PYTHON} ${SCRIPT}): ${(run.stderr || run.error?.message || '').trim().split('\n').slice(-3).join(' | ')}`,
      );
    const torch = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as TorchResult;
    const torchOut = readSafetensors(new Uint8Array(await readFile(join(dir, 'torch_output.safetensors')))).tensors.get('out')
      ?.data as Float32Array;
    const err = relativeL2(diffqOut, torchOut);
    if (!(err <= 1e-4)) throw new Error(`diffq and PyTorch disagree: relative L2 ${err.toExponential(2)} > 1e-4`);

    const diffqMs = median(diffqTimes);
    const params = (ditParameterCount(config) / 1e6).toFixed(0);
    log(
      `latent: ${name} (${params}M parameters) batch ${batch}, ${threads} threads, ${repeat} timed forwards each after 1 warm-up; ${loadLine()}`,
    );
    log(
      `latent: ${name} diffq ${diffqTimes.map((v) => v.toFixed(0)).join(', ')} ms; PyTorch ${torch.torch} ${torch.times_ms.map((v) => v.toFixed(0)).join(', ')} ms`,
    );
    log(`latent: ${name} agreement: relative L2 ${err.toExponential(2)} between diffq and PyTorch`);
    log(
      `latent: ${name} memory: diffq process peak RSS ${mb(process.resourceUsage().maxRSS * 1024)} (weights generated, written and built into the graph), ${mb(rssAfterOnnx)} while running; PyTorch process peak RSS ${torch.max_rss_mb.toFixed(0)} MB`,
    );
    return `latent: ${name} batch ${batch}: diffq ${diffqMs.toFixed(0)} ms, PyTorch ${torch.median_ms.toFixed(0)} ms, ${(torch.median_ms / diffqMs).toFixed(2)}× PyTorch`;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
