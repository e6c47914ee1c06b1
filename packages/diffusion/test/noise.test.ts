import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { blockNormals, fillNormals, LABEL_STREAM, StreamError, seedNormals } from '../src/rng/normals.ts';
import { philox4x32, seedKey, wordToUniform } from '../src/rng/philox.ts';
import { SeedNoiseSource, seedBatchNormals } from '../src/rng/seed-noise.ts';

describe('per-seed normals', () => {
  it('computes each block by Box–Muller on the Philox words at counter (block, stream, 0, 0)', () => {
    const [k0, k1] = seedKey(123456789);
    const [a, b, c, d] = philox4x32(5, 17, 0, 0, k0, k1);
    const r1 = Math.sqrt(-2 * Math.log(wordToUniform(a)));
    const r2 = Math.sqrt(-2 * Math.log(wordToUniform(c)));
    const expected = [
      r1 * Math.cos(2 * Math.PI * wordToUniform(b)),
      r1 * Math.sin(2 * Math.PI * wordToUniform(b)),
      r2 * Math.cos(2 * Math.PI * wordToUniform(d)),
      r2 * Math.sin(2 * Math.PI * wordToUniform(d)),
    ];
    assert.deepEqual(Array.from(blockNormals(123456789, 17, 5)), expected);
    assert.deepEqual(Array.from(seedNormals(123456789, 17, 24).subarray(20, 24)), Array.from(Float32Array.from(expected)));
  });

  it('gives normal e from block floor(e / 4), also for a count that is not a multiple of 4', () => {
    const full = seedNormals(42, 3, 40);
    const partial = seedNormals(42, 3, 37);
    assert.deepEqual(Array.from(partial), Array.from(full.subarray(0, 37)));
  });

  it('fills a slice of a larger array without touching the rest', () => {
    const out = new Float32Array(20).fill(9);
    fillNormals(42, 3, out, 5, 10);
    assert.deepEqual(Array.from(out.subarray(5, 15)), Array.from(seedNormals(42, 3, 10)));
    assert.ok(out.subarray(0, 5).every((v) => v === 9) && out.subarray(15).every((v) => v === 9));
  });

  it('gives different numbers for different seeds and streams', () => {
    const base = seedNormals(1, 0, 8);
    assert.notDeepEqual(Array.from(seedNormals(2, 0, 8)), Array.from(base));
    assert.notDeepEqual(Array.from(seedNormals(1, 1, 8)), Array.from(base));
    assert.notDeepEqual(Array.from(seedNormals(1 + 2 ** 32, 0, 8)), Array.from(base));
  });

  it('looks standard normal: mean ≈ 0, variance ≈ 1, 2.3% beyond +2', () => {
    const x = seedNormals(2024, 1, 1 << 18);
    let sum = 0;
    let sq = 0;
    let tail = 0;
    for (const v of x) {
      sum += v;
      sq += v * v;
      if (v > 2) tail++;
    }
    const mean = sum / x.length;
    // Bounds are about 5 standard errors wide.
    assert.ok(Math.abs(mean) < 0.01, `mean ${mean}`);
    assert.ok(Math.abs(sq / x.length - mean ** 2 - 1) < 0.015, `variance ${sq / x.length}`);
    assert.ok(Math.abs(tail / x.length - 0.02275) < 0.0015, `tail ${tail / x.length}`);
  });

  it('rejects the label stream and negative streams', () => {
    assert.throws(() => seedNormals(0, LABEL_STREAM, 4), StreamError);
    assert.throws(() => seedNormals(0, -1, 4), /noise stream is -1/);
  });
});

describe('SeedNoiseSource', () => {
  const shape = (n: number): [number, number, number, number] => [n, 3, 5, 7];

  it('gives a seed the same noise whatever the batch it is drawn in', async () => {
    const all = [0, 1, 2, 3, 4, 5, 6, 2 ** 40 + 3];
    const whole = new SeedNoiseSource(all);
    const x = await whole.initial(shape(all.length)).data();
    const s = await whole.step(9, shape(all.length)).data();
    const perSample = 3 * 5 * 7;
    for (const batch of [[3], [6, 0, 2 ** 40 + 3], [5, 4, 1, 2]]) {
      const part = new SeedNoiseSource(batch);
      const px = await part.initial(shape(batch.length)).data();
      const ps = await part.step(9, shape(batch.length)).data();
      batch.forEach((seed, n) => {
        const at = all.indexOf(seed) * perSample;
        assert.deepEqual(Array.from(px.subarray(n * perSample, (n + 1) * perSample)), Array.from(x.subarray(at, at + perSample)));
        assert.deepEqual(Array.from(ps.subarray(n * perSample, (n + 1) * perSample)), Array.from(s.subarray(at, at + perSample)));
      });
    }
  });

  it('draws x_T from stream 0 and loop step i from stream i + 1, in C,H,W order', async () => {
    const source = new SeedNoiseSource([11, 12]);
    const xT = source.initial(shape(2));
    const step4 = source.step(4, shape(2));
    assert.deepEqual(xT.shape, shape(2));
    assert.deepEqual(Array.from(await xT.data()), Array.from(seedBatchNormals([11, 12], 0, shape(2))));
    assert.deepEqual(Array.from((await step4.data()).subarray(105)), Array.from(seedNormals(12, 5, 105)));
    tf.dispose([xT, step4]);
  });

  it('refuses a shape whose batch differs from its seed list', () => {
    assert.throws(() => new SeedNoiseSource([1, 2]).initial(shape(3)), /3 samples but the batch has 2 seeds/);
  });

  it('refuses invalid seeds up front', () => {
    assert.throws(() => new SeedNoiseSource([1, -2]), /seed is -2/);
  });
});
