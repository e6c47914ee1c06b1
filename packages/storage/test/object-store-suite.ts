/**
 * The behaviour every ObjectStore must show, run against each implementation by its own test file.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidPayload, keys, SHARD_META_FORMAT } from '@diffq/contract';
import {
  doneShards,
  type ObjectStore,
  PermanentStoreError,
  putJson,
  readManifest,
  sha256Hex,
  shardDone,
  writeManifest,
  writeShardMeta,
} from '@diffq/storage';

const MiB = 1024 * 1024;

/** n pseudo-random bytes, different for each tag (xorshift32 seeded from the tag's sha256). */
export function bytesOf(n: number, tag: string): Uint8Array {
  const words = new Uint32Array(Math.ceil(n / 4));
  let x = createHash('sha256').update(tag).digest().readUInt32LE(0) || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x;
  }
  return new Uint8Array(words.buffer, 0, n);
}

/** Yields bytes in chunks, pausing between them, like a slow encoder. */
async function* slowly(bytes: Uint8Array, chunk: number, pauseMs: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += chunk) {
    if (pauseMs > 0) await sleep(pauseMs);
    yield bytes.subarray(i, i + chunk);
  }
}

async function putMany(store: ObjectStore, keysToPut: string[], concurrency = 16): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < keysToPut.length) {
        const key = keysToPut[next++];
        await store.put(key, key);
      }
    }),
  );
}

const text = (bytes: Uint8Array | undefined) => (bytes === undefined ? undefined : Buffer.from(bytes).toString('utf8'));

/** store() gives a fresh, empty store per test. */
export function objectStoreBehaviour(store: () => ObjectStore): void {
  it('gives back what was put, and nothing for a key never written', async () => {
    const s = store();
    await s.put('run-1/manifest.json', '{"a":1}', { contentType: 'application/json' });
    await s.put('run-1/shards/0.npz', bytesOf(1000, 'npz'));
    assert.equal(text(await s.get('run-1/manifest.json')), '{"a":1}');
    assert.deepEqual(new Uint8Array((await s.get('run-1/shards/0.npz'))!), bytesOf(1000, 'npz'));
    assert.equal(await s.get('run-1/shards/1.npz'), undefined);
    assert.equal(await s.exists('run-1/manifest.json'), true);
    assert.equal(await s.exists('run-1/report.json'), false);
    assert.equal(await s.exists('run-1/shards'), false, 'a "folder" is not an object');
  });

  it('stores an empty object', async () => {
    const s = store();
    await s.put('r/empty.bin', new Uint8Array(0));
    assert.equal(await s.exists('r/empty.bin'), true);
    assert.equal((await s.get('r/empty.bin'))!.byteLength, 0);
  });

  it('overwrites a key, and rewriting the same bytes changes nothing', async () => {
    const s = store();
    await s.put('r/shards/0.json', 'first');
    await s.put('r/shards/0.json', 'second');
    assert.equal(text(await s.get('r/shards/0.json')), 'second');
    await s.put('r/shards/0.json', 'second');
    assert.equal(text(await s.get('r/shards/0.json')), 'second');
    assert.deepEqual(await s.list('r/'), ['r/shards/0.json']);
  });

  it('lists the keys under a prefix, sorted, and only those', async () => {
    const s = store();
    for (const key of [
      'r1/shards/10.npz',
      'r1/shards/1.npz',
      'r1/shards/2.npz',
      'r1/manifest.json',
      'r10/manifest.json',
      'r1/png/000001.png',
    ])
      await s.put(key, key);
    assert.deepEqual(await s.list('r1/shards/'), ['r1/shards/1.npz', 'r1/shards/10.npz', 'r1/shards/2.npz']);
    assert.deepEqual(await s.list('r1/shards/1'), ['r1/shards/1.npz', 'r1/shards/10.npz']);
    assert.deepEqual(await s.list('r1/'), [
      'r1/manifest.json',
      'r1/png/000001.png',
      'r1/shards/1.npz',
      'r1/shards/10.npz',
      'r1/shards/2.npz',
    ]);
    assert.deepEqual(await s.list('r1'), [...(await s.list('r1/')), 'r10/manifest.json']);
    assert.equal((await s.list('')).length, 6);
    assert.deepEqual(await s.list('nothing/'), []);
  });

  it('lists more than a thousand keys (past one S3 page)', async () => {
    const s = store();
    const written = Array.from({ length: 1100 }, (_, i) => keys.png('big', i));
    await putMany(s, written);
    await s.put('other/manifest.json', '{}');
    assert.deepEqual(await s.list('big/png/'), [...written].sort());
  });

  it('deletes a key, and deleting a missing key is not an error', async () => {
    const s = store();
    await s.put('r/grid.png', 'png');
    await s.delete('r/grid.png');
    assert.equal(await s.exists('r/grid.png'), false);
    assert.equal(await s.get('r/grid.png'), undefined);
    assert.deepEqual(await s.list('r/'), []);
    await s.delete('r/grid.png');
  });

  it('round-trips a 12 MiB streamed upload and a 12 MiB byte array', async () => {
    const s = store();
    const big = bytesOf(12 * MiB, 'stream');
    await s.put('r/features/0.npy', slowly(big, 256 * 1024, 0));
    const back = (await s.get('r/features/0.npy'))!;
    assert.equal(back.byteLength, big.byteLength);
    assert.equal(sha256Hex(back), sha256Hex(big));
    const bytes = bytesOf(12 * MiB + 3, 'bytes');
    await s.put('r/features/1.npy', bytes);
    assert.equal(sha256Hex((await s.get('r/features/1.npy'))!), sha256Hex(bytes));
  });

  it('never shows a half-written object: readers see the old bytes or the new, and no temporary key', async () => {
    const s = store();
    const before = bytesOf(64 * 1024, 'before');
    const after = bytesOf(6 * MiB, 'after');
    await s.put('r/shards/0.npz', before);
    let finished = false;
    const writing = s.put('r/shards/0.npz', slowly(after, 512 * 1024, 30)).finally(() => {
      finished = true;
    });
    const seen = new Set<string>();
    let reads = 0;
    while (!finished) {
      const [listed, bytes] = await Promise.all([s.list('r/'), s.get('r/shards/0.npz')]);
      assert.deepEqual(listed, ['r/shards/0.npz']);
      const digest = sha256Hex(bytes!);
      assert.ok(digest === sha256Hex(before) || digest === sha256Hex(after), `read ${bytes!.byteLength} bytes that are neither version`);
      seen.add(digest);
      reads++;
    }
    await writing;
    assert.ok(reads >= 3, `only ${reads} reads overlapped the write`);
    assert.ok(seen.has(sha256Hex(before)), 'the old object stays readable while the new one is written');
    assert.equal(sha256Hex((await s.get('r/shards/0.npz'))!), sha256Hex(after));
    assert.deepEqual(await s.list(''), ['r/shards/0.npz']);
  });

  it('leaves no trace of a put whose stream fails', async () => {
    const s = store();
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield bytesOf(1024, 'partial');
      throw new Error('encoder crashed');
    }
    await assert.rejects(s.put('r/shards/3.npz', broken()));
    assert.equal(await s.exists('r/shards/3.npz'), false);
    assert.deepEqual(await s.list(''), []);
  });

  it('finds nothing to sweep after finished and failed puts, and keeps every object', async () => {
    const s = store();
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield bytesOf(1024, 'partial');
      throw new Error('encoder crashed');
    }
    await s.put('r/shards/0.npz', 'done');
    await assert.rejects(s.put('r/shards/1.npz', broken()));
    assert.deepEqual(await s.sweepTemporary('r/', 0), []);
    assert.deepEqual(await s.list('r/'), ['r/shards/0.npz']);
  });

  it('rejects keys that could escape the root, as a permanent error', async () => {
    const s = store();
    for (const key of ['../escape', 'r/../../escape', '/etc/passwd', 'r//x', 'r/./x', 'r/.hidden', 'r/x/', '', 'r/x\\..\\y', 'r/a b']) {
      await assert.rejects(s.put(key, 'x'), PermanentStoreError, `put ${JSON.stringify(key)}`);
      await assert.rejects(s.get(key), PermanentStoreError, `get ${JSON.stringify(key)}`);
      await assert.rejects(s.exists(key), PermanentStoreError, `exists ${JSON.stringify(key)}`);
      await assert.rejects(s.delete(key), PermanentStoreError, `delete ${JSON.stringify(key)}`);
    }
    await assert.rejects(s.list('../'), PermanentStoreError);
    await assert.rejects(s.list('/'), PermanentStoreError);
    assert.deepEqual(await s.list(''), []);
  });

  it('keeps a run manifest as validated JSON with its defaults filled in', async () => {
    const s = store();
    assert.equal(await readManifest(s, 'run-7'), undefined);
    const spec = {
      runId: 'run-7',
      model: { uri: '/models/m', id: 'm', digest: 'ab'.repeat(32) },
      sampler: { kind: 'ddpm' },
      seeds: '0-99',
      seedCount: 100,
      createdAt: '2025-01-31T12:00:00.000Z',
      codeVersion: 'test',
    };
    const written = await writeManifest(s, spec);
    assert.equal(written.shardSize, 256);
    assert.deepEqual(await readManifest(s, 'run-7'), written);
    await assert.rejects(writeManifest(s, { ...spec, runId: 'run-8', seedCount: 5 }), InvalidPayload);
    assert.equal(await s.exists(keys.manifest('run-8')), false, 'an invalid manifest is never written');
  });

  it('counts a shard done only when its metadata names this shard and the stored files match it', async () => {
    const s = store();
    // Shard 4 of seeds 1016-1025 in shards of 2 holds seeds 1024 and 1025.
    const spec = await writeManifest(s, {
      runId: 'run-1',
      model: { uri: '/models/m', id: 'm', digest: 'ab'.repeat(32) },
      sampler: { kind: 'ddpm' },
      seeds: '1016-1025',
      seedCount: 10,
      shardSize: 2,
      createdAt: '2025-01-31T12:00:00.000Z',
      codeVersion: 'test',
    });
    const npz = bytesOf(5000, 'shard');
    const meta = {
      format: SHARD_META_FORMAT,
      runId: 'run-1',
      shardIndex: 4,
      seeds: [1024, 1025],
      labels: null,
      npzSha256: sha256Hex(npz),
      npzBytes: npz.byteLength,
      worker: { id: 'test', batchSize: 2 },
      engine: 'none',
      precision: 'float32',
      startedAt: '2025-01-31T12:00:00.000Z',
      finishedAt: '2025-01-31T12:00:01.000Z',
      timings: {},
    } as const;
    const done = async (options: { verify?: boolean; seeds?: number[] } = {}) => (await shardDone(s, spec, 4, options)) !== undefined;
    assert.equal(await done(), false, 'nothing written');
    await s.put(keys.shardNpz('run-1', 4), npz);
    assert.equal(await done(), false, 'npz without metadata');
    await writeShardMeta(s, { ...meta, seeds: [...meta.seeds] });
    assert.equal(await done(), true);
    assert.equal(await done({ verify: true }), true);
    assert.deepEqual([...(await doneShards(s, spec)).keys()], [4]);
    assert.equal(await done({ seeds: [0, 1] }), false, 'metadata for other seeds');
    await s.put(keys.shardNpz('run-1', 4), bytesOf(5000, 'rewritten'));
    assert.equal(await done(), true, 'the listing alone cannot see a rewritten npz');
    assert.equal(await done({ verify: true }), false, 'npz changed after its metadata');
    assert.deepEqual([...(await doneShards(s, spec, { verify: true })).keys()], []);
    await s.put(keys.shardNpz('run-1', 4), npz);
    await s.put(keys.shardMeta('run-1', 4), '{"format":');
    assert.equal(await done(), false, 'truncated metadata');
    await putJson(s, keys.shardMeta('run-1', 4), { ...meta, npzSha256: 'nope' });
    assert.equal(await done(), false, 'invalid metadata');
    await putJson(s, keys.shardMeta('run-1', 4), { ...meta, shardIndex: 3 });
    assert.equal(await done(), false, 'metadata of another shard');

    // A run with statistics: the shard is done only with its features.
    const withStats = {
      ...spec,
      statistics: {
        kinds: ['is' as const],
        features: { uri: '/models/f', digest: 'cd'.repeat(32), architecture: 'mnist-classifier', preprocess: 'none', featureDim: 8 },
      },
    };
    await writeShardMeta(s, { ...meta, seeds: [...meta.seeds] });
    assert.equal(await shardDone(s, withStats, 4), undefined, 'metadata without features');
    const features = bytesOf(300, 'features');
    await writeShardMeta(s, { ...meta, seeds: [...meta.seeds], features: { sha256: sha256Hex(features), bytes: features.byteLength } });
    assert.equal(await shardDone(s, withStats, 4), undefined, 'features named but not stored');
    await s.put(keys.features('run-1', 4), features);
    assert.ok(await shardDone(s, withStats, 4, { verify: true }));
    assert.deepEqual([...(await doneShards(s, withStats)).keys()], [4]);
    await s.put(keys.features('run-1', 4), bytesOf(300, 'other features'));
    assert.equal(await shardDone(s, withStats, 4, { verify: true }), undefined, 'features changed after the metadata');
  });
}
