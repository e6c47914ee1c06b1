/**
 * For a GPU node: samples per second of the CIFAR-size ADM and of guided-diffusion's ImageNet-64
 * ADM (its 64×64 flags, random weights) on onnxruntime's CUDA provider, with float32 and float16
 * graphs, at batch 1 to 256 (until the GPU runs out of memory), and of a whole run (launch → worker
 * on cuda → npz → report) of the CIFAR-size model. It refuses to run, exiting non-zero with the
 * reason, when the CUDA provider does not load: a CPU fallback would print CPU figures as GPU ones.
 * Only run by name: `npm run bench -- gpu` (a GPU install: docs/deployment.md).
 *
 * Options: --models cifar,imagenet64  --max-batch 256  --rounds 5  --run-samples 1024  --run-steps 100
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { initBackend } from '@diffq/diffusion';
import { parseUNetConfig, randomUNetWeights, type UNetArgs, type UNetConfig } from '@diffq/networks';
import { buildUNetOnnx, type GraphDtype, median, OnnxEngine, timedForward, WARMUP_FORWARDS } from '@diffq/onnx';
import { startWorker } from '@diffq/worker';
import { Redis } from 'ioredis';
import { launchRun } from '../apps/producer/src/launch.ts';
import { Producer } from '../apps/producer/src/producer.ts';
import { randomModelJson } from '../test/fixtures/random-model.ts';
import { writeCifarSizeModel } from './bench-models.ts';
import { benchRedisUrl } from './bench-redis.ts';
import { CIFAR_SIZE } from './cifar-config.ts';
import { numberOption, stringOption } from './options.ts';

/** guided-diffusion's 64×64 ImageNet model flags (its README, "64x64 model"). */
export const IMAGENET_64: UNetArgs = {
  image_size: 64,
  num_channels: 192,
  num_res_blocks: 3,
  channel_mult: '1,2,3,4',
  attention_resolutions: '32,16,8',
  num_head_channels: 64,
  use_scale_shift_norm: true,
  resblock_updown: true,
  use_new_attention_order: true,
  learn_sigma: true,
  class_cond: true,
  num_classes: 1000,
};

/** Thrown when the CUDA provider does not load; the bench exits non-zero with this message. */
export class CudaUnavailable extends Error {
  override readonly name = 'CudaUnavailable';
}

/** Opens `graph` on the CUDA provider, or throws CudaUnavailable with onnxruntime's reason. */
export async function openOnCuda(graph: Uint8Array): Promise<OnnxEngine> {
  const engine = await OnnxEngine.create(graph, { provider: 'cuda' });
  if (engine.provider !== 'cuda') {
    engine.dispose();
    throw new CudaUnavailable(
      `gpu: the CUDA execution provider did not load (${engine.providerFallback ?? 'no reason given'}); this bench measures GPUs only and does not fall back to the CPU. Run it on a GPU node installed for CUDA (docs/deployment.md).`,
    );
  }
  return engine;
}

/** A small graph to find out whether CUDA loads before building the large ones. */
async function assertCuda(): Promise<void> {
  const config = parseUNetConfig(randomModelJson().model);
  (await openOnCuda(buildUNetOnnx(config, randomUNetWeights(config, 0)))).dispose();
}

async function batchSweep(name: string, config: UNetConfig, maxBatch: number, rounds: number): Promise<number> {
  const weights = randomUNetWeights(config, 0);
  let best = { batch: 1, perSecond: 0 };
  for (const dtype of ['float32', 'float16'] as GraphDtype[]) {
    const engine = await openOnCuda(buildUNetOnnx(config, weights, { dtype }));
    try {
      const row: string[] = [];
      for (let batch = 1; batch <= maxBatch; batch *= 2) {
        const forward = timedForward(engine, config, batch);
        try {
          for (let i = 0; i < WARMUP_FORWARDS; i++) await forward.once();
          const times: number[] = [];
          for (let r = 0; r < rounds; r++) times.push(await forward.once());
          const perSecond = batch / (median(times) / 1000);
          if (dtype === 'float32' && perSecond > best.perSecond) best = { batch, perSecond };
          row.push(`${batch}: ${perSecond.toFixed(0)}`);
        } catch (error) {
          row.push(`${batch}: failed (${(error as Error).message.split('\n')[0].slice(0, 80)})`);
          break;
        } finally {
          forward.dispose();
        }
      }
      console.log(`gpu: ${name} ${dtype}: forwards per second × batch (samples·steps/s) by batch: ${row.join(', ')}`);
    } finally {
      engine.dispose();
    }
  }
  return best.batch;
}

async function wholeRun(dir: string, batch: number, samples: number, steps: number): Promise<void> {
  const model = await writeCifarSizeModel(join(dir, 'cifar-size'));
  const redisUrl = benchRedisUrl('pipeline');
  const redis = new Redis(redisUrl);
  await redis.flushdb();
  try {
    for (const dtype of ['float32', 'float16'] as GraphDtype[]) {
      const prefix = `bench-gpu-${dtype}`;
      process.env.DIFFQ_ONNX_DTYPE = dtype;
      const worker = await startWorker({
        redis: { url: redisUrl },
        prefix,
        model,
        engine: 'onnx',
        provider: 'cuda',
        batchSize: batch,
        log: () => {},
      });
      const store = join(dir, `runs-${dtype}`);
      const producer = new Producer({ redis: { url: redisUrl }, prefix, store: `file://${store}` });
      try {
        if (!worker.model.why.includes('cuda') || worker.model.why.includes('fallback'))
          throw new CudaUnavailable(`gpu: the worker did not open the CUDA provider: ${worker.model.why}`);
        const start = performance.now();
        await launchRun(producer, {
          model,
          seeds: `0-${samples - 1}`,
          runId: `gpu-${dtype}`,
          steps,
          shardSize: batch,
          store: `file://${store}`,
        });
        while (!existsSync(join(store, `gpu-${dtype}`, 'report.json'))) await sleep(20);
        const seconds = (performance.now() - start) / 1000;
        console.log(
          `gpu: whole run, CIFAR-size ${dtype}, ${samples} samples × ${steps} steps at batch ${batch}: ${(samples / seconds).toFixed(1)} samples/s (${seconds.toFixed(1)} s launch to report)`,
        );
      } finally {
        await producer.close();
        await worker.close('now');
      }
    }
  } finally {
    delete process.env.DIFFQ_ONNX_DTYPE;
    await redis.flushdb();
    redis.disconnect();
  }
}

export async function benchGpu(): Promise<void> {
  await initBackend();
  await assertCuda();
  const maxBatch = numberOption('max-batch', 256);
  const rounds = numberOption('rounds', 5, 3);
  const names = stringOption('models', 'cifar,imagenet64').split(',');
  const dir = mkdtempSync(join(tmpdir(), 'diffq-bench-gpu-'));
  try {
    let cifarBatch = 64;
    if (names.includes('cifar')) cifarBatch = await batchSweep('CIFAR-size ADM', parseUNetConfig(CIFAR_SIZE), maxBatch, rounds);
    if (names.includes('imagenet64'))
      await batchSweep('ImageNet-64 ADM (guided-diffusion 64×64)', parseUNetConfig(IMAGENET_64), maxBatch, rounds);
    await wholeRun(dir, cifarBatch, numberOption('run-samples', 1024, 256), numberOption('run-steps', 100, 20));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
