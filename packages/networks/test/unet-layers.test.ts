import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { initBackend } from '@diffq/diffusion';
import * as tf from '@tensorflow/tfjs';
import { avgPool2x, groupNorm, timestepEmbedding, timestepFrequencies, upsampleNearest2x } from '../src/nn/layers.ts';

await initBackend();

const [N, H, W, C] = [2, 3, 4, 32];
const values = Float32Array.from({ length: N * H * W * C }, (_, i) => Math.sin(i * 0.37) * 3 + (i % 7));
const at = (n: number, h: number, w: number, c: number) => values[((n * H + h) * W + w) * C + c];

describe('UNet layers', () => {
  it('upsamples by repeating each pixel over a 2×2 block (nearest, as F.interpolate)', () => {
    const up = tf.tidy(() => upsampleNearest2x(tf.tensor4d(values, [N, H, W, C])).arraySync());
    for (let n = 0; n < N; n++)
      for (let h = 0; h < 2 * H; h++)
        for (let w = 0; w < 2 * W; w++) for (let c = 0; c < C; c++) assert.equal(up[n][h][w][c], at(n, h >> 1, w >> 1, c));
  });

  it('pools each 2×2 block to its mean', () => {
    const x = tf.tensor4d(values.slice(0, N * 2 * W * C), [N, 2, W, C]);
    const pooled = tf.tidy(() => avgPool2x(x).arraySync());
    const v = (n: number, h: number, w: number, c: number) => values[((n * 2 + h) * W + w) * C + c];
    for (let n = 0; n < N; n++)
      for (let w = 0; w < W / 2; w++)
        for (let c = 0; c < C; c++) {
          const mean = (v(n, 0, 2 * w, c) + v(n, 0, 2 * w + 1, c) + v(n, 1, 2 * w, c) + v(n, 1, 2 * w + 1, c)) / 4;
          assert.ok(Math.abs(pooled[n][0][w][c] - mean) < 1e-5);
        }
    x.dispose();
  });

  it('passes gradients through the resampling ops on this backend', () => {
    const g = tf.tidy(() => {
      const f = (x: tf.Tensor) => tf.sum(tf.square(avgPool2x(upsampleNearest2x(x as tf.Tensor4D))));
      return tf
        .grad(f)(tf.tensor4d(values, [N, H, W, C]))
        .arraySync() as number[][][][];
    });
    // up then pool is the identity, so the gradient of Σx² is 2x.
    assert.ok(Math.abs(g[1][2][3][4] - 2 * at(1, 2, 3, 4)) < 1e-4);
  });

  it('normalises each group of 32 over positions and its channels, then applies γ, β and the scale-shift', () => {
    const channels = 64;
    const x = Float32Array.from({ length: 2 * 5 * channels }, (_, i) => Math.cos(i * 1.3) * (1 + (i % 5)) + 0.5);
    const gamma = Float32Array.from({ length: channels }, (_, c) => 1 + c / 100);
    const beta = Float32Array.from({ length: channels }, (_, c) => c / 50 - 0.3);
    const scale = Float32Array.from({ length: 2 * channels }, (_, i) => Math.sin(i) / 2);
    const shift = Float32Array.from({ length: 2 * channels }, (_, i) => Math.cos(i) / 3);
    const out = tf.tidy(() =>
      groupNorm(tf.tensor3d(x, [2, 5, channels]), tf.tensor1d(gamma), tf.tensor1d(beta), {
        scale: tf.tensor2d(scale, [2, channels]),
        shift: tf.tensor2d(shift, [2, channels]),
      }).dataSync(),
    );
    const per = channels / 32;
    for (let n = 0; n < 2; n++)
      for (let g = 0; g < 32; g++) {
        const idx: number[] = [];
        for (let t = 0; t < 5; t++) for (let j = 0; j < per; j++) idx.push((n * 5 + t) * channels + g * per + j);
        const mean = idx.reduce((a, i) => a + x[i], 0) / idx.length;
        const variance = idx.reduce((a, i) => a + (x[i] - mean) ** 2, 0) / idx.length;
        for (const i of idx) {
          const c = i % channels;
          const normed = ((x[i] - mean) / Math.sqrt(variance + 1e-5)) * gamma[c] + beta[c];
          const expected = normed * (1 + scale[n * channels + c]) + shift[n * channels + c];
          assert.ok(Math.abs(out[i] - expected) < 1e-5, `n ${n} group ${g}: ${out[i]} vs ${expected}`);
        }
      }
  });

  it('computes the sinusoid frequencies exp(−ln(10000)·i/half) in float32', () => {
    const freqs = timestepFrequencies(64);
    assert.equal(freqs.length, 32);
    assert.equal(freqs[0], 1);
    for (let i = 0; i < 32; i++) {
      const exact = Math.exp((-Math.log(10000) * i) / 32);
      assert.ok(Math.abs(freqs[i] - exact) <= 1e-6 * exact, `freqs[${i}] = ${freqs[i]}, exp(−ln(10000)·${i}/32) = ${exact}`);
    }
  });

  it('embeds timesteps as [cos(t·f), sin(t·f)] with f_i = 10000^(−i/half)', () => {
    const emb = tf.tidy(() => timestepEmbedding(tf.tensor1d([0, 3.5, 999]), 7).arraySync());
    for (const [row, t] of [0, 3.5, 999].entries()) {
      for (let i = 0; i < 3; i++) {
        const f = Math.exp((-Math.log(10000) * i) / 3);
        assert.ok(Math.abs(emb[row][i] - Math.cos(t * f)) < 1e-3);
        assert.ok(Math.abs(emb[row][3 + i] - Math.sin(t * f)) < 1e-3);
      }
      assert.equal(emb[row][6], 0, 'odd dimension padded with a zero');
    }
  });
});
