/**
 * A denoiser that sleeps as long as a forward pass of its batch would take and returns zeros: the
 * worker around it (queue, sampling loop, npz, store) runs for real, while the "network" costs no
 * CPU, so dozens of workers fit on two cores (bench/scale.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { DenoiserEngine } from '@diffq/diffusion';
import type { DenoiserDirectory } from '@diffq/networks';
import * as tf from '@tensorflow/tfjs';

export class SleepingDenoiser implements DenoiserEngine {
  readonly name = 'sleep';
  readonly description: string;
  /** No backend computes anything: the sleep stands in for whatever would. */
  readonly provider = 'none';

  constructor(
    private readonly directory: DenoiserDirectory,
    /** Sleep per sample of the batch, ms. */
    private readonly msPerSample: number,
  ) {
    this.description = `sleeps ${msPerSample} ms per sample`;
  }

  async forward(x: tf.Tensor4D): Promise<tf.Tensor4D> {
    const [n, , h, w] = x.shape;
    await sleep(n * this.msPerSample);
    return tf.zeros([n, this.directory.unet.outChannels, h, w]);
  }

  dispose(): void {}
}
