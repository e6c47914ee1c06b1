import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seedNormals } from '@diffq/diffusion';
import { multiplyABt } from '../src/dense.ts';
import { frechetDistance, traceSqrtProduct } from '../src/frechet.ts';
import { featureStats } from '../src/moments.ts';
import { symmetricEigen } from '../src/symmetric-eigen.ts';

/** R·diag(a)·Rᵀ with R = I − 2uuᵀ (|u| = 1), a Householder reflection: an orthogonal change of basis. */
function rotatedDiagonal(a: number[], u: Float64Array): Float64Array {
  const d = a.length;
  const r = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) r[i * d + j] = (i === j ? 1 : 0) - 2 * u[i] * u[j];
  const s = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let v = 0;
      for (let k = 0; k < d; k++) v += r[i * d + k] * a[k] * r[j * d + k];
      s[i * d + j] = v;
    }
  }
  return s;
}

function unit(seed: number, d: number): Float64Array {
  const u = Float64Array.from(seedNormals(seed, 0, d));
  const norm = Math.hypot(...u);
  return u.map((v) => v / norm);
}

const randomStats = (seed: number, n: number, d: number) =>
  featureStats(
    Float64Array.from(seedNormals(seed, 0, n * d), (v, i) => v * (1 + (i % d) / d) + (i % 3)),
    d,
  );

describe('Fréchet distance', () => {
  it('is ~0 between identical Gaussians, full rank or rank-deficient', () => {
    for (const [n, d] of [
      [200, 32],
      [40, 64],
    ]) {
      const s = randomStats(n, n, d);
      const scale = s.sigma.reduce((a, v, i) => (i % (d + 1) === 0 ? a + v : a), 0);
      const distance = frechetDistance(s, s);
      assert.ok(Math.abs(distance) < 1e-6 * scale, `d=${d}, n=${n}: ${distance} vs trace ${scale}`);
    }
  });

  it('equals ‖Δμ‖² + Σ(√aᵢ − √bᵢ)² for covariances diagonal in a common basis, also singular ones', () => {
    const a = [4, 1, 0.25, 9, 0, 2, 0, 3];
    const b = [1, 1, 1, 16, 5, 0, 0, 0.5];
    const u = unit(7, a.length);
    const mu1 = Float64Array.from(a, (_, i) => i * 0.5);
    const mu2 = Float64Array.from(a, (_, i) => 1 - i * 0.25);
    let expected = 0;
    for (let i = 0; i < a.length; i++) expected += (mu1[i] - mu2[i]) ** 2 + (Math.sqrt(a[i]) - Math.sqrt(b[i])) ** 2;
    const distance = frechetDistance({ mu: mu1, sigma: rotatedDiagonal(a, u) }, { mu: mu2, sigma: rotatedDiagonal(b, u) });
    assert.ok(Math.abs(distance - expected) < 1e-6 * expected, `${distance} vs ${expected}`);
  });

  it('matches the 2×2 closed form tr √(S₁S₂) = √(tr S₁S₂ + 2√(det S₁·det S₂)) for non-commuting covariances', () => {
    const s1 = Float64Array.of(2, 0.7, 0.7, 1);
    const s2 = Float64Array.of(0.5, -0.3, -0.3, 3);
    const trProduct = s1[0] * s2[0] + s1[1] * s2[2] + s1[2] * s2[1] + s1[3] * s2[3];
    const det = (s: Float64Array) => s[0] * s[3] - s[1] * s[2];
    const expected = Math.sqrt(trProduct + 2 * Math.sqrt(det(s1) * det(s2)));
    assert.ok(Math.abs(traceSqrtProduct(s1, s2, 2) - expected) < 1e-14);
  });

  it('agrees with the √Σ₁·Σ₂·√Σ₁ eigenvalue route on rank-deficient covariances of ReLU features at d = 96', () => {
    const d = 96;
    const relu = (seed: number, n: number, dead: number) =>
      featureStats(
        Float64Array.from(seedNormals(seed, 0, n * d), (v, i) => (i % d < dead ? 0 : Math.max(v, 0))),
        d,
      );
    for (const [a, b] of [
      [relu(1, 20, 0), relu(2, 40, 0)],
      [relu(3, 40, 30), relu(4, 300, 10)],
      [relu(5, 300, 0), relu(6, 30, 50)],
    ]) {
      // Oracle: √Σ₁ = V·√Λ·Vᵀ from the eigen-decomposition, then the eigenvalues of √Σ₁·Σ₂·√Σ₁.
      const { values, vectorRows: v } = symmetricEigen(a.sigma, d, { vectors: true });
      assert.ok(v);
      const root = new Float64Array(d * d);
      for (let i = 0; i < d; i++) {
        for (let j = 0; j < d; j++) {
          let s = 0;
          for (let k = 0; k < d; k++) s += v[k * d + i] * Math.sqrt(Math.max(values[k], 0)) * v[k * d + j];
          root[i * d + j] = s;
        }
      }
      const inner = multiplyABt(multiplyABt(root, b.sigma, d, d, d), root, d, d, d);
      const expected = symmetricEigen(inner, d).values.reduce((t, l) => t + Math.sqrt(Math.max(l, 0)), 0);
      const withHints = traceSqrtProduct(a.sigma, b.sigma, d, { samples1: a.samples, samples2: b.samples });
      const withoutHints = traceSqrtProduct(a.sigma.slice(), b.sigma.slice(), d);
      assert.ok(Math.abs(withHints - expected) < 1e-7 * expected, `${withHints} vs ${expected}`);
      assert.ok(Math.abs(withoutHints - expected) < 1e-7 * expected, `${withoutHints} vs ${expected}`);
      // The distance from the oracle's trace; a.sigma's factor is cached by now, fresh copies have none.
      let fid = -2 * expected;
      for (let i = 0; i < d; i++) fid += (a.mu[i] - b.mu[i]) ** 2 + a.sigma[i * d + i] + b.sigma[i * d + i];
      const cached = frechetDistance(a, b);
      const fresh = frechetDistance({ ...a, sigma: a.sigma.slice() }, { ...b, sigma: b.sigma.slice() });
      assert.ok(Math.abs(cached - fid) < 1e-7 * expected, `cached factor: ${cached} vs ${fid}`);
      assert.ok(Math.abs(fresh - fid) < 1e-7 * expected, `fresh factor: ${fresh} vs ${fid}`);
    }
  });

  it('is symmetric in its two arguments', () => {
    const a = randomStats(1, 90, 24);
    const b = randomStats(2, 70, 24);
    const ab = frechetDistance(a, b);
    assert.ok(ab > 1);
    assert.ok(Math.abs(ab - frechetDistance(b, a)) < 1e-10 * ab);
  });

  it('rejects statistics of different dimensions, naming them', () => {
    const a = randomStats(1, 10, 4);
    const b = randomStats(2, 10, 5);
    assert.throws(() => frechetDistance(a, b), /μ₁ \[4\].*μ₂ \[5\]/);
  });
});
