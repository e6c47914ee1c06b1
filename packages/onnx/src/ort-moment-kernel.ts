/**
 * The moment kernel (diffusion's stats/moment-kernel.ts) on onnxruntime: a small graph casts a batch
 * of features to float64 and returns Σx and Xᵀ·X from the CPU provider's float64 GEMM (MLAS, SIMD,
 * every core), ~15× the JavaScript kernel's rate at Inception's d = 2048. Products of float32 values
 * are exact in float64, so its sums differ from the JavaScript kernel's only in the order of the
 * float64 additions (~1e-16 relative).
 *
 * Xᵀ·X is symmetric, so only the blocks on and above the diagonal are multiplied: with the columns cut
 * into b blocks, b(b+1)/2 GEMMs of (d/b)² cost (b+1)/2b of the full product (9/16 at the default b = 8).
 *
 * Without onnxruntime (no native binary for the platform, or `onnxruntime: false`) the JavaScript
 * kernel is returned with the reason in `fallback`. onnxruntime-node is loaded through ort-cpu-kernel.ts,
 * not onnx-engine.ts, so that `@diffq/onnx/moment-kernel` does not load TensorFlow.js (`diffq status`
 * computes a live FID with it).
 */
import { type FeatureArray, featureRows, javascriptMomentKernel, type MomentKernel, type Moments } from '@diffq/metrics';
import { OnnxGraph } from './onnx-graph.ts';
import { cpuSessions, loadKernelRuntime, statsKernelOnnxruntime } from './ort-cpu-kernel.ts';

export interface MomentKernelOptions {
  /** false: use the JavaScript kernel (as when onnxruntime cannot load); default true. */
  onnxruntime?: boolean;
  /** Threads per GEMM; default all cores. */
  threads?: number;
  /** Column blocks b of the symmetric product; default 8 (measured a little ahead of 2 and 4 at d = 2048). */
  blocks?: number;
  /** Rows per session run, bounding the float64 copy of a large batch; default 8192. */
  rowsPerRun?: number;
}

export interface OpenedMomentKernel extends MomentKernel {
  /** Why the JavaScript kernel runs instead of onnxruntime's, when it does. */
  fallback?: string;
}

type InputType = 'float32' | 'float64';

/** Column ranges [start, end) of b near-equal blocks of 0 … d. */
function columnBlocks(d: number, b: number): Array<[number, number]> {
  const count = Math.max(1, Math.min(b, d));
  return Array.from({ length: count }, (_, i) => [Math.floor((i * d) / count), Math.floor(((i + 1) * d) / count)]);
}

/** The graph: x [N, d] → sum [d] and the upper blocks g_i_j = X_iᵀ·X_j (i ≤ j), all float64. */
function momentGraph(d: number, blocks: Array<[number, number]>, input: InputType): Uint8Array {
  const names = blocks.flatMap((_, i) => blocks.slice(i).map((__, k) => `g_${i}_${i + k}`));
  const g = new OnnxGraph('moments', ['x', 'sum', ...names]);
  const x = g.input('x', input, ['N', d]);
  const xd = input === 'float64' ? x : g.cast(x, 'float64', 'x64');
  g.output(g.node('ReduceSum', [xd, g.constant([0], 'int64')], { keepdims: 0 }), 'sum', 'float64', [d]);
  const parts = blocks.map(([start, end]) =>
    blocks.length === 1 ? xd : g.node('Slice', [xd, g.constant([start], 'int64'), g.constant([end], 'int64'), g.constant([1], 'int64')]),
  );
  blocks.forEach(([s0, e0], i) => {
    for (let j = i; j < blocks.length; j++) {
      const [s1, e1] = blocks[j];
      g.output(g.node('Gemm', [parts[i], parts[j]], { transA: 1 }), `g_${i}_${j}`, 'float64', [e0 - s0, e1 - s1]);
    }
  });
  return g.toModel(17, 'diffq moments: Σx and Xᵀ·X in float64');
}

/** Copies the upper triangle of s [d, d] onto the lower, tile by tile (a column walk of 32 MB misses the cache on every element). */
function mirrorUpper(s: Float64Array, d: number): void {
  const T = 64;
  for (let i0 = 0; i0 < d; i0 += T) {
    for (let j0 = i0; j0 < d; j0 += T) {
      const i1 = Math.min(d, i0 + T);
      const j1 = Math.min(d, j0 + T);
      for (let j = j0; j < j1; j++) {
        const row = j * d;
        for (let i = i0; i < Math.min(i1, j); i++) s[row + i] = s[i * d + j];
      }
    }
  }
}

export async function openMomentKernel(options: MomentKernelOptions = {}): Promise<OpenedMomentKernel> {
  const runtime = await loadKernelRuntime(options.onnxruntime);
  if (!runtime.ort) return { ...javascriptMomentKernel, fallback: runtime.fallback };
  const { ort } = runtime;
  const blockCount = options.blocks ?? 8;
  const rowsPerRun = options.rowsPerRun ?? 8192;
  if (!Number.isInteger(blockCount) || blockCount < 1) throw new RangeError(`blocks is ${blockCount}; accepted: an integer ≥ 1`);
  if (!Number.isInteger(rowsPerRun) || rowsPerRun < 1) throw new RangeError(`rowsPerRun is ${rowsPerRun}; accepted: an integer ≥ 1`);
  const session = cpuSessions(ort, options.threads);

  async function accumulate(m: Moments, features: FeatureArray): Promise<Moments> {
    const d = m.dim;
    const n = featureRows(features, d);
    const blocks = columnBlocks(d, blockCount);
    const input: InputType = features instanceof Float64Array ? 'float64' : 'float32';
    const run = await session(`${d}:${input}`, () => momentGraph(d, blocks, input));
    for (let r0 = 0; r0 < n; r0 += rowsPerRun) {
      const rows = Math.min(rowsPerRun, n - r0);
      const x = new ort.Tensor(input, features.subarray(r0 * d, (r0 + rows) * d), [rows, d]);
      const out = await run.run({ x });
      const sum = out.sum.data as Float64Array;
      for (let j = 0; j < d; j++) m.sum[j] += sum[j];
      // Upper triangle only, then mirrored, so that Σx·xᵀ stays exactly symmetric.
      blocks.forEach(([s0, e0], i) => {
        for (let j = i; j < blocks.length; j++) {
          const [s1, e1] = blocks[j];
          const w = e1 - s1;
          const g = out[`g_${i}_${j}`].data as Float64Array;
          for (let a = s0; a < e0; a++) {
            const row = a * d;
            const from = i === j ? a : s1;
            const gRow = (a - s0) * w - s1;
            for (let c = from; c < e1; c++) m.sumOuter[row + c] += g[gRow + c];
          }
        }
      });
      for (const t of Object.values(out)) t.dispose();
      m.count += rows;
    }
    mirrorUpper(m.sumOuter, d);
    return m;
  }
  return { name: 'onnxruntime', accumulate };
}

let processKernel: Promise<OpenedMomentKernel> | undefined;

/**
 * The process's moment kernel, opened once: onnxruntime's unless DIFFQ_STATS_KERNEL=javascript
 * (or onnxruntime cannot load). What the finalizer, `diffq fid` and `diffq ref-stats` use.
 */
export function processMomentKernel(): Promise<OpenedMomentKernel> {
  processKernel ??= openMomentKernel({ onnxruntime: statsKernelOnnxruntime() });
  return processKernel;
}
