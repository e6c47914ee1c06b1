/**
 * What a training step draws: a minibatch of images with their labels, timesteps, class dropout and
 * noise, all host-side arrays derived from (seed, step) alone (random-streams.ts). The images are
 * read in epochs, each a fresh permutation of the data set, as a shuffled DataLoader reads them.
 */
import { epochPermutation, stepNormals, UNIFORM_PURPOSE, uniforms } from './random-streams.ts';

/** A labelled image data set in memory: 8-bit pixels, PyTorch layout. */
export interface ImageDataset {
  /** [count, C, H, W] bytes 0 … 255. */
  pixels: Uint8Array;
  /** [count] class indices, for a class-conditional model. */
  labels?: Int32Array;
  /** [C, H, W] of one image. */
  imageShape: [number, number, number];
  count: number;
}

/** A pixel byte k in model space: k/127.5 − 1 ∈ [−1, 1] (guided-diffusion's image_datasets.py). */
export function pixelToModel(k: number): number {
  return k / 127.5 - 1;
}

export interface BatchDraw {
  /** Which images, [B] indices into the data set. */
  indices: Int32Array;
  /** x_0, [B, C, H, W] in [−1, 1]. */
  xStart: Float32Array;
  /** Timesteps uniform on 0 … T−1 (UniformSampler), [B]. */
  t: Int32Array;
  /** Labels given to the network, [B]: the image's class, or the null label with probability classDropout. */
  y?: Int32Array;
  noise: Float32Array;
  perturbNoise: Float32Array;
}

export interface BatchSettings {
  seed: number;
  batchSize: number;
  numTimesteps: number;
  /** Probability of replacing a label by nullLabel (classifier-free guidance training). */
  classDropout: number;
  nullLabel: number | null;
}

/** Checks a data set's arrays agree with its shape; errors name the field. */
export function checkDataset(data: ImageDataset): void {
  const [c, h, w] = data.imageShape;
  if (data.count < 1) throw new Error(`training data: count is ${data.count}; accepted: at least 1 image`);
  if (data.pixels.length !== data.count * c * h * w) {
    throw new Error(
      `training data: pixels has ${data.pixels.length} bytes; ${data.count} images of [${data.imageShape}] need ${data.count * c * h * w}`,
    );
  }
  if (data.labels && data.labels.length !== data.count) {
    throw new Error(`training data: labels has ${data.labels.length} entries for ${data.count} images`);
  }
}

/** Indices of the images the minibatch of `step` reads: positions step·B … step·B + B − 1 of the concatenated epochs. */
export class EpochOrder {
  readonly #perms = new Map<number, Int32Array>();

  constructor(
    readonly seed: number,
    readonly count: number,
  ) {}

  #permutation(epoch: number): Int32Array {
    let perm = this.#perms.get(epoch);
    if (!perm) {
      perm = epochPermutation(this.seed, epoch, this.count);
      // Two epochs are enough: a minibatch straddles at most the current one and the next.
      for (const e of this.#perms.keys()) if (e < epoch - 1) this.#perms.delete(e);
      this.#perms.set(epoch, perm);
    }
    return perm;
  }

  indices(step: number, batchSize: number): Int32Array {
    const out = new Int32Array(batchSize);
    for (let i = 0; i < batchSize; i++) {
      const position = step * batchSize + i;
      out[i] = this.#permutation(Math.floor(position / this.count))[position % this.count];
    }
    return out;
  }
}

/** Everything step `step` feeds the loss. */
export function drawBatch(data: ImageDataset, order: EpochOrder, s: BatchSettings, step: number): BatchDraw {
  const [c, h, w] = data.imageShape;
  const size = c * h * w;
  const b = s.batchSize;
  const indices = order.indices(step, b);
  const xStart = new Float32Array(b * size);
  for (let i = 0; i < b; i++) {
    const from = indices[i] * size;
    for (let e = 0; e < size; e++) xStart[i * size + e] = pixelToModel(data.pixels[from + e]);
  }
  const u = uniforms(s.seed, step, UNIFORM_PURPOSE.step, 2 * b);
  const t = Int32Array.from({ length: b }, (_, i) => Math.min(s.numTimesteps - 1, Math.floor(u[i] * s.numTimesteps)));
  let y: Int32Array | undefined;
  if (data.labels) {
    const labels = data.labels;
    y = Int32Array.from(indices, (idx, i) => (s.nullLabel !== null && u[b + i] < s.classDropout ? s.nullLabel : labels[idx]));
  }
  return { indices, xStart, t, y, ...stepNormals(s.seed, step, b * size) };
}
