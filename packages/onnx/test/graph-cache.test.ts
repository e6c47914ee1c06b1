import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cachedGraph, ONNX_CACHE_DIR } from '../src/graph-cache.ts';

const dir = mkdtempSync(join(tmpdir(), 'diffq-graph-cache-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A "graph" that names the weights it was built from, and counts its builds. */
function builder(weights: string) {
  const counter = {
    builds: 0,
    build: () => {
      counter.builds++;
      return new TextEncoder().encode(`graph of ${weights}`);
    },
  };
  return counter;
}

describe('the graph cache', () => {
  const weights = join(dir, 'weights.safetensors');

  it('keys graphs by the weights’ content: same bytes reuse the graph, other bytes of the same size and time build anew', async () => {
    writeFileSync(weights, 'A'.repeat(1000));
    const a = builder('A');
    const first = await cachedGraph(dir, 'g', { v: 1 }, a.build);
    assert.match(first.note, /built .* cached as/);
    const again = await cachedGraph(dir, 'g', { v: 1 }, a.build);
    assert.match(again.note, /graph from the cache/);
    assert.equal(a.builds, 1);

    // Touched, same bytes: still the cached graph.
    utimesSync(weights, new Date(2020, 0, 1), new Date(2020, 0, 1));
    assert.match((await cachedGraph(dir, 'g', { v: 1 }, a.build)).note, /graph from the cache/);
    assert.equal(a.builds, 1);

    // Other weights of the same size, with the old file's modification time (as rsync -t or cp -p leave them).
    const { atime, mtime } = statSync(weights);
    writeFileSync(weights, 'B'.repeat(1000));
    utimesSync(weights, atime, mtime);
    const b = builder('B');
    const other = await cachedGraph(dir, 'g', { v: 1 }, b.build);
    assert.equal(b.builds, 1, 'the graph of other weights is built, not taken from the cache');
    assert.match(other.note, /built .* cached as/);
    assert.equal(readdirSync(join(dir, ONNX_CACHE_DIR)).length, 2);
  });
});
