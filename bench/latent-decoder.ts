/**
 * The full-size Stable Diffusion KL decoder (sd-vae-ft-ema's config: block_out_channels
 * 128,256,512,512, layers_per_block 2, 4 latent channels, 32 groups) with generated weights,
 * decoding batch 2 of 32×32×4 latents to 256×256×3 images: diffq's onnx graph against the same
 * decoder in plain PyTorch (bench/python/sd_decoder.py on Debian's torch, /usr/bin/python3), loading
 * the same weights file, on the same number of threads, timed in one run; their images must agree.
 * Also prints diffq's peak RSS while decoding (RSS sampled every 10 ms during the timed decodes).
 *
 * Heavy (~1 GB, minutes on 2 cores): run it under the machine-wide lock,
 * `flock /tmp/diffq-heavy.lock npm run bench -- latent`. Options: --decoder-runs N (default 3).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { seedNormals } from '@diffq/diffusion';
import {
  type DecoderConfig,
  decoderImageSize,
  parseDiffusersDecoderConfig,
  randomDecoderWeights,
  readDecoderDirectory,
} from '@diffq/networks';
import { openDecoder } from '@diffq/onnx';
import { PYTHON } from '../test/fixtures/reference-python.ts';
import { weightsFile } from '../test/fixtures/small-networks.ts';
import { SD_VAE_CONFIG } from './latent-configs.ts';
import { loadLine, numberOption } from './options.ts';

const BATCH = 2;
const LATENT = 32;
const PYTHON_DECODER = join(import.meta.dirname, 'python', 'sd_decoder.py');

export interface BenchDecoderOptions {
  /** Timed decodes per side after one warm-up (default --decoder-runs, else 3). */
  runs?: number;
  /** Threads for both sides (default all cores). */
  threads?: number;
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

/** DiT sample_ddp.py's uint8 level of a float image value, in float32 as torch computes it. */
const level = (x: number) => Math.trunc(Math.min(255, Math.max(0, Math.fround(Math.fround(127.5 * x) + 128))));

/** ‖a − b‖/‖b‖ and the fraction of uint8 levels that differ. */
function agreement(ours: Float32Array, torch: Float32Array): { relL2: number; levels: number } {
  let diff = 0;
  let norm = 0;
  let levels = 0;
  for (let i = 0; i < torch.length; i++) {
    diff += (ours[i] - torch[i]) ** 2;
    norm += torch[i] ** 2;
    if (level(ours[i]) !== level(torch[i])) levels++;
  }
  return { relL2: Math.sqrt(diff / norm), levels: levels / torch.length };
}

/** Runs `work` while sampling the process's RSS; returns its result and the highest RSS seen. */
async function withPeakRss<T>(work: () => Promise<T>): Promise<{ result: T; peakMb: number }> {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 10);
  try {
    const result = await work();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { result, peakMb: peak / 2 ** 20 };
  } finally {
    clearInterval(timer);
  }
}

export async function benchDecoder(options: BenchDecoderOptions = {}): Promise<string> {
  const runs = options.runs ?? numberOption('decoder-runs', 3, 1);
  const threads = options.threads ?? availableParallelism();
  const config: DecoderConfig = { ...parseDiffusersDecoderConfig(SD_VAE_CONFIG), keyLayout: 'diffusers' };
  const dir = mkdtempSync(join(tmpdir(), 'diffq-bench-decoder-'));
  try {
    const weights = randomDecoderWeights(config, 2024);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(SD_VAE_CONFIG));
    writeFileSync(join(dir, 'diffusion_pytorch_model.safetensors'), weightsFile(weights));
    weights.clear();
    // Latents as a sampler leaves them: std ≈ 1 (≈ 5.5 after the division by the scaling factor).
    const z = seedNormals(7, 0, BATCH * config.latentChannels * LATENT * LATENT);
    const latentsFile = join(dir, 'latents.f32');
    writeFileSync(latentsFile, z);
    const side = decoderImageSize(config, LATENT);
    console.log(
      `latent: sd-decoder ${BATCH}×${config.latentChannels}×${LATENT}×${LATENT} → ${BATCH}×${side}×${side}×3, ${threads} threads; ${loadLine()}`,
    );

    const directory = await readDecoderDirectory(dir);
    const decoder = await openDecoder(directory, { threads, cache: false });
    let ours: Float32Array;
    let diffqMs: number[];
    let peakMb: number;
    try {
      const warmStart = performance.now();
      ours = (await decoder.decodeImages(z, BATCH, LATENT, LATENT)).images;
      const warmMs = performance.now() - warmStart;
      const timed = await withPeakRss(async () => {
        const ms: number[] = [];
        for (let i = 0; i < runs; i++) {
          const started = performance.now();
          await decoder.decode(z, BATCH, LATENT, LATENT);
          ms.push(performance.now() - started);
        }
        return ms;
      });
      diffqMs = timed.result;
      peakMb = timed.peakMb;
      console.log(
        `latent: sd-decoder diffq ${decoder.description}; first decode ${warmMs.toFixed(0)} ms, then ${diffqMs.map((m) => m.toFixed(0)).join(', ')} ms`,
      );
    } finally {
      await decoder.dispose();
    }

    const imagesFile = join(dir, 'torch-images.f32');
    const torchRun = spawnSync(
      PYTHON,
      [PYTHON_DECODER, dir, latentsFile, String(BATCH), String(LATENT), String(LATENT), String(runs), String(threads), imagesFile],
      { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: String(threads) } },
    );
    if (torchRun.status !== 0) {
      throw new Error(`the PyTorch decoder did not run: ${(torchRun.stderr || torchRun.error?.message || '').trim().split('\n').pop()}`);
    }
    const torch = JSON.parse(torchRun.stdout.trim().split('\n').pop() ?? '{}') as { ms: number[]; warm_ms: number; torch: string };
    const torchImages = new Float32Array(readFileSync(imagesFile).buffer.slice(0));
    const agree = agreement(ours, torchImages);
    console.log(
      `latent: sd-decoder PyTorch ${torch.torch} (plain NCHW module, bench/python/sd_decoder.py); first decode ${torch.warm_ms.toFixed(0)} ms, then ${torch.ms.map((m) => m.toFixed(0)).join(', ')} ms`,
    );
    console.log(
      `latent: sd-decoder agreement with PyTorch: images relative L2 ${agree.relL2.toExponential(2)}, uint8 levels differing ${(100 * agree.levels).toFixed(3)} %`,
    );
    console.log(`latent: sd-decoder diffq peak RSS while decoding batch ${BATCH}: ${peakMb.toFixed(0)} MB`);
    if (!(agree.relL2 < 1e-4)) throw new Error(`diffq's and PyTorch's images differ by ${agree.relL2} relative L2; they must agree`);
    const [d, p] = [mean(diffqMs), mean(torch.ms)];
    return `latent: sd-decoder batch ${BATCH}: diffq ${d.toFixed(0)} ms, PyTorch ${p.toFixed(0)} ms, ${(p / d).toFixed(2)}× PyTorch`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
