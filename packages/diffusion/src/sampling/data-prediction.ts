/**
 * The ODE solvers' view of the network (the official `model_wrapper` with model_type "noise", then
 * the data prediction of DPM-Solver++ / UniPC): ε at a continuous time t of the VP schedule, and
 * x̂_0 = (x − σ(t)·ε)/α(t).
 */
import * as tf from '@tensorflow/tfjs';
import type { DiffusionProcess } from '../schedule/diffusion-process.ts';
import { marginalAlpha, marginalStd, type NoiseScheduleVP } from '../solvers/noise-schedule-vp.ts';
import type { Denoiser } from './denoiser.ts';
import { correctX0, type X0Correction } from './x0-correction.ts';

export interface DataPrediction {
  /** x̂_0 [N, C, H, W] (thresholded and clipped as asked); the caller owns it. */
  x0: tf.Tensor4D;
  /** What the network received. */
  modelTimestep: number;
}

/**
 * The network time of continuous time t: t_in = (t − 1/totalN)·scale, so keypoint i (training step i)
 * gets i·1000/totalN. The official code takes scale = 1000 for every discrete model; a network that
 * was not trained on 1000 steps and does not rescale its timesteps receives raw step indices, so it
 * gets its own step count instead (identical for the usual 1000-step models).
 */
export function solverModelTimestep(p: DiffusionProcess, schedule: NoiseScheduleVP, t: number): number {
  const scale = p.rescaleTimesteps ? 1000 : p.originalNumSteps;
  return Math.fround((t - 1 / schedule.totalN) * scale);
}

/**
 * x̂_0(x, t) [N, C, H, W] from one evaluation at x: ε = the first C output channels (the variance
 * channels of a learned-sigma network are dropped) − σ(t)·∇ under classifier guidance, then
 * x̂_0 = (x − σ(t)·ε)/α(t), then corrected (correctX0: dynamic thresholding, clipping to [−1, 1]) as
 * `correction` asks.
 */
export async function predictData(
  denoiser: Denoiser,
  p: DiffusionProcess,
  schedule: NoiseScheduleVP,
  x: tf.Tensor4D,
  t: number,
  correction: X0Correction,
): Promise<DataPrediction> {
  if (p.modelMeanType !== 'EPSILON') {
    throw new Error(`the ODE solvers drive ε-prediction networks; this one predicts ${p.modelMeanType} (use --sampler ddpm or ddim)`);
  }
  const modelTimestep = solverModelTimestep(p, schedule, t);
  const { output, grad } = await denoiser.evaluate(x, modelTimestep);
  try {
    const x0 = tf.tidy(() => {
      const [n, c, h, w] = x.shape;
      const alpha = marginalAlpha(schedule, t);
      const sigma = marginalStd(schedule, t);
      let eps = tf.slice(output, [0, 0, 0, 0], [n, c, h, w]);
      if (grad) eps = tf.sub(eps, tf.mul(sigma, grad));
      const x0 = tf.div(tf.sub(x, tf.mul(sigma, eps)), alpha) as tf.Tensor4D;
      return correctX0(x0, correction);
    });
    return { x0, modelTimestep };
  } finally {
    tf.dispose([output, ...(grad ? [grad] : [])]);
  }
}
