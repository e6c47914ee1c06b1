/**
 * The Fréchet distance's big product (diffusion's stats/congruence.ts), C = Lᵀ·S·L [r, r] for a
 * symmetric S [n, n] and a lower-trapezoidal Cholesky factor L [n, r], on onnxruntime's float64 GEMM.
 * The zeros of L and the symmetry of C are skipped block by block: with the r columns of L cut into
 * blocks j (rows j0… of L non-zero), W_j = S[:, j0…]·L[j0…, j] and C_ij = L[i0…, i]ᵀ·W_j[i0…] for
 * i ≤ j only, ~5n³/6 multiply-adds in GEMMs instead of the 2n³ of two plain products.
 */
import { type FrechetKernel, javascriptFrechetKernel } from '@diffq/metrics';
import type * as Ort from 'onnxruntime-node';
import { OnnxGraph } from './onnx-graph.ts';
import { cpuSessions, loadKernelRuntime, statsKernelOnnxruntime } from './ort-cpu-kernel.ts';

/** Columns of L per block: GEMMs stay large while the skipped zeros approach half of L. */
const BLOCK = 256;

function rowBlocks(r: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let j0 = 0; j0 < r; j0 += BLOCK) out.push([j0, Math.min(r, j0 + BLOCK)]);
  return out;
}

function congruenceGraph(n: number, r: number): Uint8Array {
  const blocks = rowBlocks(r);
  const names = blocks.flatMap((_, i) => blocks.slice(i).map((__, k) => `c_${i}_${i + k}`));
  const g = new OnnxGraph('congruence', ['lt', 's', ...names]);
  const lt = g.input('lt', 'float64', [r, n]);
  const s = g.input('s', 'float64', [n, n]);
  const slice = (x: string, starts: number[], ends: number[], axes: number[]) =>
    g.node('Slice', [x, g.constant(starts, 'int64'), g.constant(ends, 'int64'), g.constant(axes, 'int64')]);
  // Lt_j = Lᵀ[j0…j1, j0…n): block j of L transposed, without its zero columns.
  const lts = blocks.map(([j0, j1]) => slice(lt, [j0, j0], [j1, n], [0, 1]));
  const ws = blocks.map(([j0], j) => g.node('Gemm', [slice(s, [j0], [n], [1]), lts[j]], { transB: 1 }));
  blocks.forEach(([i0, i1], i) => {
    for (let j = i; j < blocks.length; j++) {
      const [j0, j1] = blocks[j];
      // Rows i0… of W_j meet the non-zero columns i0… of Lt_i.
      const lower = i0 > 0 ? slice(ws[j], [i0], [n], [0]) : ws[j];
      g.output(g.node('MatMul', [lts[i], lower]), `c_${i}_${j}`, 'float64', [i1 - i0, j1 - j0]);
    }
  });
  return g.toModel(17, 'diffq congruence: Lᵀ·S·L in float64');
}

/** C = Lᵀ·S·L for lt = Lᵀ [r, n] (row a zero left of column a) and the symmetric s [n, n]; C symmetric exactly. */
function ortCongruence(ort: typeof Ort, threads: number | undefined): FrechetKernel['congruence'] {
  const session = cpuSessions(ort, threads);
  return async (lt, s, n, r) => {
    const opened = await session(`${n}:${r}`, () => congruenceGraph(n, r));
    const out = await opened.run({ lt: new ort.Tensor('float64', lt, [r, n]), s: new ort.Tensor('float64', s, [n, n]) });
    const c = new Float64Array(r * r);
    const blocks = rowBlocks(r);
    blocks.forEach(([i0, i1], i) => {
      for (let j = i; j < blocks.length; j++) {
        const [j0, j1] = blocks[j];
        const w = j1 - j0;
        const block = out[`c_${i}_${j}`].data as Float64Array;
        for (let a = i0; a < i1; a++) {
          const from = i === j ? a : j0;
          for (let b = from; b < j1; b++) {
            const v = block[(a - i0) * w + b - j0];
            c[a * r + b] = v;
            c[b * r + a] = v;
          }
        }
      }
    });
    for (const t of Object.values(out)) t.dispose();
    return c;
  };
}

export interface OpenedFrechetKernel extends FrechetKernel {
  /** Why the JavaScript kernel runs instead of onnxruntime's, when it does. */
  fallback?: string;
}

/** onnxruntime's Fréchet kernel, or the JavaScript one (with the reason) when it is off or cannot load. */
export async function openFrechetKernel(options: { onnxruntime?: boolean; threads?: number } = {}): Promise<OpenedFrechetKernel> {
  const runtime = await loadKernelRuntime(options.onnxruntime);
  if (!runtime.ort) return { ...javascriptFrechetKernel, fallback: runtime.fallback };
  const { ort } = runtime;
  return { name: 'onnxruntime', congruence: ortCongruence(ort, options.threads) };
}

let processKernel: Promise<OpenedFrechetKernel> | undefined;

/** The process's Fréchet kernel, opened once: onnxruntime's unless DIFFQ_STATS_KERNEL=javascript. */
export function processFrechetKernel(): Promise<OpenedFrechetKernel> {
  processKernel ??= openFrechetKernel({ onnxruntime: statsKernelOnnxruntime() });
  return processKernel;
}
