import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { FileStore, isTransientStoreError, openStore, PermanentStoreError } from '@diffq/storage';
import { objectStoreBehaviour } from './object-store-suite.ts';

const scratch = mkdtempSync(join(tmpdir(), 'diffq-file-store-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let count = 0;

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

  it('reports a root that is not a directory as a permanent fault', async () => {
    const file = join(scratch, 'not-a-dir');
    writeFileSync(file, 'x');
    const store = openStore(`file://${file}`, { file: { fsync: true } });
    const error = await store.put('r/manifest.json', '{}').catch((e: unknown) => e);
    assert.ok(error instanceof PermanentStoreError, String(error));
    assert.equal(isTransientStoreError(error), false);
    assert.match(error.message, /Could not put .*not-a-dir/);
  });

  it('rejects store URLs it cannot open, saying which forms are accepted', () => {
    assert.throws(() => openStore('http://example.com/runs'), /Unsupported store URL "http:\/\/example.com\/runs": use file:\/\/<dir>/);
    assert.throws(() => openStore('file://'), /no directory given/);
    assert.throws(() => openStore('s3://Bad_Bucket/x'), /bucket "Bad_Bucket" must be 3 to 63 characters/);
    assert.throws(() => openStore('s3://bucket/../x'), /Invalid store key/);
  });
});
