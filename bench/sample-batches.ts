/**
 * The benches' way of sampling many seeds of one model: micro-batches of `batch` seeds, each seed's
 * noise from its own seed, every image written into one uint8 NHWC array (what the shards store).
 */
import { type DenoiserEngine, type DiffusionProcess, generate, type SamplerSettings, SeedNoiseSource } from '@diffq/diffusion';

export interface BatchSampling {
  engine: DenoiserEngine;
  process: DiffusionProcess;
  seeds: readonly number[];
  labels: Int32Array;
  /** [H, W, C] of one image. */
  image: readonly [number, number, number];
  batch: number;
  guidance: { w: number; nullLabel: number };
  sampler: SamplerSettings;
}

/** Resolves to the images [seeds, H, W, C] and the seconds sampling took. */
export async function sampleInBatches(o: BatchSampling): Promise<{ images: Uint8Array; seconds: number }> {
  const [h, w, c] = o.image;
  const images = new Uint8Array(o.seeds.length * h * w * c);
  const started = performance.now();
  for (let start = 0; start < o.seeds.length; start += o.batch) {
    const batchSeeds = o.seeds.slice(start, start + o.batch);
    const generated = await generate({
      engine: o.engine,
      process: o.process,
      noise: new SeedNoiseSource([...batchSeeds]),
      shape: [batchSeeds.length, c, h, w],
      labels: o.labels.subarray(start, start + batchSeeds.length),
      guidance: { type: 'classifier_free', w: o.guidance.w, nullLabel: o.guidance.nullLabel },
      sampler: o.sampler,
    });
    images.set(generated.images, start * h * w * c);
  }
  return { images, seconds: (performance.now() - started) / 1000 };
}
