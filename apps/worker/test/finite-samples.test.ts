import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertFiniteSamples, NonFiniteSamples } from '../src/finite-samples.ts';

describe('the check of every micro-batch for NaN and Inf', () => {
  it('passes finite samples, extremes included', () => {
    assertFiniteSamples(new Float32Array([-3.4e38, 0, 3.4e38, -0, 1e-45, 2]), [7, 8]);
  });

  it('names the seeds whose samples hold NaN or ±Inf, and counts each kind', () => {
    const samples = new Float32Array(4 * 3).fill(0.5);
    samples[4] = Number.NaN;
    samples[9] = Number.POSITIVE_INFINITY;
    samples[11] = Number.NEGATIVE_INFINITY;
    assert.throws(
      () => assertFiniteSamples(samples, [10, 11, 12, 13]),
      (error: Error) =>
        error instanceof NonFiniteSamples &&
        /\(1 NaN and 2 infinite values\) for 2 of 4 seeds of a micro-batch \(seeds 11, 13\)/.test(error.message),
    );
  });
});
