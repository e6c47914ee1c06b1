/**
 * A growing set of float32 feature rows [n, dim], kept in chunks so that appending never copies what
 * is there (a run's 50,000 × 2048 features are 400 MB; a doubling array would briefly need three times
 * that). Row ranges inside one chunk are views, others copies.
 */
import { featureRows } from './moments.ts';

/** Rows per chunk: a multiple of every row batch the statistics use, so their slices are views. */
export const FEATURE_CHUNK_ROWS = 8192;

export class FeatureRows {
  private readonly chunks: Float32Array[] = [];
  private filled = 0;
  count = 0;

  constructor(
    readonly dim: number,
    private readonly chunkRows = FEATURE_CHUNK_ROWS,
  ) {
    if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`feature dimension is ${dim}; accepted: an integer ≥ 1`);
  }

  /** The rows of one array [n, dim], without copying them. */
  static of(features: Float32Array, dim: number, chunkRows = FEATURE_CHUNK_ROWS): FeatureRows {
    const rows = new FeatureRows(dim, chunkRows);
    const n = featureRows(features, dim, 'features');
    for (let r = 0; r < n; r += chunkRows) rows.chunks.push(features.subarray(r * dim, Math.min(n, r + chunkRows) * dim));
    rows.count = n;
    rows.filled = n % chunkRows === 0 ? chunkRows : n % chunkRows;
    return rows;
  }

  /** Appends rows [m, dim] (copied). */
  append(features: Float32Array): void {
    const { dim, chunkRows } = this;
    const m = featureRows(features, dim, 'features');
    let r = 0;
    while (r < m) {
      if (this.chunks.length === 0 || this.filled === chunkRows) {
        this.chunks.push(new Float32Array(chunkRows * dim));
        this.filled = 0;
      }
      let last = this.chunks[this.chunks.length - 1];
      if (last.length < chunkRows * dim) {
        // The short last chunk of of() is a view of someone else's array: grow a copy.
        const grown = new Float32Array(chunkRows * dim);
        grown.set(last);
        this.chunks[this.chunks.length - 1] = grown;
        last = grown;
      }
      const take = Math.min(m - r, chunkRows - this.filled);
      last.set(features.subarray(r * dim, (r + take) * dim), this.filled * dim);
      this.filled += take;
      this.count += take;
      r += take;
    }
  }

  /** Rows [start, end) as one array [end − start, dim]: a view when they lie in one chunk. */
  slice(start: number, end: number): Float32Array {
    if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= this.count)) {
      throw new RangeError(`rows [${start}, ${end}) of ${this.count}; accepted: 0 ≤ start ≤ end ≤ ${this.count}`);
    }
    const { dim, chunkRows } = this;
    const c = Math.floor(start / chunkRows);
    if (end <= (c + 1) * chunkRows) return this.chunks[c].subarray((start - c * chunkRows) * dim, (end - c * chunkRows) * dim);
    const out = new Float32Array((end - start) * dim);
    for (let r = start; r < end; ) {
      const k = Math.floor(r / chunkRows);
      const stop = Math.min(end, (k + 1) * chunkRows);
      out.set(this.chunks[k].subarray((r - k * chunkRows) * dim, (stop - k * chunkRows) * dim), (r - start) * dim);
      r = stop;
    }
    return out;
  }

  /** The rows at the given indices, in their order, as one array [indices.length, dim]. */
  gather(indices: ArrayLike<number>): Float32Array {
    const { dim, chunkRows } = this;
    const out = new Float32Array(indices.length * dim);
    for (let i = 0; i < indices.length; i++) {
      const r = indices[i];
      if (!(Number.isInteger(r) && r >= 0 && r < this.count))
        throw new RangeError(`row index ${r}; accepted: an integer in [0, ${this.count})`);
      const k = Math.floor(r / chunkRows);
      out.set(this.chunks[k].subarray((r - k * chunkRows) * dim, (r - k * chunkRows + 1) * dim), i * dim);
    }
    return out;
  }
}
