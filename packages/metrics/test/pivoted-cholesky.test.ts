import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seedNormals } from '@diffq/diffusion';
import { featureStats } from '../src/moments.ts';
import { permuteSymmetric, pivotedCholesky } from '../src/pivoted-cholesky.ts';

/** max |Pᵀ·A·P − L·Lᵀ| relative to max |A|. */
function reconstructionError(a: Float64Array, n: number) {
  const f = pivotedCholesky(a, n);
  const permuted = permuteSymmetric(a, n, f.permutation);
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < f.rank; k++) s += f.factorRows[k * n + i] * f.factorRows[k * n + j];
      worst = Math.max(worst, Math.abs(permuted[i * n + j] - s));
      scale = Math.max(scale, Math.abs(a[i * n + j]));
    }
  }
  return { factor: f, error: worst / scale };
}

const covariance = (seed: number, samples: number, d: number, dead = 0) =>
  featureStats(
    Float64Array.from(seedNormals(seed, 0, samples * d), (v, i) => (i % d < dead ? 0 : Math.max(v, 0) + 0.1 * v)),
    d,
  ).sigma;

describe('pivoted Cholesky', () => {
  it('factors a full-rank covariance exactly, with more columns than one panel', () => {
    const { factor, error } = reconstructionError(covariance(1, 300, 70), 70);
    assert.equal(factor.rank, 70);
    assert.ok(error < 1e-14, `error ${error}`);
    assert.deepEqual(
      [...factor.permutation].sort((x, y) => x - y),
      Array.from({ length: 70 }, (_, i) => i),
    );
  });

  it('finds the rank of covariances of fewer samples than dimensions and of dead features', () => {
    for (const [samples, d, dead, rank] of [
      [20, 96, 0, 19],
      [40, 96, 30, 39],
      [95, 96, 60, 36],
    ]) {
      const sigma = covariance(samples, samples, d, dead);
      const { factor, error } = reconstructionError(sigma, d);
      assert.equal(factor.rank, rank, `samples=${samples}, dead=${dead}`);
      assert.ok(error < 1e-13, `samples=${samples}, dead=${dead}: error ${error}`);
      // Pivoting keeps every entry of L within √max A[i, i], the bound that makes the rank-revealing stable.
      const max = Math.max(...factor.factorRows.map(Math.abs));
      const maxDiagonal = Math.max(...Array.from({ length: d }, (_, i) => sigma[i * d + i]));
      assert.ok(max <= Math.sqrt(maxDiagonal) * (1 + 1e-12));
    }
  });

  it('gives rank 0 for the zero matrix and rejects a non-square array', () => {
    assert.equal(pivotedCholesky(new Float64Array(16), 4).rank, 0);
    assert.throws(() => pivotedCholesky(new Float64Array(10), 3), /10 entries; a 3×3 matrix needs 9/);
  });
});
