/**
 * Where the pairwise products of two feature sets run: the distance blocks of precision/recall and
 * the Gram blocks of KID, O(n·m·d) each and the bulk of their cost at Inception's d = 2048.
 * packages/onnx supplies a kernel on onnxruntime's GEMM (`@diffq/onnx/pairwise-kernel`); this one is
 * plain JavaScript, for platforms without onnxruntime and for small sets.
 */
import { featureRows } from './moments.ts';

export interface PairwiseKernel {
  /** Names the kernel in logs and reports ("javascript", "onnxruntime"). */
  readonly name: string;
  /**
   * Squared Euclidean distances [na, nb] row-major between the rows of a [na, dim] and b [nb, dim],
   * as guided-diffusion's evaluator forms them: max(‖a_i‖² − 2·a_i·b_j + ‖b_j‖², 0), in float32.
   */
  squaredDistances(a: Float32Array, b: Float32Array, dim: number): Promise<Float32Array>;
  /** Inner products a·bᵀ [na, nb] row-major, in float64 (products of float32 values are exact). */
  innerProducts(a: Float32Array, b: Float32Array, dim: number): Promise<Float64Array>;
}

function dots(a: Float32Array, b: Float32Array, dim: number, visit: (i: number, j: number, dot: number) => void): void {
  const na = featureRows(a, dim, 'a');
  const nb = featureRows(b, dim, 'b');
  for (let i = 0; i < na; i++) {
    const ai = i * dim;
    for (let j = 0; j < nb; j++) {
      const bj = j * dim;
      let s = 0;
      for (let p = 0; p < dim; p++) s += a[ai + p] * b[bj + p];
      visit(i, j, s);
    }
  }
}

function squaredNorms(x: Float32Array, dim: number): Float64Array {
  const n = x.length / dim;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let p = i * dim; p < (i + 1) * dim; p++) s += x[p] * x[p];
    out[i] = s;
  }
  return out;
}

/** The distances in float64 (then rounded to float32): the evaluator's formula without its float32 rounding of the terms. */
export const javascriptPairwiseKernel: PairwiseKernel = {
  name: 'javascript',
  async squaredDistances(a, b, dim) {
    const na = squaredNorms(a, dim);
    const nb = squaredNorms(b, dim);
    const out = new Float32Array(na.length * nb.length);
    dots(a, b, dim, (i, j, dot) => {
      out[i * nb.length + j] = Math.max(na[i] - 2 * dot + nb[j], 0);
    });
    return out;
  },
  async innerProducts(a, b, dim) {
    const width = b.length / dim;
    const out = new Float64Array((a.length / dim) * width);
    dots(a, b, dim, (i, j, dot) => {
      out[i * width + j] = dot;
    });
    return out;
  },
};
