/**
 * The inner kernels of the statistics' dense products: a tile of C = A·Bᵀ (or C ±= A·Bᵀ) from rows
 * of A and rows of B, both contiguous, and a range of rows of a symmetric matrix-vector product. Kept
 * free of imports and closures because parallel-tiles.ts ships their source to worker threads.
 */

/**
 * Operands of a tile product: row i of A is a[aOffset + i·aStride … + length), row j of B likewise,
 * and C[i, j] = c[i·cStride + j] is set to the dot product, or has it added or subtracted.
 */
export interface TileOperands {
  a: Float64Array;
  aStride: number;
  aOffset: number;
  b: Float64Array;
  bStride: number;
  bOffset: number;
  c: Float64Array;
  cStride: number;
  length: number;
  mode: 'set' | 'add' | 'subtract';
}

/**
 * C[i0…i1, j0…j1] =, += or −= rows of A · rows of B. The inner kernel takes 4 rows of A against 2 rows
 * of B, so each loaded element is used 2 or 4 times (about 4× faster than one dot product at a time in V8).
 */
export function productTile(o: TileOperands, i0: number, i1: number, j0: number, j1: number): void {
  const { a, b, c, aStride, bStride, cStride, length: k } = o;
  // 0: set; ±1: add or subtract.
  const sign = o.mode === 'set' ? 0 : o.mode === 'add' ? 1 : -1;
  const iEnd = i0 + ((i1 - i0) & ~3);
  const jEnd = j0 + ((j1 - j0) & ~1);
  for (let i = i0; i < iEnd; i += 4) {
    const a0 = o.aOffset + i * aStride;
    const a1 = a0 + aStride;
    const a2 = a1 + aStride;
    const a3 = a2 + aStride;
    for (let j = j0; j < jEnd; j += 2) {
      const b0 = o.bOffset + j * bStride;
      const b1 = b0 + bStride;
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
      const c0 = i * cStride + j;
      if (sign === 0) {
        c[c0] = s00;
        c[c0 + 1] = s01;
        c[c0 + cStride] = s10;
        c[c0 + cStride + 1] = s11;
        c[c0 + 2 * cStride] = s20;
        c[c0 + 2 * cStride + 1] = s21;
        c[c0 + 3 * cStride] = s30;
        c[c0 + 3 * cStride + 1] = s31;
      } else {
        c[c0] += sign * s00;
        c[c0 + 1] += sign * s01;
        c[c0 + cStride] += sign * s10;
        c[c0 + cStride + 1] += sign * s11;
        c[c0 + 2 * cStride] += sign * s20;
        c[c0 + 2 * cStride + 1] += sign * s21;
        c[c0 + 3 * cStride] += sign * s30;
        c[c0 + 3 * cStride + 1] += sign * s31;
      }
    }
  }
  // Edges the 4×2 kernel does not cover: one dot product at a time.
  for (let i = i0; i < i1; i++) {
    for (let j = i < iEnd ? jEnd : j0; j < j1; j++) {
      const s = dot(a, o.aOffset + i * aStride, b, o.bOffset + j * bStride, k);
      c[i * cStride + j] = sign === 0 ? s : c[i * cStride + j] + sign * s;
    }
  }
}

/** Σ_p x[xo + p]·y[yo + p], p < k. */
export function dot(x: Float64Array, xo: number, y: Float64Array, yo: number, k: number): number {
  let s = 0;
  for (let p = 0; p < k; p++) s += x[xo + p] * y[yo + p];
  return s;
}

/**
 * p += the contribution of rows r0 … r1−1 of the symmetric B held in the upper triangle of m [n, n]
 * to B·v (over columns ≥ r0, so a range of rows of B = m[from…, from…] for any from ≤ r0). Four rows
 * per pass: each load and store of p[c] then serves four matrix elements instead of one, which makes
 * this memory-bound loop ~3× faster in V8.
 */
export function symmetricProductRows(m: Float64Array, n: number, r0: number, r1: number, v: Float64Array, p: Float64Array): void {
  let r = r0;
  for (; r + 3 < r1; r += 4) {
    // The 4×4 diagonal block, one element at a time.
    for (let q = r; q < r + 4; q++) {
      const rq = q * n;
      p[q] += m[rq + q] * v[q];
      for (let c = q + 1; c < r + 4; c++) {
        p[q] += m[rq + c] * v[c];
        p[c] += m[rq + c] * v[q];
      }
    }
    const r0 = r * n;
    const r1 = r0 + n;
    const r2 = r1 + n;
    const r3 = r2 + n;
    const v0 = v[r];
    const v1 = v[r + 1];
    const v2 = v[r + 2];
    const v3 = v[r + 3];
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let c = r + 4; c < n; c++) {
      const a0 = m[r0 + c];
      const a1 = m[r1 + c];
      const a2 = m[r2 + c];
      const a3 = m[r3 + c];
      const vc = v[c];
      s0 += a0 * vc;
      s1 += a1 * vc;
      s2 += a2 * vc;
      s3 += a3 * vc;
      p[c] += a0 * v0 + a1 * v1 + a2 * v2 + a3 * v3;
    }
    p[r] += s0;
    p[r + 1] += s1;
    p[r + 2] += s2;
    p[r + 3] += s3;
  }
  for (; r < r1; r++) {
    const rr = r * n;
    const vr = v[r];
    let s = m[rr + r] * vr;
    for (let c = r + 1; c < n; c++) {
      s += m[rr + c] * v[c];
      p[c] += m[rr + c] * vr;
    }
    p[r] += s;
  }
}
