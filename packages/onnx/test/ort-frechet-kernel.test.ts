import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  FeatureAccumulator,
  featureStats,
  frechetDistance,
  frechetDistanceWith,
  type GaussianStats,
  javascriptFrechetKernel,
} from '@diffq/metrics';
import { openFrechetKernel } from '@diffq/onnx/frechet-kernel';
import { xorshiftUniform } from '../../../test/fixtures/xorshift.ts';

/** Rows [n, d] of correlated, unequally scaled values, some columns constant (zero variance). */
function features(n: number, d: number, seed: number): Float32Array {
  const next = xorshiftUniform(seed);
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) x[i * d + j] = j % 17 === 5 ? 1 : (j > 0 ? 0.5 * x[i * d + j - 1] : 0) + next() * (1 + j / d);
  }
  return x;
}

const D = 300;
/** Full rank but for the constant columns: a C of two column blocks (256 + rest). */
const wide = featureStats(features(700, D, 3), D);
const wide2 = featureStats(features(650, D, 5), D);
/** 90 samples: rank ≤ 89, the side that gets factored. */
const narrow = { ...featureStats(features(90, D, 7), D), samples: 90 };

function relative(a: number, b: number): number {
  return Math.abs(a - b) / Math.abs(b);
}

describe('openFrechetKernel (onnxruntime congruence)', async () => {
  const ort = await openFrechetKernel({ threads: 1 });

  it('runs on onnxruntime here', () => {
    assert.equal(ort.name, 'onnxruntime', ort.fallback);
  });

  it('gives the JavaScript kernel’s Fréchet distance, full-rank and rank-deficient', async () => {
    const pairs: Array<[GaussianStats, GaussianStats]> = [
      [wide, wide2],
      [narrow, wide],
      [wide2, narrow],
    ];
    for (const [a, b] of pairs) {
      // Fresh arrays each time: a cached factor must not hide a difference between the kernels.
      const copy = (g: GaussianStats) => ({ ...g, sigma: g.sigma.slice() });
      const js = frechetDistance(copy(a), copy(b));
      const fast = await frechetDistanceWith(ort, copy(a), copy(b));
      assert.ok(js > 1, `a meaningful distance (${js})`);
      assert.ok(relative(fast, js) <= 1e-12, `onnxruntime ${fast} vs JavaScript ${js}`);
    }
  });

  it('returns the congruence Lᵀ·S·L exactly symmetric and equal to the JavaScript one', async () => {
    const n = 290;
    const r = 270;
    const lt = new Float64Array(r * n);
    for (let a = 0; a < r; a++) for (let k = a; k < n; k++) lt[a * n + k] = Math.sin(a * 7 + k * 3) + (k === a ? 2 : 0);
    const sym = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) sym[i * n + j] = wide.sigma[i * D + j];
    const c = await ort.congruence(lt, sym, n, r);
    const reference = await javascriptFrechetKernel.congruence(lt, sym, n, r);
    let err = 0;
    let scale = 0;
    for (let i = 0; i < r; i++) {
      for (let j = 0; j < r; j++) {
        assert.equal(c[i * r + j], c[j * r + i]);
        err = Math.max(err, Math.abs(c[i * r + j] - reference[i * r + j]));
        scale = Math.max(scale, Math.abs(reference[i * r + j]));
      }
    }
    assert.ok(err / scale <= 1e-13, `C differs by ${err / scale}`);
  });

  it('falls back to the JavaScript kernel, with the reason, when onnxruntime is off', async () => {
    const fallback = await openFrechetKernel({ onnxruntime: false });
    assert.equal(fallback.name, 'javascript');
    assert.match(fallback.fallback ?? '', /onnxruntime/);
    const js = frechetDistance({ ...wide, sigma: wide.sigma.slice() }, narrow);
    assert.ok(relative(await frechetDistanceWith(fallback, { ...wide, sigma: wide.sigma.slice() }, narrow), js) <= 1e-12);
  });

  it('drives FeatureAccumulator.finish to the JavaScript kernel’s FID', async () => {
    const x = features(120, D, 11);
    const viaOrt = new FeatureAccumulator(['fid'], { featureDim: D }, { frechetKernel: ort });
    const viaJs = new FeatureAccumulator(['fid'], { featureDim: D });
    await viaOrt.addBatch({ features: x, labels: null });
    viaJs.add({ features: x, labels: null });
    const a = await viaOrt.finish({ ...wide, sigma: wide.sigma.slice() });
    const b = await viaJs.finish({ ...wide, sigma: wide.sigma.slice() });
    assert.ok(relative(a.fid as number, b.fid as number) <= 1e-12);
  });
});
