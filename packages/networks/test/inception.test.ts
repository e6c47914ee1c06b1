import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inceptionScore, softmaxRows } from '@diffq/metrics';

const oneHot = (n: number, k: number, label: (i: number) => number) => {
  const p = new Float64Array(n * k);
  for (let i = 0; i < n; i++) p[i * k + label(i)] = 1;
  return p;
};

describe('Inception Score', () => {
  it('is K when each of K samples is a confident prediction of a different class', () => {
    const { mean, splitScores } = inceptionScore(
      oneHot(10, 10, (i) => i),
      10,
      5000,
    );
    assert.equal(splitScores.length, 1);
    assert.ok(Math.abs(mean - 10) < 1e-12, `${mean}`);
  });

  it('is 1 when every sample gets the same distribution', () => {
    const row = softmaxRows([0.3, -1, 2, 0.5], 4);
    const probs = new Float64Array(4 * 30);
    for (let i = 0; i < 30; i++) probs.set(row, i * 4);
    assert.ok(Math.abs(inceptionScore(probs, 4).mean - 1) < 1e-12);
  });

  it('cuts consecutive splits, the last one shorter, and weighs them equally with a population std', () => {
    const k = 5;
    const logits = Array.from({ length: 23 * k }, (_, i) => Math.sin(i * 1.7) * 3);
    const probs = softmaxRows(logits, k);
    const score = inceptionScore(probs, k, 10);
    const alone = [
      [0, 10],
      [10, 20],
      [20, 23],
    ].map(([a, b]) => inceptionScore(probs.subarray(a * k, b * k), k, 1000).mean);
    assert.deepEqual(Array.from(score.splitScores), alone);
    const mean = (alone[0] + alone[1] + alone[2]) / 3;
    assert.ok(Math.abs(score.mean - mean) < 1e-15);
    const std = Math.sqrt(alone.reduce((a, s) => a + (s - mean) ** 2, 0) / 3);
    assert.ok(Math.abs(score.std - std) < 1e-15);
  });

  it('computes a softmax that sums to 1 and does not overflow on large logits', () => {
    const p = softmaxRows([1000, 1001, 999, -5, 0, 5], 3);
    assert.ok(Math.abs(p[0] + p[1] + p[2] - 1) < 1e-15);
    assert.ok(Math.abs(p[1] / p[0] - Math.E) < 1e-12);
    assert.ok(Math.abs(p[5] / p[4] - Math.exp(5)) < 1e-9);
  });

  it('rejects a bad split size or a ragged array, naming the value', () => {
    assert.throws(() => inceptionScore(new Float64Array(10), 5, 0), /split size is 0/);
    assert.throws(() => inceptionScore(new Float64Array(11), 5), /11 values/);
    assert.throws(() => softmaxRows([1, 2, 3], 2), /3 values, not a whole number of rows of 2 classes/);
  });
});
