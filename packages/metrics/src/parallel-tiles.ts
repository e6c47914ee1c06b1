/**
 * Runs the tiles of products (product-tile.ts) on every core: the calling thread and
 * availableParallelism − 1 worker threads take tiles from one shared counter until none is left, so a
 * core slowed by other work simply takes fewer. Synchronous for the caller (it blocks in Atomics.wait
 * until the workers are done), so the statistics keep plain function signatures.
 *
 * The workers read and write the operands in place, so their arrays must live in SharedArrayBuffers
 * (sharedFloat64); with ordinary arrays, or for products too small to repay waking the workers, the
 * tiles run on the calling thread alone. The workers run productTile's own source
 * (Function.prototype.toString), so there is one kernel, not a JavaScript copy of it.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { dot, productTile, symmetricProductRows, type TileOperands } from './product-tile.ts';

/** Below this many multiply-adds in a call the workers are not worth waking. */
const PARALLEL_MIN_WORK = 4e6;

/** Whether a product of this many multiply-adds should run on every core (and so use shared arrays). */
export function worthParallel(multiplyAdds: number): boolean {
  return multiplyAdds >= PARALLEL_MIN_WORK && pool().length > 0;
}

/** A zeroed Float64Array in shared memory, which the workers can read and write. */
export function sharedFloat64(length: number): Float64Array {
  return new Float64Array(new SharedArrayBuffer(length * Float64Array.BYTES_PER_ELEMENT));
}

/** A shared copy of an array (or the array itself when it is already shared). */
export function toShared(values: ArrayLike<number>): Float64Array {
  if (values instanceof Float64Array && values.buffer instanceof SharedArrayBuffer) return values;
  const out = sharedFloat64(values.length);
  out.set(values);
  return out;
}

/** Tiles as [i0, i1, j0, j1] quadruples. */
export type TileList = number[];

/** Tiles that share one set of operands. */
export interface TileGroup {
  operands: TileOperands;
  tiles: TileList;
}

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
${dot.toString()}
${productTile.toString()}
${symmetricProductRows.toString()}
parentPort.on('message', (task) => {
  const { control } = task;
  if (task.kind === 'tiles') {
    const { groups, tiles } = task;
    const count = tiles.length / 5;
    for (let t = Atomics.add(control, 0, 1); t < count; t = Atomics.add(control, 0, 1)) {
      productTile(groups[tiles[5 * t]], tiles[5 * t + 1], tiles[5 * t + 2], tiles[5 * t + 3], tiles[5 * t + 4]);
    }
  } else {
    const { m, n, rows, v, parts } = task;
    const count = rows.length - 1;
    for (let t = Atomics.add(control, 0, 1); t < count; t = Atomics.add(control, 0, 1)) {
      symmetricProductRows(m, n, rows[t], rows[t + 1], v, parts[t]);
    }
  }
  Atomics.add(control, 1, 1);
  Atomics.notify(control, 1);
});
`;

let workers: Worker[] | undefined;

function pool(): Worker[] {
  if (!workers) {
    const count = Math.max(0, Math.min(7, availableParallelism() - 1));
    workers = Array.from({ length: count }, () => {
      const worker = new Worker(WORKER_SOURCE, { eval: true });
      // Idle workers must not keep a CLI or a test process alive.
      worker.unref();
      return worker;
    });
  }
  return workers;
}

/** productTile(operands, …tile) for every tile. */
export function runTiles(operands: TileOperands, tiles: TileList): void {
  runTileGroups([{ operands, tiles }]);
}

/** Every group's tiles, spread over the cores when all operands are shared and the work is large. */
export function runTileGroups(groups: TileGroup[]): void {
  let work = 0;
  let count = 0;
  for (const { operands, tiles } of groups) {
    count += tiles.length / 4;
    for (let t = 0; t < tiles.length; t += 4) work += (tiles[t + 1] - tiles[t]) * (tiles[t + 3] - tiles[t + 2]) * operands.length;
  }
  const shared = groups.every(({ operands: o }) => [o.a, o.b, o.c].every((x) => x.buffer instanceof SharedArrayBuffer));
  if (!shared || count < 2 || !worthParallel(work)) {
    for (const { operands, tiles } of groups) {
      for (let t = 0; t < tiles.length; t += 4) productTile(operands, tiles[t], tiles[t + 1], tiles[t + 2], tiles[t + 3]);
    }
    return;
  }
  const helpers = pool();
  // [group, i0, i1, j0, j1] per tile, in shared memory so that every thread takes from the same list.
  const tiles = new Int32Array(new SharedArrayBuffer(count * 5 * 4));
  let q = 0;
  groups.forEach(({ tiles: list }, g) => {
    for (let t = 0; t < list.length; t += 4) tiles.set([g, list[t], list[t + 1], list[t + 2], list[t + 3]], 5 * q++);
  });
  // control[0]: the next tile to take; control[1]: how many workers have finished.
  const control = new Int32Array(new SharedArrayBuffer(8));
  const operands = groups.map((g) => g.operands);
  for (const worker of helpers) worker.postMessage({ kind: 'tiles', groups: operands, tiles, control });
  for (let t = Atomics.add(control, 0, 1); t < count; t = Atomics.add(control, 0, 1)) {
    productTile(operands[tiles[5 * t]], tiles[5 * t + 1], tiles[5 * t + 2], tiles[5 * t + 3], tiles[5 * t + 4]);
  }
  waitForHelpers(control, helpers.length);
}

function waitForHelpers(control: Int32Array, helpers: number): void {
  for (let done = Atomics.load(control, 1); done < helpers; done = Atomics.load(control, 1)) Atomics.wait(control, 1, done);
}

/** Below this many matrix elements a symmetric product is not split: a step's hand-off costs ~0.1 ms. */
const SPLIT_MIN_ELEMENTS = 2e5;

/** Per-thread buffers of symmetricProduct, kept between the steps of one reduction. */
let partBuffers: Float64Array[] = [];

/**
 * p = B·v for the symmetric B = m[from…, from…] held in the upper triangle of m [n, n] (p is zeroed
 * first). With m and v shared and B large, the rows are split into one range per thread, of equal
 * area (row r holds n − r elements), each thread adds its rows into its own buffer, and p is their sum.
 */
export function symmetricProduct(m: Float64Array, n: number, from: number, v: Float64Array, p: Float64Array): void {
  p.fill(0);
  const size = n - from;
  const shared = m.buffer instanceof SharedArrayBuffer && v.buffer instanceof SharedArrayBuffer;
  const helpers = shared && (size * size) / 2 >= SPLIT_MIN_ELEMENTS ? pool() : [];
  if (helpers.length === 0) {
    symmetricProductRows(m, n, from, n, v, p);
    return;
  }
  const threads = helpers.length + 1;
  // Row boundaries splitting the triangle's area (n − r per row r) evenly, on multiples of 4 rows.
  const rows = new Int32Array(new SharedArrayBuffer(4 * (threads + 1)));
  rows[0] = from;
  rows[threads] = n;
  for (let t = 1; t < threads; t++) {
    const remaining = size * Math.sqrt(1 - t / threads);
    rows[t] = Math.max(rows[t - 1], Math.min(n, from + Math.round((size - remaining) / 4) * 4));
  }
  if (partBuffers.length !== threads || partBuffers[0].length !== n) partBuffers = Array.from({ length: threads }, () => sharedFloat64(n));
  const parts = partBuffers;
  for (const part of parts) part.fill(0, from, n);
  const control = new Int32Array(new SharedArrayBuffer(8));
  for (const worker of helpers) worker.postMessage({ kind: 'rows', m, n, rows, v, parts, control });
  for (let t = Atomics.add(control, 0, 1); t < threads; t = Atomics.add(control, 0, 1))
    symmetricProductRows(m, n, rows[t], rows[t + 1], v, parts[t]);
  waitForHelpers(control, helpers.length);
  for (const part of parts) for (let c = from; c < n; c++) p[c] += part[c];
}
