/**
 * The few dense float64 matrix operations the statistics need, on row-major Float64Arrays. Products
 * are written as dot products of rows (C = A·Bᵀ) because rows are contiguous: a 2048×2048 float64
 * matrix is 32 MB, and walking a column of it would miss the cache on every element.
 */
import { runTiles, sharedFloat64, type TileList, toShared, worthParallel } from './parallel-tiles.ts';

/** Rows per tile: a tile of A and a tile of B (TILE rows of k doubles each) are reused from cache. */
const TILE = 32;

export interface ProductOptions {
  /** A·Bᵀ is known to be symmetric (m = n): only tiles on or above the diagonal are computed, the rest mirrored. */
  symmetric?: boolean;
}

/**
 * C = A·Bᵀ, A [m, k], B [n, k], C [m, n]. Large products run on every core (parallel-tiles.ts), in
 * which case C is returned in shared memory.
 */
export function multiplyABt(a: Float64Array, b: Float64Array, m: number, n: number, k: number, options: ProductOptions = {}): Float64Array {
  const symmetric = options.symmetric ?? false;
  const parallel = worthParallel((m * n * k) / (symmetric ? 2 : 1));
  const c = parallel ? sharedFloat64(m * n) : new Float64Array(m * n);
  const tiles: TileList = [];
  for (let i0 = 0; i0 < m; i0 += TILE) {
    for (let j0 = symmetric ? i0 : 0; j0 < n; j0 += TILE) tiles.push(i0, Math.min(m, i0 + TILE), j0, Math.min(n, j0 + TILE));
  }
  const shared = (x: Float64Array) => (parallel ? toShared(x) : x);
  runTiles({ a: shared(a), aStride: k, aOffset: 0, b: shared(b), bStride: k, bOffset: 0, c, cStride: n, length: k, mode: 'set' }, tiles);
  if (symmetric) for (let i = 0; i < m; i++) for (let j = i + 1; j < n; j++) c[j * n + i] = c[i * n + j];
  return c;
}

/** Bᵀ of B [m, n], row-major. */
export function transpose(b: Float64Array, m: number, n: number): Float64Array {
  const t = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) t[j * m + i] = b[i * n + j];
  return t;
}

export function trace(s: ArrayLike<number>, n: number): number {
  let t = 0;
  for (let i = 0; i < n; i++) t += s[i * n + i];
  return t;
}
