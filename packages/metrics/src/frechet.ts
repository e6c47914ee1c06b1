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
 * Only one side is factored, the one whose C is smaller: the side with the smaller known rank (a
 * covariance of N samples has rank ≤ N − 1, so a live FID of a few hundred samples against a 2048-d
 * reference needs a few-hundred-square C), else the one whose factor is already cached, else Σ₂. A
 * covariance's factor is cached with the covariance array, so a reference compared against again and
 * again (live FID, several runs) is factored once.
 */
import { congruence } from './congruence.ts';
import { trace } from './dense.ts';
import { type PivotedCholesky, permuteSymmetric, pivotedCholesky } from './pivoted-cholesky.ts';
import { symmetricEigen } from './symmetric-eigen.ts';

/** The Gaussian fitted to a feature set, as pytorch-fid and the reference batches store it. */
export interface GaussianStats {
  /** μ [d]. */
  mu: Float64Array;
  /** Σ [d, d] row-major, np.cov with ddof = 1. Not to be modified once used: its factor is cached with it. */
  sigma: Float64Array;
  /** N, the number of feature vectors Σ was estimated from, when known (it bounds the rank: ≤ N − 1). */
  samples?: number;
}

const factors = new WeakMap<object, PivotedCholesky>();

/** The pivoted Cholesky factor of the covariance sigma [d, d], computed once per array. */
function covarianceFactor(sigma: Float64Array, d: number): PivotedCholesky {
  const cached = factors.get(sigma);
  if (cached && cached.n === d) return cached;
  const factor = pivotedCholesky(sigma, d);
  factors.set(sigma, factor);
  return factor;
}

/** What is known of rank Σ before factoring it: the cached factor's rank, else N − 1, else d. */
function rankBound(sigma: Float64Array, d: number, samples: number | undefined): { bound: number; cached: boolean } {
  const cached = factors.get(sigma);
  if (cached && cached.n === d) return { bound: cached.rank, cached: true };
  return { bound: samples === undefined ? d : Math.max(0, Math.min(d, samples - 1)), cached: false };
}

/**
 * Where the largest product of the distance, the congruence C = Lᵀ·S·L (congruence.ts), runs:
 * packages/onnx injects one on onnxruntime's float64 GEMM; the library itself stays pure JavaScript.
 */
export interface FrechetKernel {
  readonly name: string;
  /** C [r, r] = Lᵀ·S·L for lt = Lᵀ [r, n] (row a zero left of column a) and the symmetric s [n, n]. */
  congruence(lt: Float64Array, s: Float64Array, n: number, r: number): Promise<Float64Array>;
}

export const javascriptFrechetKernel: FrechetKernel = {
  name: 'javascript',
  congruence: async (lt, s, n, r) => congruence(lt, s, n, r),
};

type SampleCounts = { samples1?: number; samples2?: number };

/** The factored side's pivoted Cholesky factor and the other side permuted alike (rank 0: nothing to do). */
function congruenceOperands(sigma1: Float64Array, sigma2: Float64Array, d: number, samples: SampleCounts) {
  const r1 = rankBound(sigma1, d, samples.samples1);
  const r2 = rankBound(sigma2, d, samples.samples2);
  const firstIsSmaller = r1.bound < r2.bound || (r1.bound === r2.bound && r1.cached && !r2.cached);
  const [factored, other] = firstIsSmaller ? [sigma1, sigma2] : [sigma2, sigma1];
  const factor = covarianceFactor(factored, d);
  return { lt: factor.factorRows, s: permuteSymmetric(other, d, factor.permutation), r: factor.rank };
}

/** Σᵢ √max(λᵢ(C), 0) of the symmetric C [r, r]. */
function traceSqrtOf(c: Float64Array, r: number): number {
  const { values } = symmetricEigen(c, r);
  let sum = 0;
  for (const v of values) sum += Math.sqrt(Math.max(v, 0));
  return sum;
}

/** tr √(Σ₁Σ₂) for symmetric positive semi-definite Σ₁, Σ₂ [d, d]; samples bound their ranks when known. */
export function traceSqrtProduct(sigma1: Float64Array, sigma2: Float64Array, d: number, samples: SampleCounts = {}): number {
  const { lt, s, r } = congruenceOperands(sigma1, sigma2, d, samples);
  return r === 0 ? 0 : traceSqrtOf(congruence(lt, s, d, r), r);
}

/** traceSqrtProduct with the congruence run by kernel. */
export async function traceSqrtProductWith(
  kernel: FrechetKernel,
  sigma1: Float64Array,
  sigma2: Float64Array,
  d: number,
  samples: SampleCounts = {},
): Promise<number> {
  const { lt, s, r } = congruenceOperands(sigma1, sigma2, d, samples);
  return r === 0 ? 0 : traceSqrtOf(await kernel.congruence(lt, s, d, r), r);
}

/** ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂, after checking that the shapes agree. */
function meanAndTraceTerms(a: GaussianStats, b: GaussianStats): { d: number; terms: number } {
  const d = a.mu.length;
  if (b.mu.length !== d || a.sigma.length !== d * d || b.sigma.length !== d * d) {
    throw new RangeError(
      `Fréchet distance needs μ [d] and Σ [d, d] of one d on both sides; got μ₁ [${a.mu.length}], Σ₁ ${a.sigma.length} entries, ` +
        `μ₂ [${b.mu.length}], Σ₂ ${b.sigma.length} entries`,
    );
  }
  let meanTerm = 0;
  for (let i = 0; i < d; i++) meanTerm += (a.mu[i] - b.mu[i]) ** 2;
  return { d, terms: meanTerm + trace(a.sigma, d) + trace(b.sigma, d) };
}

/** d² = ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2·tr √(Σ₁Σ₂). */
export function frechetDistance(a: GaussianStats, b: GaussianStats): number {
  const { d, terms } = meanAndTraceTerms(a, b);
  return terms - 2 * traceSqrtProduct(a.sigma, b.sigma, d, { samples1: a.samples, samples2: b.samples });
}

/** frechetDistance with its big product run by kernel (packages/onnx's is ~4× the JavaScript one). */
export async function frechetDistanceWith(kernel: FrechetKernel, a: GaussianStats, b: GaussianStats): Promise<number> {
  const { d, terms } = meanAndTraceTerms(a, b);
  return terms - 2 * (await traceSqrtProductWith(kernel, a.sigma, b.sigma, d, { samples1: a.samples, samples2: b.samples }));
}
