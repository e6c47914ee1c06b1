/**
 * DDPM-IP's training objective (Ning et al. 2023, input perturbation) on guided-diffusion's
 * training_losses: the network sees x_t built from perturbed noise but is asked for the unperturbed noise.
 */
import * as tf from '@tensorflow/tfjs';
import type { DenoiserEngine } from '../engine/engine.ts';
import type { Timesteps } from '../process/extract.ts';
import { qSample } from '../process/forward.ts';
import { splitModelOutput } from '../process/p-mean-variance.ts';
import { type DiffusionProcess, modelTimesteps } from '../schedule/diffusion-process.ts';
import { stopGradient } from './stop-gradient.ts';
import { meanFlat, vbTermsBpd } from './vb-terms.ts';

/**
 * A synchronous network call (e.g. the tfjs UNet's forward), so tf.grad / tf.variableGrads can
 * differentiate through it. Same tensors as DenoiserEngine.forward.
 */
export type DenoiseFn = (x: tf.Tensor4D, timesteps: tf.Tensor1D, y?: tf.Tensor1D) => tf.Tensor4D;

export interface TrainingBatch {
  /** x_0, [N, C, H, W] in [−1, 1]. */
  xStart: tf.Tensor4D;
  /** Spaced timesteps, one per sample. */
  t: Timesteps;
  /** ε, [N, C, H, W]: the first draw, and the regression target for EPSILON. */
  noise: tf.Tensor4D;
  /** ξ, [N, C, H, W]: the second draw, the input perturbation (drawn even when γ = 0). */
  perturbNoise: tf.Tensor4D;
  /** Labels [N] int32 for a class-conditional network. */
  y?: tf.Tensor1D;
}

export interface TrainingLosses {
  /** The perturbed x_t the network saw, [N, C, H, W]. */
  xT: tf.Tensor4D;
  /** The network output on x_t, [N, C or 2C, H, W]. */
  modelOutput: tf.Tensor4D;
  /** mean_CHW (target − mean part)², [N] (MSE loss types). */
  mse?: tf.Tensor1D;
  /** L_t in bits with the mean part held constant, [N] (learned variance under MSE loss types). */
  vb?: tf.Tensor1D;
  /** What training minimises per sample, [N]. */
  loss: tf.Tensor1D;
}

/** x_t = √ᾱ_t·x_0 + √(1 − ᾱ_t)·(ε + γ·ξ), DDPM-IP's perturbed input (γ = p.inputPerturbation). */
export function perturbedXt(
  p: DiffusionProcess,
  xStart: tf.Tensor4D,
  t: Timesteps,
  noise: tf.Tensor4D,
  perturbNoise: tf.Tensor4D,
): tf.Tensor4D {
  return tf.tidy(() => qSample(p, xStart, t, tf.add(noise, tf.mul(p.inputPerturbation, perturbNoise))));
}

/**
 * The loss terms from a network output at x_t:
 * - MSE / RESCALED_MSE: mse = mean_CHW (target − mean part)², target = ε (unperturbed) for EPSILON, x_0 for START_X;
 *   with a learned variance, vb = vbTermsBpd with the mean part stop-gradient'ed, ×S/1000 for RESCALED_MSE;
 *   loss = mse (+ vb).
 * - RESCALED_KL: loss = vbTermsBpd(full output) × S.
 */
export function lossTerms(
  p: DiffusionProcess,
  batch: Pick<TrainingBatch, 'xStart' | 't' | 'noise'>,
  xT: tf.Tensor4D,
  modelOutput: tf.Tensor4D,
): Pick<TrainingLosses, 'mse' | 'vb' | 'loss'> {
  return tf.tidy(() => {
    const { xStart, t, noise } = batch;
    if (p.lossType === 'RESCALED_KL') {
      return { loss: tf.mul(vbTermsBpd(p, xStart, xT, t, modelOutput), p.numTimesteps) as tf.Tensor1D };
    }
    const { meanPart, varValues } = splitModelOutput(p, modelOutput, xStart.shape[1]);
    const target = p.modelMeanType === 'EPSILON' ? noise : xStart;
    const mse = meanFlat(tf.square(tf.sub(target, meanPart)));
    if (!varValues) return { mse, loss: mse.clone() };
    const frozen = tf.concat([stopGradient(meanPart), varValues], 1) as tf.Tensor4D;
    let vb = vbTermsBpd(p, xStart, xT, t, frozen);
    if (p.lossType === 'RESCALED_MSE') vb = tf.mul(vb, p.numTimesteps / 1000);
    return { mse, vb, loss: tf.add(mse, vb) };
  });
}

function timestepsTensor(p: DiffusionProcess, t: Timesteps): tf.Tensor1D {
  return tf.tensor1d(modelTimesteps(p, t), 'float32');
}

/**
 * training_losses with a synchronous network: differentiable end to end, e.g.
 * `tf.variableGrads(() => tf.mean(trainingLosses(p, f, batch).loss))`. Returned tensors belong to the caller.
 */
export function trainingLosses(p: DiffusionProcess, denoise: DenoiseFn, batch: TrainingBatch): TrainingLosses {
  return tf.tidy(() => {
    const xT = perturbedXt(p, batch.xStart, batch.t, batch.noise, batch.perturbNoise);
    const modelOutput = denoise(xT, timestepsTensor(p, batch.t), batch.y);
    return { xT, modelOutput, ...lossTerms(p, batch, xT, modelOutput) };
  });
}

/** training_losses evaluated through any engine (tfjs or onnx); not differentiable. Returned tensors belong to the caller. */
export async function engineTrainingLosses(p: DiffusionProcess, engine: DenoiserEngine, batch: TrainingBatch): Promise<TrainingLosses> {
  const xT = perturbedXt(p, batch.xStart, batch.t, batch.noise, batch.perturbNoise);
  const timesteps = timestepsTensor(p, batch.t);
  let modelOutput: tf.Tensor4D | undefined;
  try {
    modelOutput = await engine.forward(xT, timesteps, batch.y);
    return { xT, modelOutput, ...lossTerms(p, batch, xT, modelOutput) };
  } catch (e) {
    // e.g. an output whose channel count does not match the process: lossTerms throws after the forward.
    tf.dispose([xT, modelOutput].filter((v): v is tf.Tensor4D => v !== undefined));
    throw e;
  } finally {
    timesteps.dispose();
  }
}
