/**
 * Cholesky factorisation with complete (diagonal) pivoting of a symmetric positive semi-definite
 * matrix, as LAPACK's dpstrf: Pᵀ·A·P = L·Lᵀ with L [n, r] lower trapezoidal and r the numerical rank.
 * Step j takes the largest remaining diagonal as the pivot and stops when it is ≤ tol = n·ε·max diag(A)
 * (dpstrf's default): the rest of the Schur complement is then rounding noise of a singular matrix, and
 * pivoting keeps every |L[i, j]| ≤ √A[i, i], so a covariance of fewer samples than dimensions, or with
 * dead (all-zero) features, factors as stably as a full-rank one.
 *
 * Blocked like dpstrf: within a panel of BLOCK columns each column is updated by the panel's earlier
 * columns only (left-looking, for the pivot choice), and the trailing matrix receives the whole panel
 * at once as a rank-BLOCK update through the tiled product kernel (≈ n³/3 flops, nearly all of them there).
 */
import { runTiles, sharedFloat64, type TileList, worthParallel } from './parallel-tiles.ts';

export interface PivotedCholesky {
  n: number;
  /** r, the numerical rank. */
  rank: number;
  /** P as indices: row/column j of Pᵀ·A·P is row/column permutation[j] of A. */
  permutation: Int32Array;
  /** Lᵀ [r, n] row-major: row j is column j of L (zero left of column j). */
  factorRows: Float64Array;
}

const BLOCK = 32;

/** Pᵀ·A·P = L·Lᵀ of the symmetric positive semi-definite a [n, n] (row-major; the lower triangle is read). */
export function pivotedCholesky(a: ArrayLike<number>, n: number): PivotedCholesky {
  if (a.length !== n * n) throw new RangeError(`matrix has ${a.length} entries; a ${n}×${n} matrix needs ${n * n}`);
  // Shared when large, so that the trailing updates run on every core.
  const w = worthParallel(n ** 3 / 6) ? sharedFloat64(n * n) : new Float64Array(n * n);
  w.set(a);
  const permutation = Int32Array.from({ length: n }, (_, i) => i);
  let maxDiagonal = 0;
  for (let i = 0; i < n; i++) maxDiagonal = Math.max(maxDiagonal, w[i * n + i]);
  const tol = n * Number.EPSILON * maxDiagonal;
  // Σ_{k in panel, k < j} L[i, k]², so that the pivot sees the diagonal as updated so far.
  const panelSquares = new Float64Array(n);
  let rank = n;
  factor: for (let j0 = 0; j0 < n; j0 += BLOCK) {
    const j1 = Math.min(n, j0 + BLOCK);
    panelSquares.fill(0);
    for (let j = j0; j < j1; j++) {
      if (j > j0) for (let i = j; i < n; i++) panelSquares[i] += w[i * n + j - 1] ** 2;
      let pivot = j;
      let best = Number.NEGATIVE_INFINITY;
      for (let i = j; i < n; i++) {
        const v = w[i * n + i] - panelSquares[i];
        if (v > best) {
          best = v;
          pivot = i;
        }
      }
      if (!(best > tol)) {
        rank = j;
        break factor;
      }
      if (pivot !== j) swapSymmetric(w, n, j, pivot, permutation, panelSquares);
      const ljj = Math.sqrt(best);
      w[j * n + j] = ljj;
      // Column j below the diagonal, with the panel's earlier columns subtracted (the earlier panels
      // were already subtracted by the trailing updates).
      const rj = j * n;
      for (let i = j + 1; i < n; i++) {
        const ri = i * n;
        let s = w[ri + j];
        for (let k = j0; k < j; k++) s -= w[ri + k] * w[rj + k];
        w[ri + j] = s / ljj;
      }
    }
    // Trailing lower triangle: W[i, l] −= Σ_{k in panel} L[i, k]·L[l, k] for j1 ≤ l ≤ i.
    const operands = {
      a: w,
      aStride: n,
      aOffset: j0,
      b: w,
      bStride: n,
      bOffset: j0,
      c: w,
      cStride: n,
      length: j1 - j0,
      mode: 'subtract',
    } as const;
    const tiles: TileList = [];
    for (let i0 = j1; i0 < n; i0 += BLOCK) {
      const i1 = Math.min(n, i0 + BLOCK);
      for (let l0 = j1; l0 < i1; l0 += BLOCK) tiles.push(i0, i1, l0, Math.min(i1, l0 + BLOCK));
    }
    runTiles(operands, tiles);
  }
  const factorRows = new Float64Array(rank * n);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = 0; j <= Math.min(i, rank - 1); j++) factorRows[j * n + i] = w[ri + j];
  }
  return { n, rank, permutation, factorRows };
}

/**
 * Swaps rows and columns j < p of the symmetric matrix held in w's lower triangle (only that triangle
 * is up to date), and the bookkeeping that follows them, as dpstrf's dswap calls do.
 */
function swapSymmetric(w: Float64Array, n: number, j: number, p: number, permutation: Int32Array, panelSquares: Float64Array) {
  const swap = (x: number, y: number) => {
    const t = w[x];
    w[x] = w[y];
    w[y] = t;
  };
  swap(j * n + j, p * n + p);
  for (let k = 0; k < j; k++) swap(j * n + k, p * n + k);
  for (let k = j + 1; k < p; k++) swap(k * n + j, p * n + k);
  for (let k = p + 1; k < n; k++) swap(k * n + j, k * n + p);
  [permutation[j], permutation[p]] = [permutation[p], permutation[j]];
  [panelSquares[j], panelSquares[p]] = [panelSquares[p], panelSquares[j]];
}

/** Pᵀ·S·P of the symmetric s [n, n]: entry (a, b) is s[permutation[a], permutation[b]]. */
export function permuteSymmetric(s: ArrayLike<number>, n: number, permutation: Int32Array): Float64Array {
  const out = new Float64Array(n * n);
  for (let a = 0; a < n; a++) {
    const row = permutation[a] * n;
    for (let b = 0; b < n; b++) out[a * n + b] = s[row + permutation[b]];
  }
  return out;
}
