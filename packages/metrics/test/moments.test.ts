import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seedNormals } from '@diffq/diffusion';
import {
  accumulateMoments,
  deserializeMoments,
  emptyMoments,
  featureStats,
  mergeMoments,
  momentsToStats,
  serializeMoments,
} from '../src/moments.ts';

/** n feature vectors of dimension d: correlated, shifted normals (a non-zero mean exercises the μ·μᵀ term). */
function features(seed: number, n: number, d: number): Float32Array {
  const z = seedNormals(seed, 0, n * d);
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) x[i * d + j] = 0.5 + j * 0.1 + z[i * d + j] + 0.5 * z[i * d + ((j + 1) % d)];
  }
  return x;
}

function maxRelativeDifference(a: Float64Array, b: Float64Array): number {
  let scale = 0;
  let diff = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]));
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
  }
  return diff / scale;
}

describe('mergeable moments', () => {
  it('computes np.mean and np.cov (ddof = 1) of a small set by hand', () => {
    const stats = momentsToStats(accumulateMoments(emptyMoments(2), Float64Array.of(1, 2, 3, 6, 5, 10)));
    assert.deepEqual(Array.from(stats.mu), [3, 6]);
    assert.deepEqual(Array.from(stats.sigma), [4, 8, 8, 16]);
  });

  it('merged moments of shards equal the moments of their union (two-pass reference)', () => {
    const d = 13;
    const shards = [features(1, 40, d), features(2, 7, d), features(3, 101, d)];
    const merged = shards.map((x) => accumulateMoments(emptyMoments(d), x)).reduce(mergeMoments);
    const union = new Float32Array(shards.reduce((n, x) => n + x.length, 0));
    let offset = 0;
    for (const x of shards) {
      union.set(x, offset);
      offset += x.length;
    }
    const reference = featureStats(union, d);
    const stats = momentsToStats(merged);
    assert.equal(merged.count, 148);
    assert.ok(maxRelativeDifference(stats.mu, reference.mu) < 1e-13);
    assert.ok(maxRelativeDifference(stats.sigma, reference.sigma) < 1e-12);
  });

  it('does not depend on how the samples are split into batches', () => {
    const d = 6;
    const x = features(9, 50, d);
    const once = momentsToStats(accumulateMoments(emptyMoments(d), x));
    const inPieces = emptyMoments(d);
    for (const [from, to] of [
      [0, 1],
      [1, 17],
      [17, 50],
    ]) {
      accumulateMoments(inPieces, x.subarray(from * d, to * d));
    }
    const pieces = momentsToStats(inPieces);
    assert.ok(maxRelativeDifference(pieces.sigma, once.sigma) < 1e-14);
    assert.ok(maxRelativeDifference(pieces.mu, once.mu) < 1e-15);
  });

  it('round-trips through bytes exactly', () => {
    const d = 9;
    const m = accumulateMoments(emptyMoments(d), features(4, 20, d));
    const bytes = serializeMoments(m);
    assert.equal(bytes.length, 24 + 8 * d + 4 * d * (d + 1));
    const back = deserializeMoments(bytes);
    assert.equal(back.count, m.count);
    assert.deepEqual(back.sum, m.sum);
    assert.deepEqual(back.sumOuter, m.sumOuter);
  });

  it('reads bytes that sit at an odd offset of a larger buffer', () => {
    const m = accumulateMoments(emptyMoments(3), features(5, 4, 3));
    const bytes = serializeMoments(m);
    const padded = new Uint8Array(bytes.length + 3);
    padded.set(bytes, 3);
    assert.deepEqual(deserializeMoments(padded.subarray(3)).sumOuter, m.sumOuter);
  });

  it('rejects bytes that are not moments, or truncated', () => {
    const bytes = serializeMoments(emptyMoments(4));
    assert.throws(() => deserializeMoments(new Uint8Array(bytes.length)), /not serialized moments/);
    assert.throws(() => deserializeMoments(bytes.subarray(0, bytes.length - 8)), /take 136 bytes; got 128/);
  });

  it('rejects mismatched dimensions and too few samples, naming the values', () => {
    assert.throws(() => mergeMoments(emptyMoments(3), emptyMoments(4)), /dimension 3 with moments of dimension 4/);
    assert.throws(() => accumulateMoments(emptyMoments(3), new Float32Array(7)), /7 values, not a whole number of rows of dimension 3/);
    assert.throws(
      () => momentsToStats(accumulateMoments(emptyMoments(2), Float32Array.of(1, 2))),
      /at least 2 feature vectors; the moments hold 1/,
    );
    assert.throws(() => emptyMoments(0), /feature dimension is 0/);
  });
});
