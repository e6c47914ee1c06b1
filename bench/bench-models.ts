/**
 * Model directories the fleet benchmarks sample: the CIFAR-size ADM of cifar-config.ts written out
 * as a model directory (random weights), and the repository's trained models/mnist.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { randomModelJson } from '../test/fixtures/random-model.ts';
import { weightsFile } from '../test/fixtures/small-networks.ts';
import { CIFAR_SIZE, cifarSizeModel } from './cifar-config.ts';

export const MNIST_MODEL = resolve(import.meta.dirname, '..', 'models', 'mnist');

/** Writes the CIFAR-size ADM (unconditional, linear schedule, T = 1000) into dir; returns dir. */
export async function writeCifarSizeModel(dir: string): Promise<string> {
  const { weights } = cifarSizeModel();
  const base = randomModelJson();
  const json = { ...base, model: { ...base.model, ...CIFAR_SIZE, num_heads: 4, in_channels: 3 } };
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'weights.safetensors'), weightsFile(weights));
  await writeFile(join(dir, 'model.json'), `${JSON.stringify(json, null, 2)}\n`);
  return dir;
}
