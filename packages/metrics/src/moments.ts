/**
 * Mergeable first and second moments of feature vectors, accumulated as EDM's fid.py does: the count
 * N, the sum Σx [d] and the sum of outer products Σx·xᵀ [d, d], all float64. Shards accumulate their
 * own and the finalizer adds them up (merge is plain addition, so the result does not depend on how
 * the samples were split), then
 *   μ = Σx / N,   Σ = (Σx·xᵀ − N·μ·μᵀ) / (N − 1)
 * which is np.cov(features, rowvar=False) (ddof = 1), the covariance pytorch-fid and guided-diffusion's
 * evaluator use. Inception pool features are O(1) and non-negative, so float64 raw sums lose nothing
 * that matters next to the golden tolerance (checked against the two-pass formula in the tests).
 */
import { multiplyABt } from './dense.ts';
import type { GaussianStats } from './frechet.ts';
import { runTiles, sharedFloat64, type TileList, toShared, worthParallel } from './parallel-tiles.ts';

export interface Moments {
  dim: number;
  /** N, the number of feature vectors. */
  count: number;
  /** Σx [d]. */
  sum: Float64Array;
  /** Σx·xᵀ [d, d] row-major, symmetric. */
  sumOuter: Float64Array;
}

export type FeatureArray = Float32Array | Float64Array;

export function emptyMoments(dim: number): Moments {
  if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`feature dimension is ${dim}; accepted: an integer ≥ 1`);
  return { dim, count: 0, sum: new Float64Array(dim), sumOuter: new Float64Array(dim * dim) };
}

/** The number of rows of a row-major feature array [n, dim]; `what` names it in errors. */
export function featureRows(features: FeatureArray, dim: number, what = 'features'): number {
  if (!Number.isInteger(dim) || dim < 1 || features.length % dim !== 0) {
    throw new RangeError(`${what} hold ${features.length} values, not a whole number of rows of dimension ${dim}`);
  }
  return features.length / dim;
}

/** Rows of Σx·xᵀ per tile of the accumulation. */
const TILE = 32;

/**
 * Adds the rows of features [n, d] to m, in place; returns m. The batch's Σx·xᵀ = Xᵀ·X is added
 * tile by tile straight into m.sumOuter (upper triangle, then mirrored), on every core when large,
 * in which case m.sumOuter moves to shared memory.
 */
export function accumulateMoments(m: Moments, features: FeatureArray): Moments {
  const { dim } = m;
  const n = featureRows(features, dim);
  if (n === 0) return m;
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) m.sum[j] += features[i * dim + j];
  // Σx·xᵀ as dot products of the columns of X, i.e. of the rows of Xᵀ.
  const parallel = worthParallel((dim * dim * n) / 2);
  const xt = parallel ? sharedFloat64(dim * n) : new Float64Array(dim * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) xt[j * n + i] = features[i * dim + j];
  if (parallel) m.sumOuter = toShared(m.sumOuter);
  const tiles: TileList = [];
  for (let i0 = 0; i0 < dim; i0 += TILE) {
    for (let j0 = i0; j0 < dim; j0 += TILE) tiles.push(i0, Math.min(dim, i0 + TILE), j0, Math.min(dim, j0 + TILE));
  }
  runTiles({ a: xt, aStride: n, aOffset: 0, b: xt, bStride: n, bOffset: 0, c: m.sumOuter, cStride: dim, length: n, mode: 'add' }, tiles);
  for (let i = 0; i < dim; i++) for (let j = i + 1; j < dim; j++) m.sumOuter[j * dim + i] = m.sumOuter[i * dim + j];
  m.count += n;
  return m;
}

/** The moments of the union of two feature sets. */
export function mergeMoments(a: Moments, b: Moments): Moments {
  if (a.dim !== b.dim) throw new RangeError(`cannot merge moments of dimension ${a.dim} with moments of dimension ${b.dim}`);
  return {
    dim: a.dim,
    count: a.count + b.count,
    sum: a.sum.map((v, i) => v + b.sum[i]),
    sumOuter: a.sumOuter.map((v, i) => v + b.sumOuter[i]),
  };
}

/** μ and Σ (ddof = 1) of the accumulated features; needs N ≥ 2. */
export function momentsToStats(m: Moments): GaussianStats {
  const { dim: d, count: n } = m;
  if (n < 2) throw new RangeError(`a covariance needs at least 2 feature vectors; the moments hold ${n}`);
  const mu = m.sum.map((s) => s / n);
  const sigma = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) sigma[i * d + j] = (m.sumOuter[i * d + j] - n * mu[i] * mu[j]) / (n - 1);
  return { mu, sigma, samples: n };
}

/**
 * μ and Σ (ddof = 1) of features [n, d] by the two-pass formula Σ = (X − μ)ᵀ(X − μ)/(n − 1), as
 * np.mean / np.cov compute them: the reference for one in-memory feature set.
 */
export function featureStats(features: FeatureArray, dim: number): GaussianStats {
  const n = featureRows(features, dim);
  if (n < 2) throw new RangeError(`a covariance needs at least 2 feature vectors; got ${n}`);
  const mu = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mu[j] += features[i * dim + j];
  for (let j = 0; j < dim; j++) mu[j] /= n;
  const centredT = new Float64Array(dim * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) centredT[j * n + i] = features[i * dim + j] - mu[j];
  const sigma = multiplyABt(centredT, centredT, dim, dim, n, { symmetric: true });
  for (let i = 0; i < sigma.length; i++) sigma[i] /= n - 1;
  return { mu, sigma, samples: n };
}

const MAGIC = 'DQMOMNT1';
const HEADER_BYTES = 24;

/**
 * Bytes for per-shard storage, little-endian: "DQMOMNT1", uint32 d, uint32 0, float64 N, Σx [d],
 * then the upper triangle of Σx·xᵀ row by row (d(d+1)/2 values; the rest is its mirror image).
 */
export function serializeMoments(m: Moments): Uint8Array {
  const { dim: d } = m;
  const bytes = new Uint8Array(HEADER_BYTES + 8 * d + 4 * d * (d + 1));
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < MAGIC.length; i++) bytes[i] = MAGIC.charCodeAt(i);
  view.setUint32(8, d, true);
  view.setFloat64(16, m.count, true);
  let o = HEADER_BYTES;
  for (let i = 0; i < d; i++, o += 8) view.setFloat64(o, m.sum[i], true);
  for (let i = 0; i < d; i++) for (let j = i; j < d; j++, o += 8) view.setFloat64(o, m.sumOuter[i * d + j], true);
  return bytes;
}

export function deserializeMoments(bytes: Uint8Array): Moments {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = String.fromCharCode(...bytes.subarray(0, MAGIC.length));
  if (bytes.length < HEADER_BYTES || magic !== MAGIC) {
    throw new Error(`not serialized moments: the first bytes are ${JSON.stringify(magic)}, expected "${MAGIC}"`);
  }
  const d = view.getUint32(8, true);
  const expected = HEADER_BYTES + 8 * d + 4 * d * (d + 1);
  if (bytes.length !== expected) throw new Error(`serialized moments of dimension ${d} take ${expected} bytes; got ${bytes.length}`);
  const m = emptyMoments(d);
  m.count = view.getFloat64(16, true);
  let o = HEADER_BYTES;
  for (let i = 0; i < d; i++, o += 8) m.sum[i] = view.getFloat64(o, true);
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++, o += 8) {
      const v = view.getFloat64(o, true);
      m.sumOuter[i * d + j] = v;
      m.sumOuter[j * d + i] = v;
    }
  }
  return m;
}
