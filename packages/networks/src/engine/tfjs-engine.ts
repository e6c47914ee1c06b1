/**
 * The DenoiserEngine over a UNetModel on TensorFlow.js (whatever backend initBackend loaded).
 */

import type { DenoiserEngine } from '@diffq/diffusion';
import * as tf from '@tensorflow/tfjs';
import { type UNet, unetForward } from '../adm/unet.ts';

export class TfjsEngine implements DenoiserEngine {
  readonly name = 'tfjs';
  readonly description: string;
  readonly provider: string;
  #unet: UNet | undefined;

  /** Takes ownership of `unet`: dispose() frees its parameters. */
  constructor(unet: UNet) {
    this.#unet = unet;
    this.provider = tf.getBackend();
    this.description = `tfjs ${this.provider}`;
  }

  get unet(): UNet {
    if (!this.#unet) throw new Error('TfjsEngine: used after dispose()');
    return this.#unet;
  }

  /** One UNet forward in the PyTorch layout; intermediates are freed, the output is the caller's. */
  async forward(x: tf.Tensor4D, timesteps: tf.Tensor1D, y?: tf.Tensor1D): Promise<tf.Tensor4D> {
    const unet = this.unet;
    return tf.tidy(() => unetForward(unet, x, timesteps, y));
  }

  dispose(): void {
    this.#unet?.dispose();
    this.#unet = undefined;
  }
}
