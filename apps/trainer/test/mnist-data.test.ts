import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadMnist } from '@diffq/trainer';

describe('the mnist package digits', () => {
  it('has 10,000 labelled 28×28 digits of every class, pixels as bytes', async () => {
    const data = await loadMnist();
    assert.equal(data.count, 10_000);
    assert.deepEqual(data.imageShape, [1, 28, 28]);
    const perClass = new Array(10).fill(0);
    for (const y of data.labels!) perClass[y] += 1;
    assert.ok(
      perClass.every((n) => n > 800),
      `per class: ${perClass}`,
    );
    assert.equal(Math.max(...data.pixels.subarray(0, 784)), 255);
    // A digit has ink in its middle and an empty border.
    const first = data.pixels.subarray(0, 784);
    assert.ok(first.subarray(0, 28).every((v) => v === 0));
    assert.ok(first.reduce((n, v) => n + (v > 128 ? 1 : 0), 0) > 50);
  });

  it('lists classes round-robin so that a prefix covers every digit', async () => {
    const data = await loadMnist(20);
    assert.equal(data.count, 20);
    assert.deepEqual([...data.labels!], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});
