import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seedNormals } from '@diffq/diffusion';
import { congruence } from '../src/congruence.ts';
import { featureStats } from '../src/moments.ts';
import { pivotedCholesky } from '../src/pivoted-cholesky.ts';

/** Lᵀ·S·L the plain way, from L's rows of Lᵀ. */
function plain(lt: Float64Array, s: Float64Array, n: number, r: number): Float64Array {
  const c = new Float64Array(r * r);
  for (let a = 0; a < r; a++) {
    for (let b = 0; b < r; b++) {
      let sum = 0;
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) sum += lt[a * n + i] * s[i * n + j] * lt[b * n + j];
      c[a * r + b] = sum;
    }
  }
  return c;
}

describe('congruence Lᵀ·S·L', () => {
  it('equals the plain triple product for full-rank and rank-deficient factors, across tile edges', () => {
    for (const [n, samples] of [
      [45, 200],
      [70, 30],
    ]) {
      const factor = pivotedCholesky(featureStats(seedNormals(n, 0, samples * n), n).sigma, n);
      const s = featureStats(seedNormals(n + 1, 0, 3 * n * n), n).sigma;
      const r = factor.rank;
      assert.equal(r, Math.min(n, samples - 1));
      const got = congruence(factor.factorRows, s, n, r);
      const expected = plain(factor.factorRows, s, n, r);
      const scale = Math.max(...expected.map(Math.abs));
      for (let i = 0; i < r * r; i++) assert.ok(Math.abs(got[i] - expected[i]) < 1e-13 * scale, `n=${n}, entry ${i}`);
    }
  });
});
