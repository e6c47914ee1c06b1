/**
 * Fréchet distance between two Gaussians N(μ₁, Σ₁), N(μ₂, Σ₂) (Dowson & Landau 1982), the FID of
 * Heusel et al. 2017 when the Gaussians are fitted to Inception features:
 *   d² = ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2·tr √(Σ₁Σ₂).
 *
 * pytorch-fid and guided-diffusion's evaluator take scipy's sqrtm of the non-symmetric Σ₁Σ₂ (a Schur
 * decomposition, ~25·d³ flops) and discard the imaginary part it picks up from rounding. Here the trace
 * comes from a symmetric eigenproblem a quarter that size: with a pivoted Cholesky factor
 * Σ₂ = P·L·Lᵀ·Pᵀ (L [d, r], r = rank Σ₂), Σ₁Σ₂ has the non-zero eigenvalues of the symmetric positive
 * semi-definite C = Lᵀ·(Pᵀ·Σ₁·P)·L [r, r], so
 *   tr √(Σ₁Σ₂) = Σᵢ √max(λᵢ(C), 0)
 * and only C's eigenvalues are needed (no eigenvectors, no matrix square root). The result is real
 * and finite also for singular covariances, where sqrtm needs the reference's eps·I retry; the two
 * agree to far better than the golden tolerance.
 *
 * The side with the smaller rank is factored (C is r×r: a covariance of fewer samples than dimensions
 * makes the whole computation cheaper), and a covariance's factor is cached with the covariance array,
 * so a reference compared against again and again (live FID, several runs) is factored once.
 */
import { multiplyABt, trace } from './dense.ts';
import { type PivotedCholesky, permuteSymmetric, pivotedCholesky } from './pivoted-cholesky.ts';
import { symmetricEigen } from './symmetric-eigen.ts';

/** The Gaussian fitted to a feature set, as pytorch-fid and the reference batches store it. */
export interface GaussianStats {
  /** μ [d]. */
  mu: Float64Array;
  /** Σ [d, d] row-major, np.cov with ddof = 1. Not to be modified once used: its factor is cached with it. */
  sigma: Float64Array;
}

const factors = new WeakMap<object, PivotedCholesky>();

/** The pivoted Cholesky factor of the covariance sigma [d, d], computed once per array. */
export function covarianceFactor(sigma: ArrayLike<number>, d: number): PivotedCholesky {
  const cached = typeof sigma === 'object' ? factors.get(sigma) : undefined;
  if (cached && cached.n === d) return cached;
  const factor = pivotedCholesky(sigma, d);
  factors.set(sigma, factor);
  return factor;
}

/** tr √(Σ₁Σ₂) for symmetric positive semi-definite Σ₁, Σ₂ [d, d]. */
export function traceSqrtProduct(sigma1: ArrayLike<number>, sigma2: ArrayLike<number>, d: number): number {
  const f1 = covarianceFactor(sigma1, d);
  const f2 = covarianceFactor(sigma2, d);
  const [factor, other] = f2.rank <= f1.rank ? [f2, sigma1] : [f1, sigma2];
  const r = factor.rank;
  if (r === 0) return 0;
  const lt = factor.factorRows;
  // Lᵀ·Ŝ with Ŝ = Pᵀ·S·P symmetric (so its rows are its columns), then C = (Lᵀ·Ŝ)·L as rows of Lᵀ
  // against rows of Lᵀ·Ŝ; rows of Lᵀ start at their diagonal, which the products skip.
  const permuted = permuteSymmetric(other, d, factor.permutation);
  const ltS = multiplyABt(lt, permuted, r, d, d, { upperA: true });
  const c = multiplyABt(lt, ltS, r, r, d, { symmetric: true, upperA: true });
  const { values } = symmetricEigen(c, r);
  let sum = 0;
  for (const v of values) sum += Math.sqrt(Math.max(v, 0));
  return sum;
}

/** d² = ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2·tr √(Σ₁Σ₂). */
export function frechetDistance(a: GaussianStats, b: GaussianStats): number {
  const d = a.mu.length;
  if (b.mu.length !== d || a.sigma.length !== d * d || b.sigma.length !== d * d) {
    throw new RangeError(
      `Fréchet distance needs μ [d] and Σ [d, d] of one d on both sides; got μ₁ [${a.mu.length}], Σ₁ ${a.sigma.length} entries, ` +
        `μ₂ [${b.mu.length}], Σ₂ ${b.sigma.length} entries`,
    );
  }
  let meanTerm = 0;
  for (let i = 0; i < d; i++) meanTerm += (a.mu[i] - b.mu[i]) ** 2;
  return meanTerm + trace(a.sigma, d) + trace(b.sigma, d) - 2 * traceSqrtProduct(a.sigma, b.sigma, d);
}
