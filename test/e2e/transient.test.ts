import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { keys, sampleQueueName } from '@diffq/contract';
import { defaultModelId } from '@diffq/queue';
import { fileDigest, openStore } from '@diffq/storage';
import { Queue } from 'bullmq';
import { type S3rverProcess, startS3rver } from '../../packages/storage/test/s3rver-fixture.ts';
import { E2E_DB, readStoredRun, runDiffq, smallModel, spawnWorker, type TestEnv, testEnv, waitFor } from './harness.ts';

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
  let env: TestEnv;
  let s3: S3rverProcess;
  let outage: Outage;

  before(async () => {
    env = await testEnv(E2E_DB.transient, 'transient');
    s3 = await startS3rver([BUCKET]);
    outage = new Outage(Number(new URL(s3.endpoint).port));
    await outage.up();
    Object.assign(process.env, {
      DIFFQ_S3_ENDPOINT: s3.endpoint,
      AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
      AWS_REGION: 'us-east-1',
    });
  });
  after(async () => {
    await outage.down();
    await s3.stop();
    await env.cleanup();
  });

  it('retries the shard with backoff and completes it once storage is back', { timeout: 180_000 }, async () => {
    const model = await smallModel(env.dir);
    const storeUrl = `s3://${BUCKET}/runs`;
    const launched = await runDiffq([
      'launch',
      ...env.flags,
      '--store',
      storeUrl,
      '--model',
      model,
      '--seeds',
      '0-49',
      '--shard-size',
      '50',
      '--steps',
      '2',
      '--run-id',
      'outage',
    ]);
    assert.equal(launched.code, 0, launched.err);
    await outage.down();

    // The worker reaches S3 only through the relay, which is down.
    const worker = spawnWorker(env, model, ['--batch-size', '25', '--threads', '1', '--exit-when-idle'], {
      DIFFQ_S3_ENDPOINT: `http://127.0.0.1:${outage.port}`,
    });
    const queue = new Queue(sampleQueueName(defaultModelId(await fileDigest(join(model, 'weights.safetensors')))), {
      connection: env.redis,
      prefix: env.prefix,
    });
    await waitFor('a failed attempt', async () => ((await queue.getJob('outage.shard.0'))?.attemptsMade ?? 0) >= 1, 90_000);
    const failedOnce = await queue.getJob('outage.shard.0');
    assert.equal(await failedOnce?.getState(), 'delayed', 'the attempt failed as transient: retried later, not failed for good');
    assert.match(failedOnce?.failedReason ?? '', /ECONNREFUSED|connect|socket/i);

    await outage.up();
    assert.equal(await worker.exited, 0, worker.log());
    const job = await queue.getJob('outage.shard.0');
    assert.equal(await job?.getState(), 'completed');
    assert.ok((job?.attemptsMade ?? 0) >= 2);
    const run = await readStoredRun(openStore(storeUrl), 'outage');
    assert.equal(run.images.size, 50);
    assert.ok(await openStore(storeUrl).exists(keys.report('outage')));
    await queue.close();
  });
});
