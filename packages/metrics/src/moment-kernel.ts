/**
 * Where the heavy part of moment accumulation, Σx·xᵀ = Xᵀ·X of every batch, runs. The library's own
 * kernel is plain JavaScript on worker threads (moments.ts); packages/onnx supplies a faster one on
 * onnxruntime's float64 GEMM, injected through this interface so that this package stays free of
 * native code. Every kernel adds exact float64 products of the features (float32 features are exact
 * in float64, their products too), so kernels differ only in the rounding order of the sums.
 */
import { accumulateMoments, type FeatureArray, type Moments } from './moments.ts';

export interface MomentKernel {
  /** Names the kernel in logs and reports ("javascript", "onnxruntime"). */
  readonly name: string;
  /** Adds the rows of features [n, m.dim] to m in place (N, Σx, Σx·xᵀ); resolves to m. */
  accumulate(m: Moments, features: FeatureArray): Promise<Moments>;
}

export const javascriptMomentKernel: MomentKernel = {
  name: 'javascript',
  accumulate: async (m, features) => accumulateMoments(m, features),
};
