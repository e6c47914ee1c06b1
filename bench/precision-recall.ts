/**
 * Precision/recall and KID at the evaluator's scale, on Inception's width (d = 2048):
 * - the JavaScript pairwise kernel against onnxruntime's on the same 600 × 600 sets, side by side
 *   (equal results, times and their ratio);
 * - precision/recall of 50,000 generated against 10,000 reference rows, every row, as
 *   guided-diffusion's evaluator compares a sample batch with its reference batch, on onnxruntime;
 * - KID with torch-fidelity's defaults (100 subsets of 1,000) on the same sets.
 * The features are synthetic (non-negative, correlated, like pool3 activations): the cost depends only
 * on the counts. DIFFQ_BENCH_PR_SAMPLES / DIFFQ_BENCH_PR_REFERENCE change the 50,000 / 10,000.
 */
import { loadavg } from 'node:os';
import {
  FeatureRows,
  javascriptPairwiseKernel,
  kernelInceptionDistance,
  kidSubsets,
  type PairwiseKernel,
  precisionRecall,
} from '@diffq/metrics';
import { openPairwiseKernel } from '@diffq/onnx/pairwise-kernel';
import { xorshiftUniform } from '../test/fixtures/xorshift.ts';

const DIM = 2048;

function features(n: number, seed: number, shift: number): FeatureRows {
  const next = xorshiftUniform(seed);
  const rows = new FeatureRows(DIM);
  const block = 1024;
  for (let r = 0; r < n; r += block) {
    const m = Math.min(block, n - r);
    const x = new Float32Array(m * DIM);
    for (let i = 0; i < m; i++) {
      let prev = 0;
      for (let j = 0; j < DIM; j++) {
        prev = 0.3 * prev + next() * next() * 2 + (j % 7 === 0 ? shift : 0);
        x[i * DIM + j] = prev;
      }
    }
    rows.append(x);
  }
  return rows;
}

async function timed<T>(run: () => Promise<T>): Promise<{ value: T; wall: number; cpu: number }> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const value = await run();
  const used = process.cpuUsage(cpu);
  return { value, wall: (performance.now() - started) / 1000, cpu: (used.user + used.system) / 1e6 };
}

const fmt = (t: { wall: number; cpu: number }) => `${t.wall.toFixed(1)} s wall, ${t.cpu.toFixed(1)} s CPU`;

export async function benchPrecisionRecall(): Promise<void> {
  const samples = Number(process.env.DIFFQ_BENCH_PR_SAMPLES ?? 50_000);
  const referenceRows = Number(process.env.DIFFQ_BENCH_PR_REFERENCE ?? 10_000);
  const ort: PairwiseKernel = await openPairwiseKernel();
  console.log(`== precision/recall and KID, d = ${DIM} (load average ${loadavg()[0].toFixed(1)}; kernel ${ort.name})`);

  const small = [features(600, 1, 0.1), features(600, 2, 0)] as const;
  const js = await timed(() => precisionRecall(javascriptPairwiseKernel, small[1], small[0]));
  const fast = await timed(() => precisionRecall(ort, small[1], small[0]));
  console.log(
    `600 × 600 precision/recall: JavaScript ${fmt(js)}; onnxruntime ${fmt(fast)}; ratio ${(js.wall / fast.wall).toFixed(1)}× wall`,
  );
  console.log(`  same result: ${JSON.stringify(js.value) === JSON.stringify(fast.value)} (${JSON.stringify(fast.value)})`);

  const generated = features(samples, 3, 0.1);
  const reference = features(referenceRows, 4, 0);
  const pr = await timed(() => precisionRecall(ort, reference, generated));
  console.log(`${samples} × ${referenceRows} precision/recall, every row: ${fmt(pr)} (${JSON.stringify(pr.value)})`);
  const kid = await timed(() => kernelInceptionDistance(ort, generated, reference, kidSubsets(samples, referenceRows)));
  console.log(
    `KID, ${kid.value.subsets} subsets of ${kid.value.subsetSize}: ${fmt(kid)} (${kid.value.mean.toExponential(4)} ± ${kid.value.std.toExponential(2)})`,
  );
  console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
}
