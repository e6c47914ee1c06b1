/**
 * Fréchet distance between two Gaussians N(μ₁, Σ₁), N(μ₂, Σ₂) (Dowson & Landau 1982), the FID of
 * Heusel et al. 2017 when the Gaussians are fitted to Inception features:
 *   d² = ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2·tr √(Σ₁Σ₂).
 *
 * pytorch-fid and guided-diffusion's evaluator take scipy's sqrtm of the non-symmetric Σ₁Σ₂ and
 * discard the imaginary part it picks up from rounding. Here the trace comes from a symmetric
 * matrix instead: Σ₁Σ₂ is similar to √Σ₁·Σ₂·√Σ₁, which is symmetric positive semi-definite, so
 *   tr √(Σ₁Σ₂) = Σᵢ √max(μᵢ, 0),  μ = eigenvalues of √Σ₁·Σ₂·√Σ₁,
 * with √Σ₁ = V·√max(Λ, 0)·Vᵀ from Σ₁'s eigen-decomposition. Both eigenproblems are symmetric, so the
 * result is real and finite also for singular (rank-deficient) covariances, where sqrtm needs the
 * reference's eps·I retry; the two agree to far better than the golden tolerance.
 */
import { multiplyABt, symmetrize, trace } from './dense.ts';
import { symmetricEigen } from './symmetric-eigen.ts';

/** The Gaussian fitted to a feature set, as pytorch-fid and the reference batches store it. */
export interface GaussianStats {
  /** μ [d]. */
  mu: Float64Array;
  /** Σ [d, d] row-major, np.cov with ddof = 1. */
  sigma: Float64Array;
}

/** tr √(Σ₁Σ₂) for symmetric positive semi-definite Σ₁, Σ₂ [d, d]. */
export function traceSqrtProduct(sigma1: ArrayLike<number>, sigma2: ArrayLike<number>, d: number): number {
  const { values: lambda, vectorRows: vt } = symmetricEigen(symmetrize(sigma1, d), d, { vectors: true });
  // √Σ₁·Σ₂·√Σ₁ = V·(Λ^½·Vᵀ·Σ₂·V·Λ^½)·Vᵀ has the eigenvalues of the bracket, which needs no √Σ₁.
  const rootLambda = lambda.map((l) => Math.sqrt(Math.max(l, 0)));
  const scaled = vt!;
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) scaled[i * d + j] *= rootLambda[i];
  // Rows of (Λ^½Vᵀ)·Σ₂ are dot products with rows of Σ₂ because Σ₂ is symmetric.
  const left = multiplyABt(scaled, symmetrize(sigma2, d), d, d, d);
  const inner = multiplyABt(left, scaled, d, d, d, { symmetric: true });
  const { values: mu } = symmetricEigen(inner, d);
  let sum = 0;
  for (const m of mu) sum += Math.sqrt(Math.max(m, 0));
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
