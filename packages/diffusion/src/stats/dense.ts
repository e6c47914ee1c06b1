/**
 * The few dense float64 matrix operations the statistics need, on row-major Float64Arrays. Products
 * are written as dot products of rows (C = A·Bᵀ) because rows are contiguous: a 2048×2048 float64
 * matrix is 32 MB, and walking a column of it would miss the cache on every element.
 */
import { runTileGroups, runTiles, sharedFloat64, type TileList, toShared, worthParallel } from './parallel-tiles.ts';

/** Rows per tile: a tile of A and a tile of B (TILE rows of k doubles each) are reused from cache. */
const TILE = 32;

export interface ProductOptions {
  /** A·Bᵀ is known to be symmetric (m = n): only tiles on or above the diagonal are computed, the rest mirrored. */
  symmetric?: boolean;
  /**
   * Row i of A is zero left of column i (A is upper triangular or trapezoidal, as the rows of a
   * Cholesky factor's transpose are): the dot products of a tile of rows from i0 skip columns < i0.
   */
  upperA?: boolean;
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
  if (options.upperA) {
    // Row i of A is zero left of column i, so a tile of rows from i0 starts its dot products at i0:
    // one operand set per tile row.
    const byRow = new Map<number, TileList>();
    for (let t = 0; t < tiles.length; t += 4) {
      const list = byRow.get(tiles[t]) ?? [];
      list.push(tiles[t], tiles[t + 1], tiles[t + 2], tiles[t + 3]);
      byRow.set(tiles[t], list);
    }
    const as = shared(a);
    const bs = shared(b);
    runTileGroups(
      [...byRow].map(([i0, list]) => {
        const p0 = Math.min(i0, k);
        return { operands: { a: as, aStride: k, aOffset: p0, b: bs, bStride: k, bOffset: p0, c, cStride: n, length: k - p0, mode: 'set' }, tiles: list };
      }),
    );
  } else {
    runTiles({ a: shared(a), aStride: k, aOffset: 0, b: shared(b), bStride: k, bOffset: 0, c, cStride: n, length: k, mode: 'set' }, tiles);
  }
  if (symmetric) for (let i = 0; i < m; i++) for (let j = i + 1; j < n; j++) c[j * n + i] = c[i * n + j];
  return c;
}

/** Bᵀ of B [m, n], row-major. */
export function transpose(b: Float64Array, m: number, n: number): Float64Array {
  const t = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) t[j * m + i] = b[i * n + j];
  return t;
}

/** (S + Sᵀ)/2 of S [n, n]: covariances read from files are symmetric only up to rounding. */
export function symmetrize(s: ArrayLike<number>, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    out[i * n + i] = s[i * n + i];
    for (let j = i + 1; j < n; j++) {
      const v = 0.5 * (s[i * n + j] + s[j * n + i]);
      out[i * n + j] = v;
      out[j * n + i] = v;
    }
  }
  return out;
}

export function trace(s: ArrayLike<number>, n: number): number {
  let t = 0;
  for (let i = 0; i < n; i++) t += s[i * n + i];
  return t;
}
