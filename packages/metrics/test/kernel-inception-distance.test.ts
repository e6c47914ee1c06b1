import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FeatureAccumulator, FeatureRows, javascriptPairwiseKernel, kernelInceptionDistance, kidSubsets } from '@diffq/metrics';
import { xorshiftUniform } from '../../../test/fixtures/xorshift.ts';

const D = 6;
function rows(n: number, seed: number, shift = 0): Float32Array {
  const next = xorshiftUniform(seed);
  return Float32Array.from({ length: n * D }, () => next() + shift);
}

describe('KID subsets and the accumulator’s KID', () => {
  it('draws distinct in-range rows per subset, the same for the same seed and others for another', () => {
    const a = kidSubsets(50, 30, { subsets: 5, subsetSize: 20, seed: 1 });
    assert.equal(a.size, 20);
    for (const [list, n] of [
      [a.x, 50],
      [a.y, 30],
    ] as const) {
      for (const s of list) {
        assert.equal(new Set(s).size, 20, 'no row twice in a subset');
        assert.ok(s.every((i) => i < n));
      }
    }
    assert.deepEqual(kidSubsets(50, 30, { subsets: 5, subsetSize: 20, seed: 1 }), a);
    assert.notDeepEqual(kidSubsets(50, 30, { subsets: 5, subsetSize: 20, seed: 2 }).x, a.x);
  });

  it('caps the subset size by the smaller set, as clean-fid does, and refuses bad settings by name', () => {
    assert.equal(kidSubsets(50, 30).size, 30);
    assert.deepEqual(kidSubsets(50, 30).x[0].length, 30);
    assert.throws(() => kidSubsets(50, 30, { subsets: 0 }), /KID subsets is 0; accepted: an integer ≥ 1/);
    assert.throws(() => kidSubsets(1, 30), /at least 2 rows in each set/);
  });

  it('grows with the distance between the sets and is reported by the accumulator', async () => {
    const ref = rows(60, 3);
    const near = rows(80, 4);
    const far = rows(80, 5, 0.5);
    const kid = async (gen: Float32Array) => {
      const acc = new FeatureAccumulator(['kid'], { featureDim: D }, { kid: { subsets: 10, subsetSize: 40 } });
      acc.add({ features: gen.slice(0, 50 * D), labels: null });
      acc.add({ features: gen.slice(50 * D), labels: null });
      const r = await acc.finish({ mu: new Float64Array(D), sigma: new Float64Array(D * D), features: ref });
      const direct = await kernelInceptionDistance(
        javascriptPairwiseKernel,
        FeatureRows.of(gen, D),
        FeatureRows.of(ref, D),
        kidSubsets(80, 60, { subsets: 10, subsetSize: 40 }),
      );
      assert.deepEqual(r.kid, direct);
      return direct.mean;
    };
    const [k1, k2] = [await kid(near), await kid(far)];
    assert.ok(Math.abs(k1) < 0.01 && k2 > 10 * Math.abs(k1), `near ${k1}, far ${k2}`);
  });
});
