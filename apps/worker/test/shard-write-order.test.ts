import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { keys, parseRunSpec } from '@diffq/contract';
import { type ObjectStore, openStore } from '@diffq/storage';
import { writeShard } from '../src/shard-output.ts';

/** A real file store that remembers the order of its puts. */
function recording(store: ObjectStore): { store: ObjectStore; puts: string[] } {
  const puts: string[] = [];
  const recorded: ObjectStore = Object.create(store);
  recorded.put = async (key, body, options) => {
    await store.put(key, body, options);
    puts.push(key);
  };
  return { store: recorded, puts };
}

describe('writing a shard', async () => {
  const scratch = await mkdtemp(join(tmpdir(), 'diffq-write-order-'));
  after(() => rm(scratch, { recursive: true, force: true }));

  it('writes the PNGs, then the npz, then the shard .json last, naming the stored npz sha256', async () => {
    const file = openStore(`file://${scratch}`);
    const { store, puts } = recording(file);
    const spec = parseRunSpec({
      runId: 'order',
      model: { uri: 'models/x', id: 'model-x', digest: 'a'.repeat(64) },
      sampler: { kind: 'ddim' },
      seeds: '7-9',
      seedCount: 3,
      format: 'both',
      createdAt: new Date().toISOString(),
      codeVersion: 'test',
    });
    const seeds = [7, 8, 9];
    const images = new Uint8Array(3 * 2 * 2 * 1).map((_, i) => i * 10);
    await writeShard(
      {
        store,
        spec,
        shardIndex: 0,
        seeds,
        worker: { id: 'w', batchSize: 2 },
        engine: 'test',
        providers: { denoiser: 'cpu' },
        precision: 'float32',
        startedAt: new Date(),
        timings: { sample: 1 },
      },
      { images, imageShape: [3, 2, 2, 1], labels: null },
    );
    assert.deepEqual(puts, [
      keys.png('order', 7),
      keys.png('order', 8),
      keys.png('order', 9),
      keys.shardNpz('order', 0),
      keys.shardMeta('order', 0),
    ]);
    const meta = JSON.parse(new TextDecoder().decode(await file.get(keys.shardMeta('order', 0))));
    const npz = await file.get(keys.shardNpz('order', 0));
    assert.ok(npz);
    assert.equal(meta.npzSha256, createHash('sha256').update(npz).digest('hex'));
    assert.equal(meta.precision, 'float32', 'the shard records the precision it was sampled in');
    file.close();
  });
});
