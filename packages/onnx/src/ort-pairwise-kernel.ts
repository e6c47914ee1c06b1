/**
 * The pairwise kernel (metrics' pairwise-kernel.ts) on onnxruntime's GEMM (MLAS, SIMD, every core):
 * - squaredDistances: ‖u‖² − 2u·v + ‖v‖² clamped at 0, in float32, the graph guided-diffusion's
 *   evaluator builds in TensorFlow (_batch_pairwise_distances) for precision/recall;
 * - innerProducts: u·vᵀ in float64 (the features cast inside the graph), for KID's polynomial kernel,
 *   whose unbiased sums cancel too much for float32.
 * Without onnxruntime the JavaScript kernel is returned with the reason in `fallback`, as the moment
 * kernel does (both load onnxruntime-node through ort-cpu-kernel.ts, which does not load TensorFlow.js).
 */
import { featureRows, javascriptPairwiseKernel, type PairwiseKernel } from '@diffq/metrics';
import { OnnxGraph } from './onnx-graph.ts';
import { cpuSessions, loadKernelRuntime, statsKernelOnnxruntime } from './ort-cpu-kernel.ts';

export interface PairwiseKernelOptions {
  /** false: use the JavaScript kernel (as when onnxruntime cannot load); default true. */
  onnxruntime?: boolean;
  /** Threads per GEMM; default all cores. */
  threads?: number;
}

export interface OpenedPairwiseKernel extends PairwiseKernel {
  /** Why the JavaScript kernel runs instead of onnxruntime's, when it does. */
  fallback?: string;
}

/** a [N, d], b [M, d] float32 → y [N, M] = max(‖a‖² − 2·a·bᵀ + ‖b‖², 0), float32 throughout. */
function distanceGraph(d: number): Uint8Array {
  const g = new OnnxGraph('distances', ['a', 'b', 'y']);
  const a = g.input('a', 'float32', ['N', d]);
  const b = g.input('b', 'float32', ['M', d]);
  const axis = g.constant([1], 'int64');
  const normA = g.node('ReduceSum', [g.node('Mul', [a, a]), axis], { keepdims: 1 }, 'norm_a');
  const normB = g.node('ReduceSum', [g.node('Mul', [b, b]), axis], { keepdims: 0 }, 'norm_b');
  const cross = g.node('Gemm', [a, b], { transB: 1, alpha: { f: -2 } });
  const sum = g.node('Add', [g.node('Add', [normA, cross]), normB]);
  g.output(g.node('Max', [sum, g.constant([0], 'float32', [])]), 'y', 'float32', ['N', 'M']);
  return g.toModel(17, 'diffq pairwise squared distances, as guided-diffusion evaluator');
}

/** a [N, d], b [M, d] float32 → y [N, M] = a·bᵀ in float64. */
function productGraph(d: number): Uint8Array {
  const g = new OnnxGraph('products', ['a', 'b', 'y']);
  const a = g.cast(g.input('a', 'float32', ['N', d]), 'float64', 'a64');
  const b = g.cast(g.input('b', 'float32', ['M', d]), 'float64', 'b64');
  g.output(g.node('Gemm', [a, b], { transB: 1 }), 'y', 'float64', ['N', 'M']);
  return g.toModel(17, 'diffq pairwise inner products in float64');
}

export async function openPairwiseKernel(options: PairwiseKernelOptions = {}): Promise<OpenedPairwiseKernel> {
  const runtime = await loadKernelRuntime(options.onnxruntime);
  if (!runtime.ort) return { ...javascriptPairwiseKernel, fallback: runtime.fallback };
  const { ort } = runtime;
  const session = cpuSessions(ort, options.threads);
  async function run<T extends Float32Array | Float64Array>(
    kind: 'distances' | 'products',
    a: Float32Array,
    b: Float32Array,
    d: number,
  ): Promise<T> {
    const na = featureRows(a, d, 'a');
    const nb = featureRows(b, d, 'b');
    const s = await session(`${kind}:${d}`, () => (kind === 'distances' ? distanceGraph(d) : productGraph(d)));
    const out = await s.run({ a: new ort.Tensor('float32', a, [na, d]), b: new ort.Tensor('float32', b, [nb, d]) });
    return out.y.data as T;
  }
  return {
    name: 'onnxruntime',
    squaredDistances: (a, b, d) => run<Float32Array>('distances', a, b, d),
    innerProducts: (a, b, d) => run<Float64Array>('products', a, b, d),
  };
}

let processKernel: Promise<OpenedPairwiseKernel> | undefined;

/** The process's pairwise kernel, opened once: onnxruntime's unless DIFFQ_STATS_KERNEL=javascript. */
export function processPairwiseKernel(): Promise<OpenedPairwiseKernel> {
  processKernel ??= openPairwiseKernel({ onnxruntime: statsKernelOnnxruntime() });
  return processKernel;
}
