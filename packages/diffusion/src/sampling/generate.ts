/**
 * One micro-batch from noise to x_0 (runSampler) or to 8-bit images (generate) with the chosen
 * sampler and guidance. The caller supplies the engine, the per-seed NoiseSource and the labels; the
 * worker takes x_0 from runSampler, because a latent model's x_0 goes to its decoder, not to uint8.
 * Nothing here knows about jobs or storage.
 */
import type * as tf from '@tensorflow/tfjs';
import type { SkipType } from '../solvers/time-grid.ts';
import { sampleDdim } from './ddim.ts';
import { sampleDdpm } from './ddpm.ts';
import { sampleDpmSolverPP } from './dpm-solver-pp.ts';
import type { DynamicThreshold } from './dynamic-threshold.ts';
import type { SampleOptions } from './loop.ts';
import { toUint8Nhwc } from './to-uint8.ts';
import { sampleUniPC, type UniPCVariant } from './unipc.ts';

export type SamplerSettings =
  /** Ancestral sampling over every step of the process. */
  | { kind: 'ddpm'; clipDenoised: boolean }
  /** DDIM with stochasticity eta (0 = deterministic). */
  | { kind: 'ddim'; eta: number; clipDenoised: boolean }
  /** DPM-Solver++ multistep of `order` over `steps` steps of the VP ODE, x̂_0 corrected as OdeSolverSettings say. */
  | ({ kind: 'dpm-solver++' } & OdeSolverSettings)
  /** UniPC multistep, B(h) variant bh1 or bh2. */
  | ({ kind: 'unipc'; variant: UniPCVariant } & OdeSolverSettings);

export interface OdeSolverSettings {
  order: number;
  steps: number;
  skipType: SkipType;
  denoiseToZero: boolean;
  /** Clamp every x̂_0 to [−1, 1] (after the thresholding, when both are asked: correctX0). */
  clipDenoised: boolean;
  dynamicThreshold?: DynamicThreshold;
}

export interface GenerateOptions extends Omit<SampleOptions, 'clipDenoised'> {
  sampler: SamplerSettings;
  /** Also return the float samples (NCHW, model space). */
  keepFloat?: boolean;
}

export interface Generated {
  /** uint8 images [N, H, W, C], C order. */
  images: Uint8Array;
  /** [N, H, W, C]. */
  imageShape: [number, number, number, number];
  /** The final x_0 [N, C, H, W] in model space, when keepFloat. */
  samples?: Float32Array;
}

/** Runs the sampler of `sampler` (which also says whether to clip x̂_0) and returns x_0 [N, C, H, W] (the caller owns it). */
export function runSampler(options: Omit<SampleOptions, 'clipDenoised'>, sampler: SamplerSettings): Promise<tf.Tensor4D> {
  switch (sampler.kind) {
    case 'ddpm':
      return sampleDdpm({ ...options, clipDenoised: sampler.clipDenoised });
    case 'ddim':
      return sampleDdim({ ...options, clipDenoised: sampler.clipDenoised, eta: sampler.eta });
    case 'dpm-solver++':
      return sampleDpmSolverPP({ ...options, ...sampler });
    case 'unipc':
      return sampleUniPC({ ...options, ...sampler });
  }
}

/** Samples options.shape from the noise source and converts them as image_sample.py does (toUint8Nhwc). */
export async function generate(options: GenerateOptions): Promise<Generated> {
  const { sampler, keepFloat, ...rest } = options;
  const sample = await runSampler(rest, sampler);
  let samples: Float32Array;
  try {
    samples = (await sample.data()) as Float32Array;
  } finally {
    sample.dispose();
  }
  const [n, c, h, w] = options.shape;
  return { images: toUint8Nhwc(samples, options.shape), imageShape: [n, h, w, c], ...(keepFloat ? { samples } : {}) };
}
