/**
 * The reverse-process loop shared by the samplers: from x_T, for loop step i = 0 … S−1 at t = S−1−i,
 * evaluate the network (with guidance) on x_t, draw step i's noise (always, also at t = 0 and when it
 * is multiplied by 0), and let the sampler's update produce x_{t−1}. Nothing here knows about queues,
 * files or backends: the network, the noise and the process are arguments.
 */
import * as tf from '@tensorflow/tfjs';
import type { DenoiserEngine } from '../engine/engine.ts';
import { batchTimesteps } from '../process/extract.ts';
import { type PMeanVariance, pMeanVariance } from '../process/p-mean-variance.ts';
import type { NoiseSource, Shape4 } from '../rng/noise-source.ts';
import { type DiffusionProcess, modelTimesteps } from '../schedule/diffusion-process.ts';
import { type Guidance, NO_GUIDANCE } from './guidance.ts';
import { guidedOutput } from './guided-output.ts';

export interface SampleOptions {
  /** The denoiser network. */
  engine: DenoiserEngine;
  /** The (spaced) process to run backwards. */
  process: DiffusionProcess;
  /** x_T and the per-step draws. */
  noise: NoiseSource;
  /** [N, C, H, W] of the samples. */
  shape: Shape4;
  /** Class labels [N] given to a class-conditional network; leave undefined for an unconditional one. */
  labels?: Int32Array;
  guidance?: Guidance;
  /** Clamp x̂_0 to [−1, 1] at every step. */
  clipDenoised: boolean;
  /** Called after every step, e.g. for progress; the tensors it is given are disposed when it returns. */
  onStep?: (step: StepReport) => void | Promise<void>;
}

export interface StepReport {
  /** Loop step, 0 … S−1. */
  i: number;
  /** Spaced timestep of the step, S−1−i. */
  t: number;
  /** Number of loop steps S. */
  steps: number;
  /** The timestep value the network received. */
  modelTimestep: number;
  /** x_{t−1} produced by the step, [N, C, H, W]. */
  x: tf.Tensor4D;
  /** The step's x̂_0, [N, C, H, W]. */
  predXstart: tf.Tensor4D;
}

/** What a sampler's update sees at one step; all tensors [N, C, H, W] except where noted. */
export interface StepInput {
  process: DiffusionProcess;
  x: tf.Tensor4D;
  /** The step's spaced timestep, one per sample. */
  t: number[];
  /** p_θ(x_{t−1} | x_t) from the (classifier-free guided) network output. */
  out: PMeanVariance;
  /** Classifier guidance: ∇_x log p(y | x_t) · scale, else undefined. */
  grad?: tf.Tensor4D;
  /** This step's draw. */
  noise: tf.Tensor4D;
}

/** One sampler step: x_{t−1} and the x̂_0 to report. Runs inside tf.tidy; must not dispose its inputs. */
export type SamplerUpdate = (step: StepInput) => { xNext: tf.Tensor4D; predXstart: tf.Tensor4D };

function checkOptions(o: SampleOptions, guidance: Guidance): void {
  const n = o.shape[0];
  if (o.labels && o.labels.length !== n) throw new Error(`labels has ${o.labels.length} entries; the batch has ${n} samples`);
  if (guidance.type === 'classifier_free') {
    if (!o.labels) throw new Error('classifier-free guidance needs labels (the class of every sample)');
    const bad = o.labels.find((y) => !(y >= 0 && y < guidance.nullLabel));
    if (bad !== undefined) throw new Error(`label ${bad} is not a class below the null label ${guidance.nullLabel}`);
  }
  if (guidance.type === 'classifier' && guidance.labels.length !== n) {
    throw new Error(`classifier guidance labels has ${guidance.labels.length} entries; the batch has ${n} samples`);
  }
}

/** Runs the loop with `update` as the per-step rule; resolves to the final x_0 sample [N, C, H, W] (the caller owns it). */
export async function sampleLoop(o: SampleOptions, update: SamplerUpdate): Promise<tf.Tensor4D> {
  const guidance = o.guidance ?? NO_GUIDANCE;
  checkOptions(o, guidance);
  const p = o.process;
  const S = p.numTimesteps;
  const n = o.shape[0];
  // x_T first: a noise source that refuses the shape then throws before the labels exist.
  let x = o.noise.initial(o.shape);
  const labels = o.labels ? tf.tensor1d(o.labels, 'int32') : undefined;
  const classLabels = guidance.type === 'classifier' ? tf.tensor1d(guidance.labels, 'int32') : undefined;
  try {
    for (let i = 0; i < S; i++) {
      const t = batchTimesteps(S - 1 - i, n);
      const mapped = modelTimesteps(p, t);
      const timesteps = tf.tensor1d(mapped, 'float32');
      const owned: tf.Tensor[] = [timesteps];
      try {
        const modelOutput = await guidedOutput(o.engine, x, timesteps, labels, guidance);
        owned.push(modelOutput);
        const out = pMeanVariance(p, modelOutput, x, t, { clipDenoised: o.clipDenoised });
        owned.push(out.mean, out.variance, out.logVariance, out.predXstart);
        const grad = classLabels && guidance.type === 'classifier' ? await guidance.condFn(x, timesteps, classLabels) : undefined;
        if (grad) owned.push(grad);
        const noise = o.noise.step(i, o.shape);
        owned.push(noise);
        const { xNext, predXstart } = tf.tidy(() => update({ process: p, x, t, out, grad, noise }));
        owned.push(predXstart, x);
        x = xNext;
        await o.onStep?.({ i, t: t[0], steps: S, modelTimestep: mapped[0], x, predXstart });
      } finally {
        tf.dispose(owned);
      }
    }
    return x;
  } catch (e) {
    x.dispose();
    throw e;
  } finally {
    tf.dispose([labels, classLabels].filter((v): v is tf.Tensor1D => v !== undefined));
  }
}
