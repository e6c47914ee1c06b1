import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seedNormals } from '@diffq/diffusion';
import { featureStats } from '../src/moments.ts';
import { symmetricEigen } from '../src/symmetric-eigen.ts';

/** X·Xᵀ/r for X [n, r] of normals: symmetric positive semi-definite of rank min(n, r). */
function gram(seed: number, n: number, r: number): Float64Array {
  const x = seedNormals(seed, 0, n * r);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < r; k++) s += x[i * r + k] * x[j * r + k];
      a[i * n + j] = s / r;
    }
  }
  return a;
}

/** max |A·v − λ·v| over all pairs and max |VᵀV − I|, relative to the largest |λ|. */
function residuals(a: Float64Array, n: number) {
  const { values, vectorRows: v } = symmetricEigen(a, n, { vectors: true });
  assert.ok(v);
  let eigen = 0;
  let orthogonality = 0;
  for (let k = 0; k < n; k++) {
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += a[i * n + j] * v[k * n + j];
      eigen = Math.max(eigen, Math.abs(s - values[k] * v[k * n + i]));
    }
    for (let l = 0; l < n; l++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += v[k * n + j] * v[l * n + j];
      orthogonality = Math.max(orthogonality, Math.abs(s - (k === l ? 1 : 0)));
    }
  }
  const scale = Math.max(...values.map(Math.abs), 1e-300);
  return { values, eigen: eigen / scale, orthogonality };
}

describe('symmetric eigen-decomposition', () => {
  it('decomposes full-rank and rank-deficient matrices into orthonormal eigenvectors', () => {
    // 67 and 100 make the blocked accumulation of reflectors end on a partial block.
    for (const [n, r] of [
      [1, 1],
      [2, 3],
      [67, 200],
      [100, 30],
    ]) {
      const { values, eigen, orthogonality } = residuals(gram(n + r, n, r), n);
      assert.ok(eigen < 1e-13, `n=${n}: residual ${eigen}`);
      assert.ok(orthogonality < 1e-13, `n=${n}: orthogonality ${orthogonality}`);
      for (let i = 1; i < n; i++) assert.ok(values[i - 1] <= values[i], 'ascending');
      if (r < n) assert.ok(Math.abs(values[n - r - 1]) < 1e-13 * values[n - 1], 'the null space has eigenvalue ~0');
    }
  });

  it('finds the known spectrum 2 − 2cos(kπ/(n+1)) of the [−1, 2, −1] tridiagonal matrix', () => {
    const n = 50;
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      a[i * n + i] = 2;
      if (i + 1 < n) {
        a[i * n + i + 1] = -1;
        a[(i + 1) * n + i] = -1;
      }
    }
    const { values } = symmetricEigen(a, n);
    values.forEach((v, k) => {
      assert.ok(Math.abs(v - (2 - 2 * Math.cos(((k + 1) * Math.PI) / (n + 1)))) < 1e-13);
    });
  });

  it('handles repeated eigenvalues, rows that are already tridiagonal and block-diagonal matrices', () => {
    const n = 45;
    const a = gram(3, n, 60);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        if (i < 20 !== j < 20 || (i === 0 && j > 1) || (j === 0 && i > 1)) a[i * n + j] = 0;
      }
    }
    const identityPlusRankOne = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) identityPlusRankOne[i * n + j] = (i === j ? 1 : 0) + 1 / n;
    for (const m of [a, identityPlusRankOne]) {
      const { eigen, orthogonality } = residuals(m, n);
      assert.ok(eigen < 1e-13 && orthogonality < 1e-13, `residual ${eigen}, orthogonality ${orthogonality}`);
    }
    const { values } = symmetricEigen(identityPlusRankOne, n);
    assert.ok(Math.abs(values[n - 1] - 2) < 1e-13 && values.subarray(0, n - 1).every((v) => Math.abs(v - 1) < 1e-13));
  });

  it('converges on covariances of fewer samples than dimensions with dead ReLU units (zero rows and columns)', () => {
    // d = 96 from 20 or 40 samples once stopped with "eigenvalue 0 of 96 did not converge in 60 QL iterations".
    const d = 96;
    for (const [n, dead] of [
      [20, 0],
      [40, 0],
      [40, 30],
      [95, 60],
    ]) {
      const x = Float64Array.from(seedNormals(n, 0, n * d), (v, i) => (i % d < dead ? 0 : Math.max(v, 0)));
      const sigma = featureStats(x, d).sigma;
      const { values, eigen, orthogonality } = residuals(sigma, d);
      assert.ok(eigen < 1e-13 && orthogonality < 1e-13, `n=${n}, dead=${dead}: residual ${eigen}, orthogonality ${orthogonality}`);
      const rank = Math.min(n - 1, d - dead);
      const zeros = values.filter((v) => Math.abs(v) < 1e-12 * values[d - 1]).length;
      assert.equal(zeros, d - rank, `n=${n}, dead=${dead}: ${zeros} zero eigenvalues, expected ${d - rank}`);
    }
  });

  it('gives the same eigenvalues with and without eigenvectors', () => {
    const a = gram(5, 40, 40);
    assert.deepEqual(symmetricEigen(a, 40).values, symmetricEigen(a, 40, { vectors: true }).values);
  });

  it('rejects an array that is not n×n', () => {
    assert.throws(() => symmetricEigen(new Float64Array(10), 3), /10 entries; a 3×3 matrix needs 9/);
  });
});
