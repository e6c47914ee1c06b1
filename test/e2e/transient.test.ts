import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { before, describe, it } from 'node:test';
import { keys } from '@diffq/contract';
import { canMount, TmpfsMount } from '../fixtures/read-only-mount.ts';
import { readStoredRun, useTestEnv, waitFor } from './harness.ts';

const BUCKET = 'diffq-transient';

/** A loopback TCP relay to the S3 server that can be taken down and brought back on the same port. */
class Outage {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly target: number) {}

  async up(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(this.target, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {});
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => this.server?.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  async down(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

describe('a storage outage while a shard is due', () => {
  const env = useTestEnv('transient');
  let outage: Outage;

  before(async () => {
    const { server } = await env.s3(BUCKET);
    outage = new Outage(Number(new URL(server.endpoint).port));
    await outage.up();
    env.onCleanup(() => outage.down());
  });

  it('retries the shard with backoff and completes it once storage is back', { timeout: 180_000 }, async () => {
    const storeUrl = `s3://${BUCKET}/runs`;
    await env.launch({ runId: 'outage', store: storeUrl, seeds: '0-49', shardSize: 50, steps: 2 });
    await outage.down();

    // The worker reaches S3 only through the relay, which is down.
    const worker = env.spawnWorker({ batchSize: 25, exitWhenIdle: true, env: { DIFFQ_S3_ENDPOINT: `http://127.0.0.1:${outage.port}` } });
    const queue = await env.sampleQueue();
    await waitFor('a failed attempt', async () => ((await queue.getJob('outage.shard.0'))?.attemptsMade ?? 0) >= 1, 90_000);
    const failedOnce = await queue.getJob('outage.shard.0');
    assert.equal(await failedOnce?.getState(), 'delayed', 'the attempt failed as transient: retried later, not failed for good');
    assert.match(failedOnce?.failedReason ?? '', /ECONNREFUSED|connect|socket/i);

    await outage.up();
    assert.equal(await worker.exited, 0, worker.log());
    const job = await queue.getJob('outage.shard.0');
    assert.equal(await job?.getState(), 'completed');
    assert.ok((job?.attemptsMade ?? 0) >= 2);
    const store = env.store(storeUrl);
    const run = await readStoredRun(store, 'outage');
    assert.equal(run.images.size, 50);
    assert.ok(await store.exists(keys.report('outage')));
  });
});

describe('a store remounted read-only while a shard is due', { skip: canMount() ? false : 'mounting a tmpfs needs root' }, () => {
  const env = useTestEnv('transient');

  it('retries the shard (EROFS) with backoff and completes it once the store is writable', { timeout: 180_000 }, async () => {
    const mount = new TmpfsMount(64);
    env.onCleanup(() => mount.unmount());
    const storeUrl = `file://${mount.dir}/runs`;
    await env.launch({ runId: 'erofs', store: storeUrl, seeds: '0-9', shardSize: 10, steps: 2 });
    mount.readOnly(true);

    const worker = env.spawnWorker({ batchSize: 10, exitWhenIdle: true });
    const queue = await env.sampleQueue();
    await waitFor('a failed attempt', async () => ((await queue.getJob('erofs.shard.0'))?.attemptsMade ?? 0) >= 1, 90_000);
    const failedOnce = await queue.getJob('erofs.shard.0');
    assert.equal(await failedOnce?.getState(), 'delayed', 'EROFS is transient: retried later, not failed for good');
    assert.match(failedOnce?.failedReason ?? '', /read-only file system/i);

    mount.readOnly(false);
    assert.equal(await worker.exited, 0, worker.log());
    assert.equal(await (await queue.getJob('erofs.shard.0'))?.getState(), 'completed');
    const run = await readStoredRun(env.store(storeUrl), 'erofs');
    assert.equal(run.images.size, 10);
  });
});
