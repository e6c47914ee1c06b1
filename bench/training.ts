/**
 * `npm run bench -- training [--steps 6] [--batch 16] [--threads 1]`: training steps of the shipped
 * MNIST UNet's architecture on tfjs, one thread against data-parallel threads (the minibatch split
 * between the main thread and `--threads` gradient threads), steps alternated so both see the same
 * load. Prints ms per step of each and `training speed-up: <ratio>`.
 */
import { describeBackend, initBackend } from '@diffq/diffusion';
import {
  DiffusionTrainer,
  type ImageDataset,
  MNIST_DIFFUSION,
  MNIST_NULL_LABEL,
  MNIST_UNET,
  type ModelSpec,
  TRAIN_DEFAULTS,
} from '@diffq/trainer';
import { ThreadGradientPool } from '../apps/trainer/src/gradient-pool.ts';
import { loadLine, numberOption } from './options.ts';

export async function benchTraining(): Promise<void> {
  const steps = numberOption('steps', 6, 2);
  const batchSize = numberOption('batch', 16);
  const threads = numberOption('threads', 1);
  console.log(`training: ${describeBackend(await initBackend())}; MNIST UNet, batch ${batchSize}, ${steps} steps each, ${loadLine()}`);
  const count = 256;
  // Pixels do not change the cost of a step: bytes that vary are enough.
  const data: ImageDataset = {
    pixels: Uint8Array.from({ length: count * 784 }, (_, i) => (i * 2654435761) >>> 24),
    labels: Int32Array.from({ length: count }, (_, i) => i % 10),
    imageShape: [1, 28, 28],
    count,
  };
  const spec: ModelSpec = { model: { ...MNIST_UNET }, diffusion: { ...MNIST_DIFFUSION }, nullLabel: MNIST_NULL_LABEL };
  const settings = { ...TRAIN_DEFAULTS, batchSize, gradClip: TRAIN_DEFAULTS.gradClip };
  const single = DiffusionTrainer.create(spec, data, settings);
  const parallel = DiffusionTrainer.create(spec, data, settings);
  const pool = await ThreadGradientPool.start(threads, { model: spec.model, diffusion: spec.diffusion, imageShape: data.imageShape });
  try {
    // Warm-up: the first step of each compiles kernels and sizes buffers.
    single.trainStep();
    await parallel.trainStepParallel(pool);
    let singleMs = 0;
    let parallelMs = 0;
    for (let i = 0; i < steps; i++) {
      let t = performance.now();
      single.trainStep();
      singleMs += performance.now() - t;
      t = performance.now();
      await parallel.trainStepParallel(pool);
      parallelMs += performance.now() - t;
    }
    const a = singleMs / steps;
    const b = parallelMs / steps;
    console.log(`training: one thread        ${a.toFixed(0).padStart(6)} ms/step  ${((batchSize * 1000) / a).toFixed(1)} img/s`);
    console.log(
      `training: ${1 + threads} threads (data-parallel) ${b.toFixed(0).padStart(6)} ms/step  ${((batchSize * 1000) / b).toFixed(1)} img/s`,
    );
    console.log(`training speed-up: ${(a / b).toFixed(2)}`);
  } finally {
    await pool.close();
    single.dispose();
    parallel.dispose();
  }
}
