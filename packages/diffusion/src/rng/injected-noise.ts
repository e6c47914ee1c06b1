/**
 * A NoiseSource that replays given draws: x_T and one [N, C, H, W] draw per loop step, e.g. a golden
 * case's noise_T / noise_steps recorded from the reference's th.randn calls.
 */
import * as tf from '@tensorflow/tfjs';
import type { NoiseSource, Shape4 } from './noise-source.ts';

export class InjectedNoise implements NoiseSource {
  readonly #size: number;

  /**
   * noiseT: x_T, C order, `shape`; noiseSteps: [S, ...shape] in C order, draw i at offset i·|shape|.
   */
  constructor(
    readonly noiseT: Float32Array,
    readonly noiseSteps: Float32Array,
    readonly shape: Shape4,
  ) {
    this.#size = shape.reduce((a, b) => a * b, 1);
    if (noiseT.length !== this.#size) throw new Error(`injected x_T has ${noiseT.length} values; shape [${shape}] needs ${this.#size}`);
    if (noiseSteps.length % this.#size !== 0) {
      throw new Error(`injected step noise has ${noiseSteps.length} values, not a multiple of |[${shape}]| = ${this.#size}`);
    }
  }

  /** How many step draws are available. */
  get steps(): number {
    return this.noiseSteps.length / this.#size;
  }

  initial(shape: Shape4): tf.Tensor4D {
    this.#check(shape);
    return tf.tensor4d(this.noiseT, shape, 'float32');
  }

  step(i: number, shape: Shape4): tf.Tensor4D {
    this.#check(shape);
    if (!Number.isInteger(i) || i < 0 || i >= this.steps)
      throw new Error(`injected noise has draws for steps 0 … ${this.steps - 1}; step ${i} was asked for`);
    return tf.tensor4d(this.noiseSteps.subarray(i * this.#size, (i + 1) * this.#size), shape, 'float32');
  }

  #check(shape: Shape4): void {
    if (shape.some((d, k) => d !== this.shape[k])) throw new Error(`injected noise has shape [${this.shape}]; [${shape}] was asked for`);
  }
}
