import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkLabelPolicy, type LabelPolicy, LabelPolicyError, labelFor, labelsFor, randomLabel } from '../src/rng/labels.ts';
import { philox4x32, seedKey, TWO_32, wordToUniform } from '../src/rng/philox.ts';

describe('label policies', () => {
  it('random: floor(u(a)·K) with a = word 0 at counter (0, 2^32 − 1, 0, 0) under the seed key', () => {
    for (const seed of [0, 1, 99, 2 ** 32 + 1, 2 ** 50]) {
      const [k0, k1] = seedKey(seed);
      const a = philox4x32(0, TWO_32 - 1, 0, 0, k0, k1)[0];
      assert.equal(randomLabel(seed, 1000), Math.floor(wordToUniform(a) * 1000));
    }
  });

  it('random: spreads seeds over all classes about evenly', () => {
    const counts = new Array(10).fill(0);
    for (const label of labelsFor(
      { kind: 'random' },
      Array.from({ length: 5000 }, (_, i) => i),
      10,
    ))
      counts[label]++;
    assert.ok(
      counts.every((c) => c > 400 && c < 600),
      `counts ${counts}`,
    );
  });

  it('balanced: seed mod K', () => {
    assert.deepEqual(Array.from(labelsFor({ kind: 'balanced' }, [0, 1, 9, 10, 23, 2 ** 40], 10)), [0, 1, 9, 0, 3, 2 ** 40 % 10]);
  });

  it('fixed: the same class for every seed', () => {
    assert.deepEqual(Array.from(labelsFor({ kind: 'fixed', label: 7 }, [0, 5, 123], 10)), [7, 7, 7]);
  });

  it('does not depend on the other seeds of the list', () => {
    const seeds = [5, 17, 3, 2 ** 33];
    const together = labelsFor({ kind: 'random' }, seeds, 1000);
    seeds.forEach((seed, i) => {
      assert.equal(labelFor({ kind: 'random' }, seed, 1000), together[i]);
    });
  });

  it('rejects a fixed class outside [0, K − 1], naming the value and the range', () => {
    for (const label of [10, -1, 2.5]) {
      assert.throws(
        () => checkLabelPolicy({ kind: 'fixed', label }, 10),
        (e: Error) => e instanceof LabelPolicyError && e.message.includes(`is ${label}`) && e.message.includes('[0, 9]'),
      );
    }
  });

  it('rejects a class count that is not a positive integer', () => {
    for (const k of [0, -3, 1.5]) {
      assert.throws(() => labelsFor({ kind: 'balanced' }, [1], k), new RegExp(`number of classes is ${k}; accepted: an integer in \\[1, `));
    }
  });

  it('rejects an unknown policy by name', () => {
    assert.throws(
      () => checkLabelPolicy({ kind: 'uniform' } as unknown as LabelPolicy, 10),
      /"uniform"; accepted: "random", "balanced" or "fixed"/,
    );
  });

  it('rejects an invalid seed', () => {
    assert.throws(() => labelFor({ kind: 'fixed', label: 1 }, -4, 10), /seed is -4/);
  });
});
