import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seedNormals } from '@diffq/diffusion';
import { FeatureRows } from '../src/feature-rows.ts';
import { javascriptPairwiseKernel as kernel } from '../src/pairwise-kernel.ts';
import { precisionRecallOf, manifoldRadii as radiiOf } from '../src/precision-recall.ts';

/** Points (x, y) as a [n, 2] feature array. */
const points = (xy: [number, number][]) => Float32Array.from(xy.flat());
const precisionRecall = (real: Float32Array, fake: Float32Array, d: number, k = 3) => precisionRecallOf(kernel, real, fake, d, k, 7);
/** Row batches of 7 so that every test crosses batch boundaries and the symmetric-block path. */
const manifoldRadii = async (x: Float32Array, d: number, k = 3) => Array.from(await radiiOf(kernel, FeatureRows.of(x, d), k, 7));
const line = (from: number, to: number, y = 0, x0 = 0): [number, number][] =>
  Array.from({ length: to - from + 1 }, (_, i) => [x0 + from + i, y] as [number, number]);

/** Brute force: sort every row of squared distances, take element k; then count covered points. */
function bruteForce(real: Float32Array, fake: Float32Array, d: number, k: number) {
  const dist = (a: Float32Array, i: number, b: Float32Array, j: number) => {
    let s = 0;
    for (let p = 0; p < d; p++) s += (a[i * d + p] - b[j * d + p]) ** 2;
    return Math.fround(s);
  };
  const radii = (x: Float32Array) =>
    Array.from(
      { length: x.length / d },
      (_, i) => Array.from({ length: x.length / d }, (_, j) => dist(x, i, x, j)).sort((a, b) => a - b)[k],
    );
  const rr = radii(real);
  const rf = radii(fake);
  const nr = real.length / d;
  const nf = fake.length / d;
  let precision = 0;
  for (let j = 0; j < nf; j++) if (rr.some((r, i) => dist(real, i, fake, j) <= r)) precision++;
  let recall = 0;
  for (let i = 0; i < nr; i++) if (rf.some((r, j) => dist(real, i, fake, j) <= r)) recall++;
  return { precision: precision / nf, recall: recall / nr };
}

describe('precision and recall (k-NN manifolds)', () => {
  it('takes the radius as the squared distance to the 3rd nearest other point', async () => {
    // Points 0…9 on a line: inner points have neighbours at 1, 1, 2; the ends at 1, 2, 3.
    assert.deepEqual(await manifoldRadii(points(line(0, 9)), 2), [9, 4, 4, 4, 4, 4, 4, 4, 4, 9]);
  });

  it('counts generated points inside the real manifold and real points inside the generated one', async () => {
    const real = points(line(0, 9));
    // Half of the generated points copy real points 0…4, half sit in a far cluster.
    const generated = points([...line(0, 4), ...line(0, 4, 0, 100)]);
    // Precision: the copies are inside, the far cluster is not → 5/10. Recall: the generated balls around
    // 0…4 (radii 9, 4, 4, 4, 9) reach real points 0…7 (7 exactly on the boundary of 4's ball) → 8/10.
    assert.deepEqual(await precisionRecall(real, generated, 2), { precision: 0.5, recall: 0.8 });
    assert.deepEqual(await precisionRecall(generated, real, 2), { precision: 0.8, recall: 0.5 });
  });

  it('is perfect for identical sets and zero for disjoint far-apart sets', async () => {
    const a = points(line(0, 20));
    assert.deepEqual(await precisionRecall(a, a, 2), { precision: 1, recall: 1 });
    assert.deepEqual(await precisionRecall(a, points(line(0, 20, 500)), 2), { precision: 0, recall: 0 });
  });

  it('agrees with a brute-force computation on sets larger than one tile, from float32 arrays', async () => {
    const d = 5;
    const real = Float32Array.from(seedNormals(1, 0, 150 * d));
    const fake = Float32Array.from(seedNormals(2, 0, 131 * d), (v) => 1.3 * v + 0.4);
    const expected = bruteForce(real, fake, d, 3);
    assert.deepEqual(await precisionRecall(real, fake, d), expected);
    assert.ok(expected.precision > 0 && expected.precision < 1 && expected.recall > 0 && expected.recall < 1);
  });

  it('agrees with brute force when points repeat, so that radii of 0 and ties on a ball boundary decide', async () => {
    const d = 3;
    // Integer grid points with many duplicates: squared distances are exact integers and tie often.
    const grid = (seed: number, n: number) => Float32Array.from(seedNormals(seed, 0, n * d), (v) => Math.round(v));
    const real = grid(3, 90);
    const fake = grid(4, 70);
    const expected = bruteForce(real, fake, d, 3);
    assert.deepEqual(await precisionRecall(real, fake, d), expected);
    assert.ok(
      (await manifoldRadii(real, d)).some((r) => r === 0),
      'some point has 3 copies of itself',
    );
  });

  it('rejects a neighbourhood larger than the set', async () => {
    await assert.rejects(manifoldRadii(points(line(0, 2)), 2, 3), /k is 3; accepted: an integer in \[1, 2\] for 3 feature vectors/);
  });
});
