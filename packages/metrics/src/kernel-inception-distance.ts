/**
 * Kernel Inception Distance (Bińkowski et al. 2018) as torch-fidelity's metric_kid.py (and clean-fid)
 * compute it: over `subsets` random subsets of m rows of each set, the unbiased MMD² with the cubic
 * polynomial kernel k(x, y) = (x·y / d + 1)³,
 *   MMD² = (Σ_{i≠j} K_XX + Σ_{i≠j} K_YY) / (m(m − 1)) − 2·Σ K_XY / m²,
 * reported as the mean and population std (np.std) over subsets. m = min(subset size, n_x, n_y) as
 * clean-fid caps it (torch-fidelity refuses smaller sets instead). The subsets are drawn without
 * replacement by a seeded generator of our own (numpy's RandomState cannot be reproduced here), and
 * are returned, so that another implementation can be checked on the same rows.
 * The products are float64 (PairwiseKernel.innerProducts): the unbiased sums cancel to ~1e-3 of their
 * size, which float32 products would not survive.
 */
import type { FeatureRows } from './feature-rows.ts';
import type { PairwiseKernel } from './pairwise-kernel.ts';

/** torch-fidelity's defaults: kid_subsets, kid_subset_size, kid_degree, kid_coef0; rng_seed 2020. */
export const KID_SUBSETS = 100;
export const KID_SUBSET_SIZE = 1000;
export const KID_DEGREE = 3;
export const KID_COEF0 = 1;
export const KID_SEED = 2020;

/** Row indices of each subset: x into the first set (generated), y into the second (reference). */
export interface KidSubsets {
  size: number;
  x: Uint32Array[];
  y: Uint32Array[];
}

export interface KernelDistance {
  mean: number;
  std: number;
  subsets: number;
  subsetSize: number;
}

/** mulberry32: a small seeded uint32 generator; the subsets need reproducibility, not quality beyond uniform indices. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** m distinct indices of 0 … n−1 in draw order (a partial Fisher–Yates shuffle). */
function choose(n: number, m: number, next: () => number): Uint32Array {
  const pool = Uint32Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < m; i++) {
    const j = i + Math.floor(next() * (n - i));
    const t = pool[i];
    pool[i] = pool[j];
    pool[j] = t;
  }
  return pool.slice(0, m);
}

/** The subsets KID averages over, for sets of nx and ny rows; one generator draws x then y per subset. */
export function kidSubsets(nx: number, ny: number, options: { subsets?: number; subsetSize?: number; seed?: number } = {}): KidSubsets {
  const subsets = options.subsets ?? KID_SUBSETS;
  const subsetSize = options.subsetSize ?? KID_SUBSET_SIZE;
  if (!Number.isInteger(subsets) || subsets < 1) throw new RangeError(`KID subsets is ${subsets}; accepted: an integer ≥ 1`);
  if (!Number.isInteger(subsetSize) || subsetSize < 2) throw new RangeError(`KID subset size is ${subsetSize}; accepted: an integer ≥ 2`);
  const size = Math.min(subsetSize, nx, ny);
  if (size < 2) throw new RangeError(`KID needs at least 2 rows in each set; there are ${nx} generated and ${ny} reference rows`);
  const next = generator(options.seed ?? KID_SEED);
  const x: Uint32Array[] = [];
  const y: Uint32Array[] = [];
  for (let s = 0; s < subsets; s++) {
    x.push(choose(nx, size, next));
    y.push(choose(ny, size, next));
  }
  return { size, x, y };
}

/** Σ over entries of (p / d + 1)³ of a product block, and over its diagonal when it is square (a set with itself). */
function kernelSums(products: Float64Array, m: number, dim: number): { all: number; diagonal: number } {
  let all = 0;
  let diagonal = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      const k = (products[i * m + j] / dim + KID_COEF0) ** KID_DEGREE;
      all += k;
      if (i === j) diagonal += k;
    }
  }
  return { all, diagonal };
}

/** KID of generated rows x against reference rows y over the given subsets. */
export async function kernelInceptionDistance(
  kernel: PairwiseKernel,
  x: FeatureRows,
  y: FeatureRows,
  subsets: KidSubsets,
): Promise<KernelDistance> {
  if (x.dim !== y.dim) throw new RangeError(`generated features have dimension ${x.dim}, reference ones ${y.dim}; they must match`);
  const { dim } = x;
  const m = subsets.size;
  const mmds: number[] = [];
  // One subset at a time: its rows and product blocks are the memory KID needs.
  for (let s = 0; s < subsets.x.length; s++) {
    const fx = x.gather(subsets.x[s]);
    const fy = y.gather(subsets.y[s]);
    const xx = kernelSums(await kernel.innerProducts(fx, fx, dim), m, dim);
    const yy = kernelSums(await kernel.innerProducts(fy, fy, dim), m, dim);
    const xy = kernelSums(await kernel.innerProducts(fx, fy, dim), m, dim);
    mmds.push((xx.all - xx.diagonal + (yy.all - yy.diagonal)) / (m * (m - 1)) - (2 * xy.all) / (m * m));
  }
  const mean = mmds.reduce((a, b) => a + b, 0) / mmds.length;
  const std = Math.sqrt(mmds.reduce((a, v) => a + (v - mean) ** 2, 0) / mmds.length);
  return { mean, std, subsets: mmds.length, subsetSize: m };
}
