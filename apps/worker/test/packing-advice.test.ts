import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { packingAdvice } from '../src/packing-advice.ts';

describe('advice on shard sizes the batch size does not divide', () => {
  it('says nothing when every micro-batch is full', () => {
    assert.equal(packingAdvice(256, 32), undefined);
    assert.equal(packingAdvice(256, 256), undefined);
  });

  it('names the part-empty micro-batch, the capacity lost on a GPU and a shard size that fits', () => {
    assert.equal(
      packingAdvice(100, 32),
      'shards of 100 seeds end in a micro-batch of 4 of --batch-size 32: where a forward costs the same whatever its batch (a GPU), 22 % of the forward capacity is wasted; launch with --shard-size 96 (a multiple of 32) or give workers a --batch-size that divides 100',
    );
  });

  it('proposes the batch size itself for a shard smaller than one micro-batch', () => {
    assert.match(packingAdvice(16, 64) ?? '', /micro-batch of 16 of --batch-size 64: .* 75 % .* --shard-size 64 \(a multiple of 64\)/);
  });
});
