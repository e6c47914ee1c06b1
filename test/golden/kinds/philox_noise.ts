/**
 * philox_noise: per-seed Philox words, noise and `random` labels (docs/design.md#one-seed-one-image), straight from the
 * seeds; noise is [S, N, *sample_shape], labels [K, N].
 */
import { labelsFor, philox4x32, seedBatchNormals, seedKey } from '@diffq/diffusion';
import type { KindRunner } from '../case.ts';

export const run: KindRunner = async (c) => {
  const seeds = Array.from(c.tensor('seeds').data, Number);
  const streams = Array.from(c.tensor('streams').data, Number);
  const classCounts = Array.from(c.tensor('num_classes').data, Number);
  const [ch, h, w] = c.json.sample_shape as [number, number, number];

  const raw = new BigInt64Array(seeds.length * 4);
  const words = new Uint32Array(4);
  seeds.forEach((seed, n) => {
    const [k0, k1] = seedKey(seed);
    philox4x32(0, 0, 0, 0, k0, k1, words);
    for (let j = 0; j < 4; j++) raw[n * 4 + j] = BigInt(words[j]);
  });

  const perStream = seeds.length * ch * h * w;
  const noise = new Float32Array(streams.length * perStream);
  streams.forEach((stream, s) => {
    noise.set(seedBatchNormals(seeds, stream, [seeds.length, ch, h, w]), s * perStream);
  });

  const labels = new BigInt64Array(classCounts.length * seeds.length);
  classCounts.forEach((k, i) => {
    labelsFor({ kind: 'random' }, seeds, k).forEach((label, n) => {
      labels[i * seeds.length + n] = BigInt(label);
    });
  });
  return { raw_block0_stream0: raw, noise, labels };
};
