/**
 * The few dense float64 matrix operations the statistics need, on row-major Float64Arrays. Products
 * are written as dot products of rows (C = A·Bᵀ) because rows are contiguous: a 2048×2048 float64
 * matrix is 32 MB, and walking a column of it would miss the cache on every element.
 */

/** Rows per tile: a tile of A and a tile of B (TILE rows of k doubles each) are reused from cache. */
const TILE = 32;

/**
 * C = A·Bᵀ, A [m, k], B [n, k], C [m, n]. With `symmetric` (A·Bᵀ known to be symmetric, m = n) only
 * tiles on or above the diagonal are computed and the rest mirrored.
 */
export function multiplyABt(
  a: Float64Array,
  b: Float64Array,
  m: number,
  n: number,
  k: number,
  options: { symmetric?: boolean } = {},
): Float64Array {
  const c = new Float64Array(m * n);
  const symmetric = options.symmetric ?? false;
  for (let i0 = 0; i0 < m; i0 += TILE) {
    const i1 = Math.min(m, i0 + TILE);
    for (let j0 = symmetric ? i0 : 0; j0 < n; j0 += TILE) {
      productTile(a, b, c, n, k, i0, i1, j0, Math.min(n, j0 + TILE));
    }
  }
  if (symmetric) for (let i = 0; i < m; i++) for (let j = i + 1; j < n; j++) c[j * n + i] = c[i * n + j];
  return c;
}

/**
 * C[i0…i1, j0…j1] of C = A·Bᵀ. The inner kernel takes 4 rows of A against 2 rows of B, so each
 * loaded element is used 2 or 4 times (about 4× faster than one dot product at a time in V8).
 */
function productTile(
  a: Float64Array,
  b: Float64Array,
  c: Float64Array,
  n: number,
  k: number,
  i0: number,
  i1: number,
  j0: number,
  j1: number,
) {
  const iEnd = i0 + ((i1 - i0) & ~3);
  const jEnd = j0 + ((j1 - j0) & ~1);
  for (let i = i0; i < iEnd; i += 4) {
    const a0 = i * k;
    const a1 = a0 + k;
    const a2 = a1 + k;
    const a3 = a2 + k;
    for (let j = j0; j < jEnd; j += 2) {
      const b0 = j * k;
      const b1 = b0 + k;
      let s00 = 0;
      let s01 = 0;
      let s10 = 0;
      let s11 = 0;
      let s20 = 0;
      let s21 = 0;
      let s30 = 0;
      let s31 = 0;
      for (let p = 0; p < k; p++) {
        const y0 = b[b0 + p];
        const y1 = b[b1 + p];
        const x0 = a[a0 + p];
        const x1 = a[a1 + p];
        const x2 = a[a2 + p];
        const x3 = a[a3 + p];
        s00 += x0 * y0;
        s01 += x0 * y1;
        s10 += x1 * y0;
        s11 += x1 * y1;
        s20 += x2 * y0;
        s21 += x2 * y1;
        s30 += x3 * y0;
        s31 += x3 * y1;
      }
      const c0 = i * n + j;
      c[c0] = s00;
      c[c0 + 1] = s01;
      c[c0 + n] = s10;
      c[c0 + n + 1] = s11;
      c[c0 + 2 * n] = s20;
      c[c0 + 2 * n + 1] = s21;
      c[c0 + 3 * n] = s30;
      c[c0 + 3 * n + 1] = s31;
    }
  }
  // Edges the 4×2 kernel does not cover: one dot product at a time.
  for (let i = i0; i < i1; i++) {
    for (let j = i < iEnd ? jEnd : j0; j < j1; j++) c[i * n + j] = dot(a, i * k, b, j * k, k);
  }
}

/** Σ_p x[xo + p]·y[yo + p], p < k. */
export function dot(x: Float64Array, xo: number, y: Float64Array, yo: number, k: number): number {
  let s = 0;
  for (let p = 0; p < k; p++) s += x[xo + p] * y[yo + p];
  return s;
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
