import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seedNormals } from '@diffq/diffusion';
import { multiplyABt } from '../src/dense.ts';
import { accumulateMoments, emptyMoments } from '../src/moments.ts';
import { runTiles, sharedFloat64, symmetricProduct, type TileList, toShared } from '../src/parallel-tiles.ts';
import { symmetricProductRows } from '../src/product-tile.ts';

describe('products on every core', () => {
  it('gives bit-identical tiles on shared arrays (worker threads) and on ordinary arrays (one thread)', () => {
    const n = 200;
    const k = 150;
    const a = Float64Array.from(seedNormals(1, 0, n * k));
    const tiles: TileList = [];
    for (let i0 = 0; i0 < n; i0 += 32) for (let j0 = 0; j0 < n; j0 += 32) tiles.push(i0, Math.min(n, i0 + 32), j0, Math.min(n, j0 + 32));
    const serial = new Float64Array(n * n).fill(1);
    runTiles({ a, aStride: k, aOffset: 0, b: a, bStride: k, bOffset: 0, c: serial, cStride: n, length: k, mode: 'subtract' }, tiles);
    const shared = sharedFloat64(n * n).fill(1);
    const as = toShared(a);
    runTiles({ a: as, aStride: k, aOffset: 0, b: as, bStride: k, bOffset: 0, c: shared, cStride: n, length: k, mode: 'subtract' }, tiles);
    assert.deepEqual(shared, serial);
    assert.ok(Math.abs(serial[0] - (1 - a.subarray(0, k).reduce((s, v) => s + v * v, 0))) < 1e-10);
  });

  it('multiplies and accumulates moments on every core as on one', () => {
    const d = 256;
    const rows = 300;
    const x = Float64Array.from(seedNormals(2, 0, rows * d));
    const product = multiplyABt(x, x, rows, rows, d, { symmetric: true });
    assert.ok(product.buffer instanceof SharedArrayBuffer, 'large enough to run on the workers');
    for (const [i, j] of [
      [0, 0],
      [17, 250],
      [299, 3],
    ]) {
      let s = 0;
      for (let p = 0; p < d; p++) s += x[i * d + p] * x[j * d + p];
      assert.ok(Math.abs(product[i * rows + j] - s) < 1e-12 * d);
    }
    const m = accumulateMoments(emptyMoments(d), x);
    assert.ok(m.sumOuter.buffer instanceof SharedArrayBuffer);
    let s = 0;
    for (let r = 0; r < rows; r++) s += x[r * d + 5] * x[r * d + 200];
    assert.ok(Math.abs(m.sumOuter[5 * d + 200] - s) < 1e-10 && m.sumOuter[200 * d + 5] === m.sumOuter[5 * d + 200]);
  });

  it('splits a large symmetric matrix-vector product over the threads with the result of one thread', () => {
    const n = 900;
    const m = toShared(seedNormals(3, 0, n * n));
    const v = toShared(seedNormals(4, 0, n));
    for (const from of [0, 5, 333]) {
      const expected = new Float64Array(n);
      symmetricProductRows(m, n, from, n, v, expected);
      const p = new Float64Array(n).fill(7);
      symmetricProduct(m, n, from, v, p);
      for (let c = 0; c < n; c++) assert.ok(Math.abs(p[c] - expected[c]) < 1e-9, `from ${from}, entry ${c}: ${p[c]} vs ${expected[c]}`);
      // B·v of the symmetric B = m[from…, from…] (upper triangle), one entry the slow way.
      let s = 0;
      for (let k = from; k < n; k++) s += (k >= 600 ? m[600 * n + k] : m[k * n + 600]) * v[k];
      assert.ok(Math.abs(p[600] - s) < 1e-9);
    }
  });
});
