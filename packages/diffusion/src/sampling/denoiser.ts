/**
 * The network with its labels and guidance bound: what every sampler calls once per evaluation.
 * Classifier-free guidance is folded into the output (guidedOutput); classifier guidance is returned
 * as the gradient beside it, because each sampler applies it in its own way (DDPM shifts the mean,
 * DDIM and the ODE solvers shift ε).
 */
import * as tf from '@tensorflow/tfjs';
import type { DenoiserEngine } from '../engine/engine.ts';
import type { Shape4 } from '../rng/noise-source.ts';
import { type Guidance, NO_GUIDANCE } from './guidance.ts';
import { guidedOutput } from './guided-output.ts';

export interface DenoiserOptions {
  /** The denoiser network. */
  engine: DenoiserEngine;
  /** [N, C, H, W] of the samples. */
  shape: Shape4;
  /** Class labels [N] given to a class-conditional network; leave undefined for an unconditional one. */
  labels?: Int32Array;
  guidance?: Guidance;
}

export interface Evaluation {
  /** The (classifier-free guided) network output [N, outC, H, W]. */
  output: tf.Tensor4D;
  /** Classifier guidance: ∇_x log p(y | x_t) · scale [N, C, H, W], else undefined. */
  grad?: tf.Tensor4D;
}

function checkOptions(o: DenoiserOptions, guidance: Guidance): void {
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

export class Denoiser {
  readonly guidance: Guidance;
  readonly #engine: DenoiserEngine;
  readonly #labels?: tf.Tensor1D;
  readonly #classLabels?: tf.Tensor1D;

  /** Validates labels against the batch and the guidance; throws before any tensor exists. */
  constructor(o: DenoiserOptions) {
    this.guidance = o.guidance ?? NO_GUIDANCE;
    checkOptions(o, this.guidance);
    this.#engine = o.engine;
    this.#labels = o.labels ? tf.tensor1d(o.labels, 'int32') : undefined;
    this.#classLabels = this.guidance.type === 'classifier' ? tf.tensor1d(this.guidance.labels, 'int32') : undefined;
  }

  /**
   * One evaluation at x [N, C, H, W], every sample receiving the network time `modelTimestep` (the
   * value the network sees, possibly fractional). The caller owns the returned tensors.
   */
  async evaluate(x: tf.Tensor4D, modelTimestep: number): Promise<Evaluation> {
    const timesteps = tf.fill([x.shape[0]], modelTimestep, 'float32') as tf.Tensor1D;
    try {
      const output = await guidedOutput(this.#engine, x, timesteps, this.#labels, this.guidance);
      if (this.guidance.type !== 'classifier' || !this.#classLabels) return { output };
      try {
        return { output, grad: await this.guidance.condFn(x, timesteps, this.#classLabels) };
      } catch (e) {
        output.dispose();
        throw e;
      }
    } finally {
      timesteps.dispose();
    }
  }

  dispose(): void {
    this.#labels?.dispose();
    this.#classLabels?.dispose();
  }
}
