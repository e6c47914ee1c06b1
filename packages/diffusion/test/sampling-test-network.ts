/**
 * A tiny test network and noise source for the sampler tests: deterministic tf computations of
 * (x, t, y), each sample depending only on itself, like a real denoiser. Not a mock: the samplers
 * really run on it.
 */
import * as tf from '@tensorflow/tfjs';
import type { DenoiserEngine } from '../src/engine/engine.ts';
import type { NoiseSource, Shape4 } from '../src/rng/noise-source.ts';
import { parseDiffusionConfig } from '../src/schedule/diffusion-config.ts';
import { createProcess, type DiffusionProcess } from '../src/schedule/diffusion-process.ts';

export interface ForwardCall {
  batch: number;
  timesteps: number[];
  labels?: number[];
}

/** ε = tanh(0.8·x + t/1000 + y/4), plus variance values sin(x + t/1000) when learnSigma. */
export class TestNetwork implements DenoiserEngine {
  readonly name = 'test';
  readonly description = 'deterministic test network';
  readonly provider = tf.getBackend();
  readonly calls: ForwardCall[] = [];

  constructor(readonly learnSigma: boolean) {}

  async forward(x: tf.Tensor4D, timesteps: tf.Tensor1D, y?: tf.Tensor1D): Promise<tf.Tensor4D> {
    this.calls.push({ batch: x.shape[0], timesteps: Array.from(timesteps.dataSync()), labels: y ? Array.from(y.dataSync()) : undefined });
    return tf.tidy(() => {
      const n = x.shape[0];
      const tt = tf.div(tf.reshape(timesteps, [n, 1, 1, 1]), 1000);
      const yy = y ? tf.mul(tf.reshape(tf.cast(y, 'float32'), [n, 1, 1, 1]), 0.25) : tf.zeros([n, 1, 1, 1]);
      const eps = tf.tanh(tf.add(tf.add(tf.mul(x, 0.8), tt), yy)) as tf.Tensor4D;
      return this.learnSigma ? (tf.concat([eps, tf.sin(tf.add(x, tt))], 1) as tf.Tensor4D) : eps;
    });
  }

  dispose(): void {}
}

/** Seeded normal draws that records what was asked for: x_T is seed `seed`, step i is seed `seed + 1 + i`. */
export class RecordingNoise implements NoiseSource {
  readonly requests: string[] = [];

  constructor(readonly seed: number) {}

  initial(shape: Shape4): tf.Tensor4D {
    this.requests.push('initial');
    return tf.randomNormal(shape, 0, 1, 'float32', this.seed);
  }

  step(i: number, shape: Shape4): tf.Tensor4D {
    this.requests.push(`step ${i}`);
    return tf.randomNormal(shape, 0, 1, 'float32', this.seed + 1 + i);
  }
}

/** A short cosine process of 1000 base steps, respaced. */
export function testProcess(over: Record<string, unknown> = {}): DiffusionProcess {
  return createProcess(parseDiffusionConfig({ steps: 1000, noise_schedule: 'cosine', timestep_respacing: '8', ...over }));
}
