/** The DenoiserEngine over a DiT on TensorFlow.js (whatever backend initBackend loaded). */

import type { DenoiserEngine } from '@diffq/diffusion';
import * as tf from '@tensorflow/tfjs';
import { type DiT, ditForward } from '../dit/dit.ts';

export class TfjsDiTEngine implements DenoiserEngine {
  readonly name = 'tfjs';
  readonly description: string;
  readonly provider: string;
  #dit: DiT | undefined;

  /** Takes ownership of `dit`: dispose() frees its parameters. */
  constructor(dit: DiT) {
    this.#dit = dit;
    this.provider = tf.getBackend();
    this.description = `tfjs ${this.provider}`;
  }

  /** One DiT forward in the PyTorch layout; a DiT always takes labels (the null label for "no class"). */
  async forward(x: tf.Tensor4D, timesteps: tf.Tensor1D, y?: tf.Tensor1D): Promise<tf.Tensor4D> {
    const dit = this.#dit;
    if (!dit) throw new Error('TfjsDiTEngine: used after dispose()');
    if (!y) throw new Error(`DiT: the model needs labels y (${dit.config.num_classes} classes)`);
    return tf.tidy(() => ditForward(dit, x, timesteps, y));
  }

  dispose(): void {
    this.#dit?.dispose();
    this.#dit = undefined;
  }
}
