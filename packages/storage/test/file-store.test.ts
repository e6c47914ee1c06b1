import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { FileStore, isTempFileName, isTransientStoreError, openStore, PermanentStoreError, TEMP_FILE_MARK } from '@diffq/storage';
import { canMount, TmpfsMount } from '../../../test/fixtures/read-only-mount.ts';
import { objectStoreBehaviour } from './object-store-suite.ts';

const scratch = mkdtempSync(join(tmpdir(), 'diffq-file-store-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let count = 0;

async function waitUntil(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await sleep(10);
  assert.ok(condition(), 'timed out');
}

describe('file store', () => {
  objectStoreBehaviour(() => openStore(`file://${join(scratch, `store-${count++}`)}`));

  it('writes nothing outside its root, whatever the key', async () => {
    const root = join(scratch, 'jail', 'root');
    const store = openStore(`file://${root}`);
    await store.put('r/manifest.json', '{}');
    for (const key of ['../escape', '../../escape', 'r/../../escape']) await assert.rejects(store.put(key, 'x'));
    assert.deepEqual(readdirSync(join(scratch, 'jail')), ['root']);
  });

  it('resolves file://./runs against the working directory', () => {
    const store = openStore('file://./runs', { cwd: scratch });
    assert.ok(store instanceof FileStore);
    assert.equal(store.root, join(scratch, 'runs'));
    assert.equal(store.url, `file://${join(scratch, 'runs')}`);
    assert.equal(store.urlOf('r/report.json'), `file://${join(scratch, 'runs', 'r', 'report.json')}`);
    assert.equal(openStore(undefined, { cwd: scratch }).url, store.url, 'file://./runs is the default');
  });

  it('keeps its temporary files out of list and removes them', async () => {
    const root = join(scratch, 'temps');
    const store = openStore(`file://${root}`);
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.put('r/shards/0.npz', `version ${i}`)));
    assert.deepEqual(readdirSync(join(root, 'r', 'shards')), ['0.npz']);
    assert.match(Buffer.from((await store.get('r/shards/0.npz'))!).toString(), /^version \d+$/);
  });

  it('round-trips with fsync on', async () => {
    const store = openStore(`file://${join(scratch, 'synced')}`, { file: { fsync: true } });
    await store.put('r/shards/0.npz', 'bytes');
    await store.put('r/shards/1.npz', Readable.from([Buffer.from('streamed')]));
    assert.equal(Buffer.from((await store.get('r/shards/0.npz'))!).toString(), 'bytes');
    assert.equal(Buffer.from((await store.get('r/shards/1.npz'))!).toString(), 'streamed');
  });

  it('reports a read-only file system (EROFS) as a transient fault, and writes once it is writable again', {
    skip: canMount() ? false : 'mounting a tmpfs needs root',
  }, async () => {
    const mount = new TmpfsMount(1);
    try {
      const store = openStore(`file://${mount.dir}`, { file: { fsync: true } });
      mount.readOnly(true);
      const error = await store.put('r/shards/0.json', '{}').catch((e: unknown) => e);
      assert.ok(isTransientStoreError(error), String(error));
      assert.match((error as Error).message, /Could not put .*read-only file system/i);
      mount.readOnly(false);
      await store.put('r/shards/0.json', '{}');
      assert.equal(Buffer.from((await store.get('r/shards/0.json')) ?? []).toString(), '{}');
    } finally {
      mount.unmount();
    }
  });

  it('reports a root that is not a directory as a permanent fault', async () => {
    const file = join(scratch, 'not-a-dir');
    writeFileSync(file, 'x');
    const store = openStore(`file://${file}`, { file: { fsync: true } });
    const error = await store.put('r/manifest.json', '{}').catch((e: unknown) => e);
    assert.ok(error instanceof PermanentStoreError, String(error));
    assert.equal(isTransientStoreError(error), false);
    assert.match(error.message, /Could not put .*not-a-dir/);
  });

  it('names a write in flight .diffq-tmp-<pid>-<12 hex>-<name>, beside its target', async () => {
    const root = join(scratch, 'in-flight');
    const store = openStore(`file://${root}`);
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    async function* slow(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('first half, ');
      await held;
      yield Buffer.from('second half');
    }
    const writing = store.put('r/shards/0.npz', slow());
    const dir = join(root, 'r', 'shards');
    await waitUntil(() => existsSync(dir) && readdirSync(dir).length > 0);
    const [temp] = readdirSync(dir);
    assert.match(temp, new RegExp(`^\\.diffq-tmp-${process.pid}-[0-9a-f]{12}-0\\.npz$`));
    assert.equal(isTempFileName(temp), true);
    release();
    await writing;
    assert.deepEqual(readdirSync(dir), ['0.npz']);
  });

  it('sweeps the temporary files a killed writer left under a prefix once they are old, and nothing else', async () => {
    const root = join(scratch, 'sweep');
    const store = openStore(`file://${root}`);
    await store.put('r/shards/0.npz', 'a finished shard');
    await store.put('other/shards/0.npz', 'another run');
    const leftovers = {
      oldShard: join(root, 'r', 'shards', `${TEMP_FILE_MARK}4242-0123456789ab-1.npz`),
      oldManifest: join(root, 'r', `${TEMP_FILE_MARK}4242-0123456789ac-manifest.json`),
      fresh: join(root, 'r', 'shards', `${TEMP_FILE_MARK}4243-0123456789ad-2.npz`),
      otherRun: join(root, 'other', 'shards', `${TEMP_FILE_MARK}4244-0123456789ae-1.npz`),
      notOurs: join(root, 'r', 'shards', '.nfs000000000001'),
    };
    for (const path of Object.values(leftovers)) writeFileSync(path, 'partial');
    const tenMinutesAgo = new Date(Date.now() - 10 * 60_000);
    for (const path of [
      leftovers.oldShard,
      leftovers.oldManifest,
      leftovers.otherRun,
      leftovers.notOurs,
      join(root, 'r', 'shards', '0.npz'),
    ])
      utimesSync(path, tenMinutesAgo, tenMinutesAgo);

    const swept = await store.sweepTemporary('r/', 5 * 60_000);
    assert.deepEqual(swept, [pathToFileURL(leftovers.oldShard).href, pathToFileURL(leftovers.oldManifest).href].sort());
    assert.deepEqual(
      Object.entries(leftovers)
        .filter(([, path]) => existsSync(path))
        .map(([name]) => name),
      ['fresh', 'otherRun', 'notOurs'],
    );
    assert.deepEqual(await store.list(''), ['other/shards/0.npz', 'r/shards/0.npz']);
    assert.deepEqual(await store.sweepTemporary('r/', 5 * 60_000), [], 'a second sweep finds nothing');
  });

  it('rejects store URLs it cannot open, saying which forms are accepted', () => {
    assert.throws(() => openStore('http://example.com/runs'), /Unsupported store URL "http:\/\/example.com\/runs": use file:\/\/<dir>/);
    assert.throws(() => openStore('file://'), /no directory given/);
    assert.throws(() => openStore('s3://Bad_Bucket/x'), /bucket "Bad_Bucket" must be 3 to 63 characters/);
    assert.throws(() => openStore('s3://bucket/../x'), /Invalid store key/);
  });
});
