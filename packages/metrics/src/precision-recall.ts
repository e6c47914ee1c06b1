/**
 * Improved precision and recall (Kynkäänniemi et al. 2019) exactly as guided-diffusion's evaluator
 * computes them (evaluations/evaluator.py, ManifoldEstimator with nhood_sizes = (3,), no percentile
 * clamping), over every row of both sets. The manifold of a feature set is the union of balls around
 * its points, each ball's squared radius the (k+1)-th smallest squared distance of the point's row,
 * itself included (np.partition(row, arange(k+1))[k], so the k-th nearest other point). Then
 *   precision = fraction of generated points inside (≤) some real point's ball,
 *   recall    = fraction of real points inside (≤) some generated point's ball.
 * Distances are max(‖u‖² − 2u·v + ‖v‖², 0) in float32, from the PairwiseKernel in row batches; the
 * radii are float32 as the evaluator keeps them. Only the k+1 smallest distances of each row are
 * kept while the batches go by, so memory is the features plus one batch × batch block, whatever n.
 * The evaluator tries float16 first and keeps it when no distance overflows; float32 is its exact
 * route, and the only one whose result does not depend on the GPU's half-precision GEMM.
 */
import { FeatureRows } from './feature-rows.ts';
import type { PairwiseKernel } from './pairwise-kernel.ts';

export interface PrecisionRecall {
  precision: number;
  recall: number;
}

/** Rows per distance block (a 2048 × 2048 float32 block is 16 MB); any value gives the same result. */
export const PR_ROW_BATCH = 2048;

function batches(n: number, size: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let s = 0; s < n; s += size) out.push([s, Math.min(n, s + size)]);
  return out;
}

/** Inserts dist into the ascending list smallest[s … s+k] when it belongs there. */
function keepSmallest(smallest: Float32Array, s: number, k: number, dist: number): void {
  if (dist >= smallest[s + k]) return;
  let pos = k;
  while (pos > 0 && smallest[s + pos - 1] > dist) {
    smallest[s + pos] = smallest[s + pos - 1];
    pos--;
  }
  smallest[s + pos] = dist;
}

/**
 * Squared radius of each point's ball, float32 [n]. The distance matrix is symmetric, so only the
 * blocks on and above the diagonal are formed; each serves its rows and, transposed, its columns.
 */
export async function manifoldRadii(kernel: PairwiseKernel, rows: FeatureRows, k = 3, batch = PR_ROW_BATCH): Promise<Float32Array> {
  const n = rows.count;
  if (!Number.isInteger(k) || k < 1 || k >= n) {
    throw new RangeError(`neighbourhood size k is ${k}; accepted: an integer in [1, ${n - 1}] for ${n} feature vectors`);
  }
  const keep = k + 1;
  const smallest = new Float32Array(n * keep).fill(Number.POSITIVE_INFINITY);
  const blocks = batches(n, batch);
  for (let bi = 0; bi < blocks.length; bi++) {
    const [i0, i1] = blocks[bi];
    const a = rows.slice(i0, i1);
    for (let bj = bi; bj < blocks.length; bj++) {
      const [j0, j1] = blocks[bj];
      const tile = await kernel.squaredDistances(a, bj === bi ? a : rows.slice(j0, j1), rows.dim);
      const width = j1 - j0;
      for (let i = i0; i < i1; i++) {
        const row = (i - i0) * width;
        for (let j = 0; j < width; j++) keepSmallest(smallest, i * keep, k, tile[row + j]);
        if (bj !== bi) for (let j = 0; j < width; j++) keepSmallest(smallest, (j0 + j) * keep, k, tile[row + j]);
      }
    }
  }
  const radii = new Float32Array(n);
  for (let i = 0; i < n; i++) radii[i] = smallest[i * keep + k];
  return radii;
}

/** Precision and recall of generated features against real features (every row of both). */
export async function precisionRecall(
  kernel: PairwiseKernel,
  real: FeatureRows,
  generated: FeatureRows,
  k = 3,
  batch = PR_ROW_BATCH,
): Promise<PrecisionRecall> {
  if (real.dim !== generated.dim)
    throw new RangeError(`real features have dimension ${real.dim}, generated ones ${generated.dim}; they must match`);
  const realRadii = await manifoldRadii(kernel, real, k, batch);
  const generatedRadii = await manifoldRadii(kernel, generated, k, batch);
  const realCovered = new Uint8Array(real.count);
  const generatedCovered = new Uint8Array(generated.count);
  for (const [i0, i1] of batches(real.count, batch)) {
    const a = real.slice(i0, i1);
    for (const [j0, j1] of batches(generated.count, batch)) {
      const tile = await kernel.squaredDistances(a, generated.slice(j0, j1), real.dim);
      const width = j1 - j0;
      for (let i = i0; i < i1; i++) {
        const row = (i - i0) * width - j0;
        const radius = realRadii[i];
        let covered = realCovered[i];
        for (let j = j0; j < j1; j++) {
          const dist = tile[row + j];
          if (dist <= radius) generatedCovered[j] = 1;
          if (dist <= generatedRadii[j]) covered = 1;
        }
        realCovered[i] = covered;
      }
    }
  }
  const fraction = (covered: Uint8Array) => covered.reduce((a, b) => a + b, 0) / covered.length;
  return { precision: fraction(generatedCovered), recall: fraction(realCovered) };
}

/** precisionRecall of two plain arrays [·, dim]. */
export function precisionRecallOf(
  kernel: PairwiseKernel,
  real: Float32Array,
  generated: Float32Array,
  dim: number,
  k = 3,
  batch = PR_ROW_BATCH,
): Promise<PrecisionRecall> {
  return precisionRecall(kernel, FeatureRows.of(real, dim), FeatureRows.of(generated, dim), k, batch);
}
