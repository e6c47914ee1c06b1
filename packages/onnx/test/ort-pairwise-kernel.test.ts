import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeNpz, npyArray } from '@diffq/codecs';
import { FeatureAccumulator, FeatureRows, javascriptPairwiseKernel, kernelInceptionDistance, kidSubsets } from '@diffq/metrics';
import { openPairwiseKernel } from '@diffq/onnx/pairwise-kernel';
import { PYTHON, skipUnlessPython } from '../../../test/fixtures/reference-python.ts';
import { xorshiftUniform } from '../../../test/fixtures/xorshift.ts';

const needNumpy = skipUnlessPython(['numpy']);

/**
 * guided-diffusion's evaluations/evaluator.py, ManifoldEstimator(nhood_sizes=(3,), row_batch_size and
 * col_batch_size 1000, clamp_to_percentile None), with DistanceBlock's float32 distances
 * (_batch_pairwise_distances), transcribed to numpy: manifold_radii, then evaluate_pr(ref, gen).
 */
const ADM_PRECISION_RECALL = `
import sys, json, numpy as np
f = np.load(sys.argv[1])
ref, gen = f['ref'], f['gen']
K, ROWS, COLS = 3, 1000, 1000
def pairwise(u, v):
    nu = np.sum(np.square(u), 1).reshape([-1, 1])
    nv = np.sum(np.square(v), 1).reshape([1, -1])
    return np.maximum(nu - 2 * np.matmul(u, v.T) + nv, np.float32(0))
def manifold_radii(x):
    n = len(x)
    radii = np.zeros([n, 1], dtype=np.float32)
    batch = np.zeros([ROWS, n], dtype=np.float32)
    seq = np.arange(K + 1, dtype=np.int32)
    for b1 in range(0, n, ROWS):
        e1 = min(b1 + ROWS, n)
        for b2 in range(0, n, COLS):
            e2 = min(b2 + COLS, n)
            batch[0:e1 - b1, b2:e2] = pairwise(x[b1:e1], x[b2:e2])
        radii[b1:e1, :] = np.partition(batch[0:e1 - b1, :], seq, axis=1)[:, [K]]
    return radii
def evaluate_pr(f1, r1, f2, r2):
    s1 = np.zeros([len(f1), 1], dtype=bool)
    s2 = np.zeros([len(f2), 1], dtype=bool)
    for b1 in range(0, len(f1), ROWS):
        for b2 in range(0, len(f2), COLS):
            d = pairwise(f1[b1:b1 + ROWS], f2[b2:b2 + COLS]).astype(np.float32)[..., None]
            s1[b1:b1 + ROWS] |= np.any(d <= r2[b2:b2 + COLS], axis=1)
            s2[b2:b2 + COLS] |= np.any(d <= r1[b1:b1 + ROWS][:, None], axis=0)
    return np.mean(s2.astype(np.float64), axis=0), np.mean(s1.astype(np.float64), axis=0)
p, r = evaluate_pr(ref, manifold_radii(ref), gen, manifold_radii(gen))
print(json.dumps({'precision': float(p[0]), 'recall': float(r[0])}))
`;

/** torch-fidelity's metric_kid.py (mmd2 unbiased, polynomial_kernel degree 3, gamma 1/d, coef0 1) on given subsets, in float64. */
const TORCH_FIDELITY_KID = `
import sys, json, numpy as np
f = np.load(sys.argv[1])
gen, ref, xs, ys = f['gen'].astype(np.float64), f['ref'].astype(np.float64), f['x'], f['y']
def mmd2(K_XX, K_XY, K_YY):
    m = K_XX.shape[0]
    Kt_XX_sum = (K_XX.sum(axis=1) - np.diagonal(K_XX)).sum()
    Kt_YY_sum = (K_YY.sum(axis=1) - np.diagonal(K_YY)).sum()
    K_XY_sum = K_XY.sum(axis=0).sum()
    return (Kt_XX_sum + Kt_YY_sum) / (m * (m - 1)) - 2 * K_XY_sum / (m * m)
def polynomial_kernel(X, Y):
    return (np.matmul(X, Y.T) * (1.0 / X.shape[1]) + 1) ** 3
mmds = np.zeros(len(xs))
for i in range(len(xs)):
    f1, f2 = gen[xs[i]], ref[ys[i]]
    mmds[i] = mmd2(polynomial_kernel(f1, f1), polynomial_kernel(f1, f2), polynomial_kernel(f2, f2))
print(json.dumps({'mean': float(np.mean(mmds)), 'std': float(np.std(mmds))}))
`;

/** Non-negative correlated rows [n, d] with a per-set shift, like pool features of two image sets. */
function features(n: number, d: number, seed: number, shift = 0): Float32Array {
  const next = xorshiftUniform(seed);
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < d; j++) x[i * d + j] = (j > 0 ? 0.5 * x[i * d + j - 1] : 0) + next() * (1 + j / d) + shift * (j % 3);
  return x;
}

describe('the pairwise kernel on onnxruntime', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'diffq-pairwise-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('gives the JavaScript kernel’s distances and inner products', async () => {
    const ort = await openPairwiseKernel();
    assert.equal(ort.name, 'onnxruntime', ort.fallback);
    const a = features(70, 33, 1);
    const b = features(45, 33, 2, 0.3);
    const [d1, d2] = [await ort.squaredDistances(a, b, 33), await javascriptPairwiseKernel.squaredDistances(a, b, 33)];
    assert.equal(d1.length, 70 * 45);
    for (let i = 0; i < d1.length; i++)
      assert.ok(Math.abs(d1[i] - d2[i]) <= 1e-5 * Math.max(1, d2[i]), `distance ${i}: ${d1[i]} vs ${d2[i]}`);
    const [p1, p2] = [await ort.innerProducts(a, b, 33), await javascriptPairwiseKernel.innerProducts(a, b, 33)];
    for (let i = 0; i < p1.length; i++) assert.ok(Math.abs(p1[i] - p2[i]) <= 1e-12 * Math.abs(p2[i]), `product ${i}`);
  });

  it('makes a run’s precision/recall, over all its samples, equal guided-diffusion’s ManifoldEstimator in numpy', {
    skip: needNumpy,
  }, async () => {
    const d = 48;
    // More rows than one row batch (2048) of the kernel and than two of the transcription's (1000), shard by shard.
    const gen = features(2300, d, 3, 0.15);
    const ref = features(1300, d, 4);
    const file = join(dir, 'pr.npz');
    writeFileSync(file, encodeNpz({ ref: npyArray(ref, [1300, d]), gen: npyArray(gen, [2300, d]) }));
    const expected = JSON.parse(execFileSync(PYTHON, ['-c', ADM_PRECISION_RECALL, file], { encoding: 'utf8' }));
    const acc = new FeatureAccumulator(['pr'], { featureDim: d }, { pairwiseKernel: await openPairwiseKernel() });
    for (let r = 0; r < 2300; r += 256) await acc.addBatch({ features: gen.slice(r * d, Math.min(2300, r + 256) * d), labels: null });
    const pr = (await acc.finish({ mu: new Float64Array(d), sigma: new Float64Array(d * d), features: ref })).precisionRecall;
    assert.ok(pr);
    assert.ok(
      expected.precision > 0.05 && expected.precision < 0.95 && expected.recall > 0.05 && expected.recall < 0.95,
      JSON.stringify(expected),
    );
    assert.ok(Math.abs(pr.precision - expected.precision) <= 1e-6, `precision ${pr.precision} vs numpy ${expected.precision}`);
    assert.ok(Math.abs(pr.recall - expected.recall) <= 1e-6, `recall ${pr.recall} vs numpy ${expected.recall}`);
    assert.deepEqual([pr.samples, pr.referenceSamples, pr.k], [2300, 1300, 3]);
  });

  it('gives torch-fidelity’s KID (numpy transcription, same subsets) to 1e-6 relative', { skip: needNumpy }, async () => {
    const d = 40;
    const gen = features(500, d, 5, 0.05);
    const ref = features(350, d, 6);
    const subsets = kidSubsets(500, 350, { subsets: 12, subsetSize: 200, seed: 3 });
    const file = join(dir, 'kid.npz');
    const indices = (list: Uint32Array[]) => npyArray(Int32Array.from(list.flatMap((s) => Array.from(s))), [list.length, subsets.size]);
    writeFileSync(
      file,
      encodeNpz({ gen: npyArray(gen, [500, d]), ref: npyArray(ref, [350, d]), x: indices(subsets.x), y: indices(subsets.y) }),
    );
    const expected = JSON.parse(execFileSync(PYTHON, ['-c', TORCH_FIDELITY_KID, file], { encoding: 'utf8' }));
    const kid = await kernelInceptionDistance(await openPairwiseKernel(), FeatureRows.of(gen, d), FeatureRows.of(ref, d), subsets);
    assert.ok(expected.mean > 0 && expected.std > 0, JSON.stringify(expected));
    assert.ok(Math.abs(kid.mean - expected.mean) <= 1e-6 * expected.mean, `KID ${kid.mean} vs numpy ${expected.mean}`);
    assert.ok(Math.abs(kid.std - expected.std) <= 1e-6 * expected.std, `std ${kid.std} vs numpy ${expected.std}`);
    assert.deepEqual([kid.subsets, kid.subsetSize], [12, 200]);
  });
});
