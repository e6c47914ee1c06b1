/**
 * What every sampler shares, in the shape of k-diffusion's sampling.py: a sampler is one function of
 * (denoiser, x_T, time grid, noise source, guidance) that owns its loop and whatever state it carries
 * between steps (DPM-Solver++ and UniPC keep a history of x̂_0). runSampling supplies the pieces
 * around that loop: validated labels and guidance bound into a Denoiser, x_T from the noise source,
 * and the disposal of every held tensor whether the loop finishes or throws. Nothing here knows
 * about queues, files or backends.
 */
import type * as tf from '@tensorflow/tfjs';
import type { NoiseSource } from '../rng/noise-source.ts';
import type { DiffusionProcess } from '../schedule/diffusion-process.ts';
import { Denoiser, type DenoiserOptions } from './denoiser.ts';
import { LiveTensors } from './live-tensors.ts';

export interface SampleOptions extends DenoiserOptions {
  /** The process to run backwards: DDPM/DDIM step through its (spaced) timesteps; the ODE solvers read its base betas. */
  process: DiffusionProcess;
  /** x_T and, for the stochastic samplers, the per-step draws. */
  noise: NoiseSource;
  /**
   * Clamp every x̂_0 to the data range [−1, 1] (guided-diffusion's clip_denoised; the solvers' x̂_0
   * correction, after their dynamic thresholding): on for pixel models, off for latent ones.
   */
  clipDenoised: boolean;
  /** Called after every step, e.g. for progress; the tensors it is given are disposed when it returns. */
  onStep?: (step: StepReport) => void | Promise<void>;
}

export interface StepReport {
  /** Loop step, 0 … steps−1. */
  i: number;
  /** Number of loop steps (an ODE solver's denoise-to-zero step counts as one). */
  steps: number;
  /** DDPM/DDIM: the spaced timestep of the step, S−1−i; ODE solvers: the continuous time reached. */
  t: number;
  /** The network time of the evaluation whose x̂_0 the step used. */
  modelTimestep: number;
  /** The x produced by the step, [N, C, H, W]. */
  x: tf.Tensor4D;
  /** The step's newest x̂_0, [N, C, H, W]. */
  predXstart: tf.Tensor4D;
}

/** What a sampler's loop is given by runSampling. */
export interface SamplingScope {
  denoiser: Denoiser;
  /** Hold every tensor that crosses an await here; xT is already held. */
  live: LiveTensors;
  /** x_T [N, C, H, W], the one draw a deterministic sampler makes. */
  xT: tf.Tensor4D;
}

/**
 * Validates the options, draws x_T and runs `loop`; resolves to the tensor the loop returns, which the
 * caller owns. Everything else the loop held is disposed, also when it throws.
 */
export async function runSampling(o: SampleOptions, loop: (scope: SamplingScope) => Promise<tf.Tensor4D>): Promise<tf.Tensor4D> {
  const denoiser = new Denoiser(o);
  const live = new LiveTensors();
  try {
    const xT = live.hold(o.noise.initial(o.shape));
    return live.disown(await loop({ denoiser, live, xT }));
  } finally {
    live.disposeAll();
    denoiser.dispose();
  }
}
