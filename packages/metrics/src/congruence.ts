/**
 * The congruence C = Lᵀ·S·L [r, r] of a symmetric S [n, n] by a lower-trapezoidal L [n, r] (a
 * Cholesky factor), in n³ multiply-adds instead of the 5n³/3 of two plain products, as LAPACK's dsygst
 * saves them: with S = U + Uᵀ (U the upper triangle of S with half its diagonal),
 *   C = Z + Zᵀ,   Z = (Lᵀ·U)·L,
 * where Y = Lᵀ·U is upper trapezoidal (row a of Lᵀ starts at column a, column j of U ends at row j:
 * Y[a, j] = Σ_{a ≤ k ≤ j} Lᵀ[a, k]·U[k, j], n³/3) and Z[a, b] = Σ_{j ≥ max(a, b)} Y[a, j]·L[j, b]
 * (2n³/3). Every tile's dot products run over exactly the k where both rows can be non-zero.
 */
import { runTileGroups, sharedFloat64, type TileGroup, toShared, worthParallel } from './parallel-tiles.ts';

const TILE = 32;

/** C = Lᵀ·S·L for lt = Lᵀ [r, n] (row a zero left of column a) and the symmetric s [n, n] (lower triangle read). */
export function congruence(lt: Float64Array, s: ArrayLike<number>, n: number, r: number): Float64Array {
  const parallel = worthParallel(n ** 3 / 3);
  const alloc = (length: number) => (parallel ? sharedFloat64(length) : new Float64Array(length));
  // Rows of Uᵀ: row j is column j of U, i.e. S[j, k] for k < j and S[j, j]/2 at k = j.
  const ut = alloc(n * n);
  for (let j = 0; j < n; j++) {
    const row = j * n;
    for (let k = 0; k < j; k++) ut[row + k] = s[row + k];
    ut[row + j] = 0.5 * s[row + j];
  }
  const a = parallel ? toShared(lt) : lt;
  const y = alloc(r * n);
  const yGroups: TileGroup[] = [];
  for (let i0 = 0; i0 < r; i0 += TILE) {
    const i1 = Math.min(r, i0 + TILE);
    for (let j0 = 0; j0 < n; j0 += TILE) {
      const j1 = Math.min(n, j0 + TILE);
      // Y[a, j] = 0 for j < a: the tile is zero when it lies wholly left of the diagonal.
      if (j1 <= i0) continue;
      yGroups.push({
        operands: { a, aStride: n, aOffset: i0, b: ut, bStride: n, bOffset: i0, c: y, cStride: n, length: j1 - i0, mode: 'set' },
        tiles: [i0, i1, j0, j1],
      });
    }
  }
  runTileGroups(yGroups);
  const z = alloc(r * r);
  const zGroups: TileGroup[] = [];
  for (let i0 = 0; i0 < r; i0 += TILE) {
    for (let j0 = 0; j0 < r; j0 += TILE) {
      const from = Math.max(i0, j0);
      zGroups.push({
        operands: { a: y, aStride: n, aOffset: from, b: a, bStride: n, bOffset: from, c: z, cStride: r, length: n - from, mode: 'set' },
        tiles: [i0, Math.min(r, i0 + TILE), j0, Math.min(r, j0 + TILE)],
      });
    }
  }
  runTileGroups(zGroups);
  const c = new Float64Array(r * r);
  for (let i = 0; i < r; i++) {
    for (let j = i; j < r; j++) {
      const v = z[i * r + j] + z[j * r + i];
      c[i * r + j] = v;
      c[j * r + i] = v;
    }
  }
  return c;
}
