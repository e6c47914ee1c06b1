import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isTransientStoreError, type ObjectStore, openStore, PermanentStoreError, TransientStoreError } from '@diffq/storage';
import { freePort } from '../../../test/fixtures/free-port.ts';
import { objectStoreBehaviour } from './object-store-suite.ts';
import { type S3rverProcess, startS3rver } from './s3rver-fixture.ts';

const BUCKET = 'diffq-test';
let server: S3rverProcess;
let endpoint = '';
const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const opened: ObjectStore[] = [];
let count = 0;

function open(url: string, s3: Record<string, unknown> = {}): ObjectStore {
  const store = openStore(url, { s3: { endpoint, credentials, ...s3 }, env: {} });
  opened.push(store);
  return store;
}

before(async () => {
  server = await startS3rver([BUCKET]);
  endpoint = server.endpoint;
});

after(async () => {
  for (const store of opened) store.close();
  await server.stop();
});

describe('S3 store (s3rver)', () => {
  objectStoreBehaviour(() => open(`s3://${BUCKET}/suite-${count++}/runs`, { partSize: 5 * 1024 * 1024 }));

  it('keeps keys below its prefix and apart from other prefixes', async () => {
    const a = open(`s3://${BUCKET}/tenant-a`);
    const b = open(`s3://${BUCKET}/tenant-a-b/`);
    await a.put('r/manifest.json', 'a');
    await b.put('r/manifest.json', 'b');
    assert.deepEqual(await a.list(''), ['r/manifest.json']);
    assert.equal(Buffer.from((await b.get('r/manifest.json'))!).toString(), 'b');
    assert.equal(a.url, `s3://${BUCKET}/tenant-a`);
    assert.equal(b.url, `s3://${BUCKET}/tenant-a-b`);
    assert.equal(a.urlOf('r/manifest.json'), `s3://${BUCKET}/tenant-a/r/manifest.json`);
    const root = open(`s3://${BUCKET}`);
    assert.equal(root.url, `s3://${BUCKET}`);
    assert.ok((await root.list('tenant-a/')).includes('tenant-a/r/manifest.json'));
  });

  it('reads its endpoint and path style from the environment', async () => {
    const store = openStore(`s3://${BUCKET}/env`, { s3: { credentials }, env: { DIFFQ_S3_ENDPOINT: endpoint, AWS_REGION: 'eu-west-3' } });
    opened.push(store);
    await store.put('r/x.json', '{}');
    assert.equal(await store.exists('r/x.json'), true);
  });

  it('calls an unreachable endpoint a transient fault, so the job is retried', async () => {
    const store = openStore(`s3://${BUCKET}/x`, {
      s3: { endpoint: `http://127.0.0.1:${await freePort()}`, credentials, maxAttempts: 1 },
      env: {},
    });
    opened.push(store);
    const error = await store.put('r/manifest.json', '{}').catch((e: unknown) => e);
    assert.ok(error instanceof TransientStoreError, String(error));
    assert.equal(isTransientStoreError(error), true);
    await assert.rejects(store.get('r/manifest.json'), TransientStoreError);
  });

  it('calls a missing bucket and a rejected key pair permanent faults, so the job fails at once', async () => {
    const missing = open('s3://no-such-bucket/x');
    const error = await missing.put('r/manifest.json', '{}').catch((e: unknown) => e);
    assert.ok(error instanceof PermanentStoreError, String(error));
    assert.match(error.message, /s3:\/\/no-such-bucket\/x\/r\/manifest.json: NoSuchBucket/);
    await assert.rejects(missing.list(''), PermanentStoreError);
    // s3rver checks the access key id but not SigV4 signatures, so the rejected pair has an unknown id.
    const forged = open(`s3://${BUCKET}/x`, { credentials: { accessKeyId: 'NOBODY', secretAccessKey: 'S3RVER' } });
    const denied = await forged.put('r/manifest.json', '{}').catch((e: unknown) => e);
    assert.ok(denied instanceof PermanentStoreError, String(denied));
    assert.equal(isTransientStoreError(denied), false);
    assert.match(denied.message, /InvalidAccessKeyId \(HTTP 403\)/);
  });
});
