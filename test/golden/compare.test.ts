import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StoredTensor } from '@diffq/networks';
import { compareTensor } from './compare.ts';

const ints = (values: number[]): StoredTensor => ({ dtype: 'I64', shape: [values.length], data: BigInt64Array.from(values.map(BigInt)) });
/** 200 levels, as a uint8 image tensor's reference. */
const ref = ints(Array.from({ length: 200 }, (_, i) => i % 256));
const UINT8 = { rel_l2: 1e-4, max_abs_diff: 1, max_mismatch_fraction: 0.01 };
const moved = (changes: [number, number][]) => {
  const out = Array.from(ref.data as BigInt64Array, Number);
  for (const [i, d] of changes) out[i] += d;
  return out;
};

describe('the golden comparison of integer tensors', () => {
  it('requires exact equality without a max_abs_diff', () => {
    assert.equal(compareTensor('t', ref, moved([]), { rel_l2: 1e-4 }).ratio, 0);
    assert.equal(compareTensor('t', ref, moved([[3, 1]]), { rel_l2: 1e-4 }).ratio, Number.POSITIVE_INFINITY);
  });

  it('passes uint8 levels within ±1 on at most 1 % of the elements', () => {
    const two = compareTensor(
      'uint8',
      ref,
      moved([
        [3, 1],
        [150, -1],
      ]),
      UINT8,
    );
    assert.equal(two.ratio, 1, 'two of 200 is exactly the 1 % allowed');
    assert.match(two.detail, /uint8: 2 of 200 differ \(1\.000 %\), max \|diff\| 1/);
  });

  it('fails a level off by 2, or more than 1 % of the elements off by 1', () => {
    assert.equal(compareTensor('uint8', ref, moved([[3, 2]]), UINT8).ratio, 2);
    assert.equal(
      compareTensor(
        'uint8',
        ref,
        moved([
          [3, 1],
          [4, 1],
          [5, -1],
        ]),
        UINT8,
      ).ratio,
      1.5,
    );
  });
});
