import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  emptyMoments,
  FeatureAccumulator,
  featureStats,
  frechetDistance,
  javascriptMomentKernel,
  type MomentKernel,
  type Moments,
  mergeMoments,
  momentsToStats,
} from '@diffq/metrics';
import { openMomentKernel } from '@diffq/onnx/moment-kernel';
import { xorshiftUniform } from '../../../test/fixtures/xorshift.ts';

const D = 37;
const N = 301;

/** Non-negative, unequally scaled, correlated rows [n, D], like pool features. */
function features(n: number, seed: number): Float32Array {
  const next = xorshiftUniform(seed);
  const x = new Float32Array(n * D);
  for (let i = 0; i < n; i++) for (let j = 0; j < D; j++) x[i * D + j] = (j > 0 ? 0.6 * x[i * D + j - 1] : 0) + next() * (1 + j / D);
  return x;
}

const all = features(N, 7);
const reference = featureStats(features(250, 11), D);
/** Shard boundaries of `all`, uneven on purpose. */
const CUTS = [0, 1, 64, 65, 190, N];

async function shardMoments(kernel: MomentKernel, order: number[]): Promise<Moments[]> {
  const parts: Moments[] = [];
  for (const s of order) parts.push(await kernel.accumulate(emptyMoments(D), all.subarray(CUTS[s] * D, CUTS[s + 1] * D)));
  return parts;
}

/** Largest |a − b| relative to the largest |b|, over every entry. */
function relativeError(a: Float64Array, b: Float64Array): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    err = Math.max(err, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return err / scale;
}

function relative(a: number, b: number): number {
  return Math.abs(a - b) / Math.abs(b);
}

describe('openMomentKernel (onnxruntime float64 Σx·xᵀ)', async () => {
  // Uneven column blocks (37 = 9 + 9 + 9 + 10) and batches split across session runs.
  const ort = await openMomentKernel({ blocks: 4, rowsPerRun: 50, threads: 1 });

  it('runs on onnxruntime here', () => {
    assert.equal(ort.name, 'onnxruntime', ort.fallback);
  });

  it('accumulates the same N, Σx and Σx·xᵀ as the JavaScript kernel, batch after batch', async () => {
    const js = emptyMoments(D);
    const fast = emptyMoments(D);
    for (let s = 0; s + 1 < CUTS.length; s++) {
      const batch = all.subarray(CUTS[s] * D, CUTS[s + 1] * D);
      await javascriptMomentKernel.accumulate(js, batch);
      await ort.accumulate(fast, batch);
    }
    assert.equal(fast.count, N);
    assert.ok(relativeError(fast.sum, js.sum) <= 1e-12, `Σx differs by ${relativeError(fast.sum, js.sum)}`);
    assert.ok(relativeError(fast.sumOuter, js.sumOuter) <= 1e-12, `Σx·xᵀ differs by ${relativeError(fast.sumOuter, js.sumOuter)}`);
    for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) assert.equal(fast.sumOuter[i * D + j], fast.sumOuter[j * D + i]);
  });

  it('takes float64 features too', async () => {
    const x = Float64Array.from(all.subarray(0, 80 * D), (v, i) => v + i * 1e-9);
    const js = await javascriptMomentKernel.accumulate(emptyMoments(D), x);
    const fast = await ort.accumulate(emptyMoments(D), x);
    assert.ok(relativeError(fast.sumOuter, js.sumOuter) <= 1e-12);
    assert.ok(relativeError(fast.sum, js.sum) <= 1e-12);
  });

  it('gives the all-at-once FID within 1e-9 for any shard order and merge order, whichever kernel', async () => {
    const atOnce = frechetDistance(featureStats(all, D), reference);
    const merged = (parts: Moments[]) => parts.reduce((acc, p) => mergeMoments(acc, p), emptyMoments(D));
    const fids: number[] = [];
    for (const kernel of [ort, javascriptMomentKernel]) {
      fids.push(frechetDistance(momentsToStats(merged(await shardMoments(kernel, [0, 1, 2, 3, 4]))), reference));
      fids.push(frechetDistance(momentsToStats(merged(await shardMoments(kernel, [4, 2, 0, 3, 1]))), reference));
      // One running accumulator fed in yet another order.
      const running = emptyMoments(D);
      for (const s of [3, 0, 4, 1, 2]) await kernel.accumulate(running, all.subarray(CUTS[s] * D, CUTS[s + 1] * D));
      fids.push(frechetDistance(momentsToStats(running), reference));
    }
    assert.ok(atOnce > 0.01, `a meaningful FID (${atOnce})`);
    for (const fid of fids) assert.ok(relative(fid, atOnce) <= 1e-9, `FID ${fid} vs all at once ${atOnce}`);
  });

  it('falls back to the JavaScript kernel, with the reason, when onnxruntime is off', async () => {
    const fallback = await openMomentKernel({ onnxruntime: false });
    assert.equal(fallback.name, 'javascript');
    assert.match(fallback.fallback ?? '', /onnxruntime/);
    const m = await fallback.accumulate(emptyMoments(D), all);
    const fast = await ort.accumulate(emptyMoments(D), all);
    assert.ok(relativeError(m.sumOuter, fast.sumOuter) <= 1e-12);
  });

  it('drives FeatureAccumulator.addBatch to the same statistics as add', async () => {
    const viaOrt = new FeatureAccumulator(['fid'], { featureDim: D }, { momentKernel: ort });
    const viaJs = new FeatureAccumulator(['fid'], { featureDim: D });
    for (let s = 0; s + 1 < CUTS.length; s++) {
      const batch = { features: all.slice(CUTS[s] * D, CUTS[s + 1] * D), labels: null };
      await viaOrt.addBatch(batch);
      viaJs.add(batch);
    }
    const a = await viaOrt.finish(reference);
    const b = await viaJs.finish(reference);
    assert.equal(a.samples, N);
    assert.ok(relative(a.fid as number, b.fid as number) <= 1e-9);
    assert.ok(relativeError(a.stats.sigma, b.stats.sigma) <= 1e-12);
  });

  it('rejects features that are not whole rows, naming the count', async () => {
    await assert.rejects(ort.accumulate(emptyMoments(D), new Float32Array(D + 1)), /38 values, not a whole number of rows of dimension 37/);
  });
});
