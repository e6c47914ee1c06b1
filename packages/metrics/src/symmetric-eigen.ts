/**
 * Eigen-decomposition of a real symmetric matrix, A = V·diag(λ)·Vᵀ, in float64: Householder
 * tridiagonalisation A = Q·T·Qᵀ, then implicit QL with Wilkinson shifts on T = Z·diag(λ)·Zᵀ, V = Q·Z
 * (Golub & Van Loan, Matrix Computations, §8.3). Both steps are backward stable: the computed λ are
 * exact for a matrix within ~n·ε·‖A‖ of A, which is what the Fréchet distance needs.
 *
 * The Fréchet distance asks for eigenvalues only (reduction and QL without Q); eigenvectors are
 * there for checking it against the √Σ₁·Σ₂·√Σ₁ route. Written for flat row-major Float64Arrays and
 * contiguous inner loops (a 2048×2048 matrix does not fit in cache): the blocked reduction keeps the
 * upper triangle, the eigenvectors are kept as rows (Vᵀ) so each plane rotation of the QL sweeps
 * touches two contiguous rows.
 */
import { transpose } from './dense.ts';
import { runTiles, sharedFloat64, symmetricProduct, type TileList, worthParallel } from './parallel-tiles.ts';
import { dot } from './product-tile.ts';

export interface SymmetricEigen {
  /** λ, ascending. */
  values: Float64Array;
  /** Vᵀ [n, n] row-major: row i is the unit eigenvector of values[i]. Present when asked for. */
  vectorRows?: Float64Array;
}

/** Gives up after this many QL iterations on one eigenvalue (a few are typical). */
const MAX_QL_ITERATIONS = 60;

/**
 * Eigenvalues (and, with `vectors`, eigenvectors) of the symmetric matrix a [n, n] (row-major; only its
 * upper triangle is read, a is not modified).
 */
export function symmetricEigen(a: ArrayLike<number>, n: number, options: { vectors?: boolean } = {}): SymmetricEigen {
  if (a.length !== n * n) throw new RangeError(`matrix has ${a.length} entries; a ${n}×${n} matrix needs ${n * n}`);
  const wantVectors = options.vectors ?? false;
  const { diagonal, offDiagonal, q } = tridiagonalize(a, n, wantVectors);
  const zRows = q ? transpose(q, n, n) : undefined;
  tridiagonalQL(diagonal, offDiagonal, zRows, n);

  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => diagonal[i] - diagonal[j]);
  const values = Float64Array.from(order, (i) => diagonal[i]);
  if (!zRows) return { values };
  const vectorRows = new Float64Array(n * n);
  order.forEach((from, to) => {
    vectorRows.set(zRows.subarray(from * n, from * n + n), to * n);
  });
  return { values, vectorRows };
}

/** Reflectors per panel of the blocked reduction. */
const PANEL = 32;

/**
 * Householder reduction A = Q·T·Qᵀ, T tridiagonal (diagonal d, off-diagonal e with e[i] = T[i, i+1],
 * e[n−1] = 0). Step i reflects rows/columns i+1 … n−1 with H = I − β·v·vᵀ chosen so that H·x ∝ e₁,
 * x = A[i, i+1…]; the trailing block B becomes H·B·H = B − v·wᵀ − w·vᵀ with p = β·B·v and
 * w = p − (β/2)(pᵀv)·v. Q = H₀·H₁⋯ is returned when asked for (row-major).
 *
 * Blocked as LAPACK's dsytrd/dlatrd: within a panel of PANEL steps the trailing block is not touched;
 * B·v is the panel-start block times v minus the panel's earlier v·wᵀ + w·vᵀ applied as thin
 * products, and after the panel the whole rank-2·PANEL update runs through the tiled product kernel.
 * So each step streams the trailing upper triangle once, read-only, for its product B·v, instead of
 * reading and writing it; the writes happen once per panel, in cache-sized tiles.
 */
function tridiagonalize(a: ArrayLike<number>, n: number, wantQ: boolean) {
  // Shared when large, so that the panels' trailing updates run on every core.
  const parallel = worthParallel(n ** 3 / 3);
  const m = parallel ? sharedFloat64(n * n) : new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) m[i * n + j] = a[i * n + j];
  const diagonal = new Float64Array(n);
  const offDiagonal = new Float64Array(n);
  const beta = new Float64Array(n);
  // Row r of x is [V[r, 0…PANEL), W[r, 0…PANEL)] and of y [W[r, ·], V[r, ·]], so that
  // x_r·y_c = Σ_k V[r,k]·W[c,k] + W[r,k]·V[c,k], the panel's update of entry (r, c).
  const width = 2 * PANEL;
  const x = parallel ? sharedFloat64(n * width) : new Float64Array(n * width);
  const y = parallel ? sharedFloat64(n * width) : new Float64Array(n * width);
  const v = parallel ? sharedFloat64(n) : new Float64Array(n);
  const p = new Float64Array(n);
  const wv = new Float64Array(PANEL);
  const vv = new Float64Array(PANEL);

  for (let j0 = 0; j0 < n - 2; j0 += PANEL) {
    const j1 = Math.min(n - 2, j0 + PANEL);
    x.fill(0);
    y.fill(0);
    for (let i = j0; i < j1; i++) {
      const k = i - j0;
      const row = i * n;
      // Row i as of now: the panel's earlier reflectors applied to it.
      if (k > 0) {
        const xi = i * width;
        for (let c = i; c < n; c++) {
          const yc = c * width;
          let s = 0;
          for (let q = 0; q < k; q++) s += x[xi + q] * y[yc + q] + x[xi + PANEL + q] * y[yc + PANEL + q];
          m[row + c] -= s;
        }
      }
      diagonal[i] = m[row + i];
      let tailNorm2 = 0;
      for (let c = i + 2; c < n; c++) tailNorm2 += m[row + c] * m[row + c];
      const x0 = m[row + i + 1];
      if (tailNorm2 === 0) {
        // Already tridiagonal in this row: H = I, v = w = 0 leave the panel's columns zero.
        offDiagonal[i] = x0;
        beta[i] = 0;
        m.fill(0, row + i + 1, row + n);
        continue;
      }
      const alpha = -Math.sign(x0 || 1) * Math.sqrt(x0 * x0 + tailNorm2);
      offDiagonal[i] = alpha;
      m[row + i + 1] = x0 - alpha;
      const b = 2 / ((x0 - alpha) ** 2 + tailNorm2);
      beta[i] = b;
      v.fill(0, 0, i + 1);
      for (let c = i + 1; c < n; c++) v[c] = m[row + c];

      // p = B·v over the upper triangle of the panel-start block m[i+1…, i+1…] …
      symmetricProduct(m, n, i + 1, v, p);
      // … minus the panel's earlier reflectors: p −= V·(Wᵀv) + W·(Vᵀv).
      if (k > 0) {
        wv.fill(0);
        vv.fill(0);
        for (let r = i + 1; r < n; r++) {
          const xr = r * width;
          for (let q = 0; q < k; q++) {
            vv[q] += x[xr + q] * v[r];
            wv[q] += x[xr + PANEL + q] * v[r];
          }
        }
        for (let r = i + 1; r < n; r++) {
          const xr = r * width;
          let s = 0;
          for (let q = 0; q < k; q++) s += x[xr + q] * wv[q] + x[xr + PANEL + q] * vv[q];
          p[r] -= s;
        }
      }
      // w = β·p − (β/2)(β·pᵀv)·v.
      let pv = 0;
      for (let r = i + 1; r < n; r++) {
        p[r] *= b;
        pv += p[r] * v[r];
      }
      const half = 0.5 * b * pv;
      for (let r = i + 1; r < n; r++) {
        const w = p[r] - half * v[r];
        x[r * width + k] = v[r];
        x[r * width + PANEL + k] = w;
        y[r * width + k] = w;
        y[r * width + PANEL + k] = v[r];
      }
    }
    // The trailing block receives the whole panel: m[r, c] −= x_r·y_c for j1 ≤ r ≤ c.
    const operands = {
      a: x,
      aStride: width,
      aOffset: 0,
      b: y,
      bStride: width,
      bOffset: 0,
      c: m,
      cStride: n,
      length: width,
      mode: 'subtract',
    } as const;
    const tiles: TileList = [];
    for (let r0 = j1; r0 < n; r0 += PANEL) {
      const r1 = Math.min(n, r0 + PANEL);
      for (let c0 = r0; c0 < n; c0 += PANEL) tiles.push(r0, r1, c0, Math.min(n, c0 + PANEL));
    }
    runTiles(operands, tiles);
  }
  if (n >= 2) {
    diagonal[n - 2] = m[(n - 2) * n + n - 2];
    offDiagonal[n - 2] = m[(n - 2) * n + n - 1];
  }
  diagonal[n - 1] = m[n * n - 1];
  offDiagonal[n - 1] = 0;
  if (!wantQ) return { diagonal, offDiagonal, q: undefined };
  // Leave only the reflectors in m: v_i right of the diagonal of row i, zero on and left of it.
  for (let i = 0; i < n; i++) m.fill(0, i * n, i * n + i + 1);
  for (let i = Math.max(0, n - 2); i < n; i++) m.fill(0, i * n, i * n + n);
  return { diagonal, offDiagonal, q: accumulateQ(m, beta, n) };
}

/** Columns of Q per band in accumulateQ: n rows of a band (512 KB at n = 2048) stay in cache. */
const Q_BAND = 32;

/**
 * Q = H₀·H₁⋯H_{n−3} (v_k in row k of m right of the diagonal, zeros on and left of it; β_k in beta),
 * applied right to left starting from I, so reflector k only touches rows and columns k+1 … n−1.
 * Four reflectors are applied at once in compact WY form (Schreiber & Van Loan 1989):
 * H_{k0}⋯H_{k0+3} = I − Y·T·Yᵀ with Y = [v_{k0} … v_{k0+3}] and T upper triangular,
 * T_jj = β_j, T[0:j, j] = −β_j·T[0:j, 0:j]·Yᵀv_j, so Q ← Q − Y·(T·(Yᵀ·Q)). Columns of Q do not mix,
 * so all reflectors are applied to one band of columns before the next, which keeps the band in
 * cache (2.4× faster at n = 2048 than streaming all of Q per group of reflectors).
 */
function accumulateQ(m: Float64Array, beta: Float64Array, n: number): Float64Array {
  const q = new Float64Array(n * n);
  for (let i = 0; i < n; i++) q[i * n + i] = 1;
  const none = new Float64Array(n);
  const reflector = (k: number) => (k >= 0 && beta[k] !== 0 ? m.subarray(k * n, k * n + n) : none);
  // Groups [k0, k0+4) from the last reflector (n−3) down; indices below 0 are identities.
  const groups: { k0: number; t: Float64Array; y: Float64Array[] }[] = [];
  for (let k0 = n - 6; k0 > -4; k0 -= 4) {
    const y = [reflector(k0), reflector(k0 + 1), reflector(k0 + 2), reflector(k0 + 3)];
    const t = new Float64Array(16);
    const z = new Float64Array(4);
    for (let j = 0; j < 4; j++) {
      const bj = k0 + j >= 0 ? beta[k0 + j] : 0;
      for (let r = 0; r < j; r++) z[r] = dot(y[r], 0, y[j], 0, n);
      for (let r = 0; r < j; r++) {
        let s = 0;
        for (let u = r; u < j; u++) s += t[r * 4 + u] * z[u];
        t[r * 4 + j] = -bj * s;
      }
      t[j * 4 + j] = bj;
    }
    groups.push({ k0, t, y });
  }

  const w0 = new Float64Array(Q_BAND);
  const w1 = new Float64Array(Q_BAND);
  const w2 = new Float64Array(Q_BAND);
  const w3 = new Float64Array(Q_BAND);
  for (let b0 = 0; b0 < n; b0 += Q_BAND) {
    const b1 = Math.min(n, b0 + Q_BAND);
    for (const { k0, t, y } of groups) {
      const c0 = Math.max(k0, 0) + 1;
      const lo = Math.max(b0, c0);
      if (lo >= b1) continue;
      const width = b1 - lo;
      const [y0s, y1s, y2s, y3s] = y;
      // W = Yᵀ·Q on this band.
      w0.fill(0);
      w1.fill(0);
      w2.fill(0);
      w3.fill(0);
      for (let i = c0; i < n; i++) {
        const y0 = y0s[i];
        const y1 = y1s[i];
        const y2 = y2s[i];
        const y3 = y3s[i];
        const qi = i * n + lo;
        for (let c = 0; c < width; c++) {
          const v = q[qi + c];
          w0[c] += y0 * v;
          w1[c] += y1 * v;
          w2[c] += y2 * v;
          w3[c] += y3 * v;
        }
      }
      // W ← T·W.
      for (let c = 0; c < width; c++) {
        const a0 = w0[c];
        const a1 = w1[c];
        const a2 = w2[c];
        const a3 = w3[c];
        w0[c] = t[0] * a0 + t[1] * a1 + t[2] * a2 + t[3] * a3;
        w1[c] = t[5] * a1 + t[6] * a2 + t[7] * a3;
        w2[c] = t[10] * a2 + t[11] * a3;
        w3[c] = t[15] * a3;
      }
      // Q ← Q − Y·W.
      for (let i = c0; i < n; i++) {
        const y0 = y0s[i];
        const y1 = y1s[i];
        const y2 = y2s[i];
        const y3 = y3s[i];
        const qi = i * n + lo;
        for (let c = 0; c < width; c++) q[qi + c] -= y0 * w0[c] + y1 * w1[c] + y2 * w2[c] + y3 * w3[c];
      }
    }
  }
  return q;
}

/**
 * Implicit QL with Wilkinson shifts on the tridiagonal (d, e), in place: d becomes the eigenvalues.
 * Every plane rotation of columns i, i+1 of Z is applied to rows i, i+1 of zRows = Zᵀ when given;
 * the rotations are recorded and applied in batches (Rotations) rather than one by one.
 */
function tridiagonalQL(d: Float64Array, e: Float64Array, zRows: Float64Array | undefined, n: number): void {
  const rotations = zRows ? new Rotations(zRows, n) : undefined;
  // A coupling is negligible next to ‖T‖, not only next to its diagonal neighbours: when both
  // neighbours are ~0 (a null space, a cluster of zero eigenvalues) a relative test asks e[m] to
  // underflow, which the sweeps never achieve. ε·‖T‖ is also all that backward stability promises.
  let norm = 0;
  for (let i = 0; i < n; i++) norm = Math.max(norm, Math.abs(d[i]) + Math.abs(e[i]) + (i > 0 ? Math.abs(e[i - 1]) : 0));
  const negligible = Number.EPSILON * norm;
  for (let l = 0; l < n; l++) {
    let iterations = 0;
    for (;;) {
      // Smallest m ≥ l whose coupling to m+1 is negligible.
      let m = l;
      for (; m < n - 1; m++) {
        const dd = Math.abs(d[m]) + Math.abs(d[m + 1]);
        if (Math.abs(e[m]) <= Number.EPSILON * dd || Math.abs(e[m]) <= negligible) break;
      }
      if (m === l) break;
      if (++iterations > MAX_QL_ITERATIONS) {
        throw new Error(`symmetric eigensolver: eigenvalue ${l} of ${n} did not converge in ${MAX_QL_ITERATIONS} QL iterations`);
      }
      // Wilkinson shift from the leading 2×2 block, folded into g = d[m] − shift.
      let g = (d[l + 1] - d[l]) / (2 * e[l]);
      let r = Math.hypot(g, 1);
      g = d[m] - d[l] + e[l] / (g + (g >= 0 ? r : -r));
      let s = 1;
      let c = 1;
      let p = 0;
      let i = m - 1;
      for (; i >= l; i--) {
        const f = s * e[i];
        const b = c * e[i];
        r = Math.hypot(f, g);
        e[i + 1] = r;
        if (r === 0) {
          // The bulge vanished (underflow): deflate and restart from the current l.
          d[i + 1] -= p;
          e[m] = 0;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1] - p;
        r = (d[i] - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
        rotations?.push(i, c, s);
      }
      if (r === 0 && i >= l) continue;
      d[l] -= p;
      e[l] = g;
      e[m] = 0;
    }
  }
  rotations?.flush();
}

/**
 * Plane rotations of rows (i, i+1) of zRows [n, n]: (zᵢ, zᵢ₊₁) ← (c·zᵢ − s·zᵢ₊₁, s·zᵢ + c·zᵢ₊₁).
 * The QL sweeps make ~n² of them; applied one at a time each streams two whole rows through memory,
 * so they are queued and applied to one band of columns at a time, a band small enough to stay in
 * cache while the whole queue passes over it, two rotations of a sweep per pass when they share a row.
 */
class Rotations {
  private static readonly CAPACITY = 1 << 16;
  private static readonly BAND = 64;
  private readonly index = new Int32Array(Rotations.CAPACITY);
  private readonly cos = new Float64Array(Rotations.CAPACITY);
  private readonly sin = new Float64Array(Rotations.CAPACITY);
  private count = 0;

  constructor(
    private readonly zRows: Float64Array,
    private readonly n: number,
  ) {}

  push(i: number, c: number, s: number): void {
    this.index[this.count] = i;
    this.cos[this.count] = c;
    this.sin[this.count] = s;
    if (++this.count === Rotations.CAPACITY) this.flush();
  }

  flush(): void {
    const { zRows, n, index, cos, sin, count } = this;
    for (let k0 = 0; k0 < n; k0 += Rotations.BAND) {
      const k1 = Math.min(n, k0 + Rotations.BAND);
      let r = 0;
      while (r < count) {
        const ri = index[r] * n;
        const rj = ri + n;
        const c = cos[r];
        const s = sin[r];
        if (r + 1 < count && index[r + 1] === index[r] - 1) {
          // A QL sweep's next rotation shares row i: apply both in one pass over rows i−1, i, i+1.
          const rh = ri - n;
          const c2 = cos[r + 1];
          const s2 = sin[r + 1];
          for (let k = k0; k < k1; k++) {
            const zh = zRows[rh + k];
            const zi = zRows[ri + k];
            const zj = zRows[rj + k];
            const zi1 = c * zi - s * zj;
            zRows[rj + k] = s * zi + c * zj;
            zRows[ri + k] = s2 * zh + c2 * zi1;
            zRows[rh + k] = c2 * zh - s2 * zi1;
          }
          r += 2;
        } else {
          for (let k = k0; k < k1; k++) {
            const zi = zRows[ri + k];
            const zj = zRows[rj + k];
            zRows[rj + k] = s * zi + c * zj;
            zRows[ri + k] = c * zi - s * zj;
          }
          r += 1;
        }
      }
    }
    this.count = 0;
  }
}
