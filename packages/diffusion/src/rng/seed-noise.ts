/**
 * The production NoiseSource: sample n of a batch draws only from seeds[n]'s own Philox streams
 * (docs/design.md#one-seed-one-image), x_T from stream 0 and loop step i from stream i + 1, so a seed's noise is the same
 * whatever batch, worker or order it is drawn in.
 */
import * as tf from '@tensorflow/tfjs';
import type { NoiseSource, Shape4 } from './noise-source.ts';
import { fillNormals } from './normals.ts';
import { checkSeed } from './philox.ts';

/**
 * The [N, C, H, W] float32 normals of one stream for a list of seeds (N = seeds.length): row n is
 * normals 0 … C·H·W−1 of (seeds[n], stream), in C order.
 */
export function seedBatchNormals(seeds: readonly number[], stream: number, shape: Shape4): Float32Array {
  const [n, c, h, w] = shape;
  if (n !== seeds.length) {
    throw new RangeError(`noise shape [${shape}] asks for ${n} samples but the batch has ${seeds.length} seeds`);
  }
  const perSample = c * h * w;
  const out = new Float32Array(n * perSample);
  for (let i = 0; i < n; i++) fillNormals(seeds[i], stream, out, i * perSample, perSample);
  return out;
}

export class SeedNoiseSource implements NoiseSource {
  readonly seeds: readonly number[];

  constructor(seeds: readonly number[]) {
    seeds.forEach(checkSeed);
    this.seeds = [...seeds];
  }

  initial(shape: Shape4): tf.Tensor4D {
    return tf.tensor4d(seedBatchNormals(this.seeds, 0, shape), shape);
  }

  step(i: number, shape: Shape4): tf.Tensor4D {
    if (!Number.isInteger(i) || i < 0) throw new RangeError(`loop step is ${i}; accepted: an integer ≥ 0`);
    return tf.tensor4d(seedBatchNormals(this.seeds, i + 1, shape), shape);
  }
}
