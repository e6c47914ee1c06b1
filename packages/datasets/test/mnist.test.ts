import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { isHeldOut, MNIST_HELDOUT_PER_CLASS, mnistDigits } from '@diffq/datasets';

const PIXELS = 28 * 28;
const digest = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

function perClass(labels: Int32Array): number[] {
  const counts = new Array(10).fill(0);
  for (const y of labels) counts[y] += 1;
  return counts;
}

describe('the mnist package digits', () => {
  it('has 10,000 labelled 28×28 digits of every class, pixels as uint8 NHWC', async () => {
    const all = await mnistDigits('all');
    assert.equal(all.count, 10_000);
    assert.deepEqual(all.shape, [10_000, 28, 28, 1]);
    assert.equal(all.images.length, 10_000 * PIXELS);
    assert.ok(
      perClass(all.labels).every((n) => n > 800),
      `per class: ${perClass(all.labels)}`,
    );
    const first = all.images.subarray(0, PIXELS);
    assert.equal(Math.max(...first), 255);
    // A digit has ink in its middle and an empty border.
    assert.ok(first.subarray(0, 28).every((v) => v === 0));
    assert.ok(first.reduce((n, v) => n + (v > 128 ? 1 : 0), 0) > 50);
  });

  it('lists classes round-robin so that a prefix covers every digit', async () => {
    for (const split of ['all', 'train', 'heldout'] as const) {
      const { labels } = await mnistDigits(split);
      assert.deepEqual([...labels.subarray(0, 20)], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9], split);
    }
  });

  it('holds out 200 evenly spaced digits of each class, 2,000 in all, and trains on the other 8,000', async () => {
    const [all, train, heldout] = await Promise.all([mnistDigits('all'), mnistDigits('train'), mnistDigits('heldout')]);
    assert.equal(heldout.count, 2_000);
    assert.equal(train.count, 8_000);
    assert.deepEqual(perClass(heldout.labels), new Array(10).fill(MNIST_HELDOUT_PER_CLASS));
    assert.deepEqual(
      perClass(train.labels).map((n, d) => n + MNIST_HELDOUT_PER_CLASS - perClass(all.labels)[d]),
      new Array(10).fill(0),
    );
    // Every digit is in exactly one split: the two splits' images are the whole set's, as a multiset.
    const key = (d: typeof all, i: number) => `${d.labels[i]}:${digest(d.images.subarray(i * PIXELS, (i + 1) * PIXELS))}`;
    const counts = new Map<string, number>();
    for (let i = 0; i < all.count; i++) counts.set(key(all, i), (counts.get(key(all, i)) ?? 0) + 1);
    for (const d of [train, heldout]) {
      for (let i = 0; i < d.count; i++) {
        const k = key(d, i);
        assert.ok((counts.get(k) ?? 0) > 0, `digit ${i} of a split is not in the whole set, or appears twice`);
        counts.set(k, counts.get(k)! - 1);
      }
    }
    // The held-out digits of class 0 are its file's digits ⌊(k + ½)·n / 200⌋, in file order.
    const zeros = (d: typeof all) =>
      [...d.labels.keys()].filter((i) => d.labels[i] === 0).map((i) => d.images.subarray(i * PIXELS, (i + 1) * PIXELS));
    const allZeros = zeros(all);
    const heldZeros = zeros(heldout);
    for (const k of [0, 1, 100, 199]) {
      assert.equal(digest(heldZeros[k]), digest(allZeros[Math.floor(((k + 0.5) * allZeros.length) / 200)]), `held-out zero ${k}`);
    }
  });

  it('spreads the held-out digits over the whole file: one in every n/200 positions', () => {
    for (const n of [863, 1001, 1127]) {
      const held = Array.from({ length: n }, (_, i) => i).filter((i) => isHeldOut(i, n));
      assert.equal(held.length, 200);
      assert.deepEqual(held.slice(0, 2), [Math.floor((0.5 * n) / 200), Math.floor((1.5 * n) / 200)]);
      assert.ok(held.every((p, k) => k === 0 || p - held[k - 1] >= Math.floor(n / 200)));
    }
  });

  it('refuses an unknown split, naming the accepted ones', async () => {
    await assert.rejects(mnistDigits('test' as never), /mnist split is "test"; accepted: train, heldout, all/);
  });
});
