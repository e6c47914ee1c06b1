/**
 * Improved precision and recall (Kynkäänniemi et al. 2019), as guided-diffusion's evaluator computes
 * them (its ManifoldEstimator, nhood_sizes = (3,)). The manifold of a feature set is the union of
 * balls around its points, each ball's radius the distance to the point's k-th nearest neighbour in
 * the same set. Then
 *   precision = fraction of generated features inside the manifold of the real ones,
 *   recall    = fraction of real features inside the manifold of the generated ones.
 * Distances are squared Euclidean, a point's own distance 0 counts as its 0-th neighbour (radius =
 * the (k+1)-th smallest distance of its row, as np.partition(…)[:, k]), and "inside" is ≤.
 * The reference computes distances in float16 (float32 if that overflows); here they are exact
 * float64 differences, so points on a ball's boundary count as inside.
 */
import { type FeatureArray, featureRows } from './moments.ts';

export interface PrecisionRecall {
  precision: number;
  recall: number;
}

/** Rows of A and of B per distance tile: 2·TILE rows of features stay in cache while the tile is filled. */
const TILE = 64;

/** out[(i − i0)·(j1 − j0) + (j − j0)] = ‖a_i − b_j‖² for rows i ∈ [i0, i1) of a and j ∈ [j0, j1) of b. */
function distanceTile(a: FeatureArray, i0: number, i1: number, b: FeatureArray, j0: number, j1: number, dim: number, out: Float64Array) {
  const width = j1 - j0;
  for (let i = i0; i < i1; i++) {
    const ai = i * dim;
    const o = (i - i0) * width - j0;
    let j = j0;
    // Two rows of b per pass reuse each loaded element of a.
    for (; j + 1 < j1; j += 2) {
      const b0 = j * dim;
      const b1 = b0 + dim;
      let s0 = 0;
      let s1 = 0;
      for (let p = 0; p < dim; p++) {
        const x = a[ai + p];
        const d0 = x - b[b0 + p];
        const d1 = x - b[b1 + p];
        s0 += d0 * d0;
        s1 += d1 * d1;
      }
      out[o + j] = s0;
      out[o + j + 1] = s1;
    }
    if (j < j1) {
      const b0 = j * dim;
      let s0 = 0;
      for (let p = 0; p < dim; p++) {
        const d0 = a[ai + p] - b[b0 + p];
        s0 += d0 * d0;
      }
      out[o + j] = s0;
    }
  }
}

/** Calls visit(i0, i1, j0, j1, tile) for every tile of squared distances between rows of a and rows of b. */
function forEachDistanceTile(
  a: FeatureArray,
  na: number,
  b: FeatureArray,
  nb: number,
  dim: number,
  visit: (i0: number, i1: number, j0: number, j1: number, tile: Float64Array) => void,
): void {
  const tile = new Float64Array(TILE * TILE);
  for (let i0 = 0; i0 < na; i0 += TILE) {
    const i1 = Math.min(na, i0 + TILE);
    for (let j0 = 0; j0 < nb; j0 += TILE) {
      const j1 = Math.min(nb, j0 + TILE);
      distanceTile(a, i0, i1, b, j0, j1, dim, tile);
      visit(i0, i1, j0, j1, tile);
    }
  }
}

/**
 * Squared radius of each point's ball: the (k+1)-th smallest squared distance from row i of
 * features [n, d] to all rows, itself included (so the k-th nearest other point when no two coincide).
 */
export function manifoldRadii(features: FeatureArray, dim: number, k = 3): Float64Array {
  const n = featureRows(features, dim, 'features');
  if (!Number.isInteger(k) || k < 1 || k >= n) {
    throw new RangeError(`neighbourhood size k is ${k}; accepted: an integer in [1, ${n - 1}] for ${n} feature vectors`);
  }
  // The k+1 smallest distances of each row so far, ascending.
  const keep = k + 1;
  const smallest = new Float64Array(n * keep).fill(Number.POSITIVE_INFINITY);
  forEachDistanceTile(features, n, features, n, dim, (i0, i1, j0, j1, tile) => {
    const width = j1 - j0;
    for (let i = i0; i < i1; i++) {
      const s = i * keep;
      for (let j = 0; j < width; j++) {
        const dist = tile[(i - i0) * width + j];
        if (dist >= smallest[s + k]) continue;
        let pos = k;
        while (pos > 0 && smallest[s + pos - 1] > dist) {
          smallest[s + pos] = smallest[s + pos - 1];
          pos--;
        }
        smallest[s + pos] = dist;
      }
    }
  });
  return Float64Array.from({ length: n }, (_, i) => smallest[i * keep + k]);
}

/** Precision and recall of generated features against real features, both [·, dim]. */
export function precisionRecall(real: FeatureArray, generated: FeatureArray, dim: number, k = 3): PrecisionRecall {
  const nReal = featureRows(real, dim, 'real features');
  const nGenerated = featureRows(generated, dim, 'generated features');
  const realRadii = manifoldRadii(real, dim, k);
  const generatedRadii = manifoldRadii(generated, dim, k);
  const realCovered = new Uint8Array(nReal);
  const generatedCovered = new Uint8Array(nGenerated);
  forEachDistanceTile(real, nReal, generated, nGenerated, dim, (i0, i1, j0, j1, tile) => {
    const width = j1 - j0;
    for (let i = i0; i < i1; i++) {
      for (let j = j0; j < j1; j++) {
        const dist = tile[(i - i0) * width + (j - j0)];
        if (dist <= realRadii[i]) generatedCovered[j] = 1;
        if (dist <= generatedRadii[j]) realCovered[i] = 1;
      }
    }
  });
  const fraction = (covered: Uint8Array) => covered.reduce((a, b) => a + b, 0) / covered.length;
  return { precision: fraction(generatedCovered), recall: fraction(realCovered) };
}
