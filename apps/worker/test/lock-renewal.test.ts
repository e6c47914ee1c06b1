import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseRunSpec, sampleQueueName, shardJobId } from '@diffq/contract';
import type { DenoiserEngine } from '@diffq/diffusion';
import { SHARD_JOB_OPTIONS, sampleWorkerOptions } from '@diffq/queue';
import { openStore, writeManifest } from '@diffq/storage';
import type * as tf from '@tensorflow/tfjs';
import { type Job, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { writeRandomModel } from '../../../test/fixtures/random-model.ts';
import { testRedisUrl } from '../../../test/fixtures/test-redis.ts';
import { loadModelRuntime, type ModelRuntime } from '../src/model-runtime.ts';
import { RunContexts } from '../src/run-context.ts';
import { processShardJob } from '../src/shard-job.ts';
import { ShardSampler } from '../src/shard-sampler.ts';

const LOCK_MS = 1000;
const REDIS_URL = testRedisUrl(7);

/** Holds the thread like a synchronous backend (tfjs-wasm) computing a big forward pass would. */
function blockingEngine(inner: DenoiserEngine, blockMs: number): DenoiserEngine {
  return {
    name: inner.name,
    description: `${inner.description}, blocking ${blockMs} ms per pass`,
    provider: inner.provider,
    async forward(x: tf.Tensor4D, t: tf.Tensor1D, y?: tf.Tensor1D) {
      const until = Date.now() + blockMs;
      while (Date.now() < until) {
        // busy: no timer or socket callback can run
      }
      return inner.forward(x, t, y);
    },
    dispose: () => inner.dispose(),
  };
}

describe('BullMQ lock renewal while a shard samples', () => {
  let redis: Redis;
  let dir: string;
  let runtime: ModelRuntime;
  let storeUrl: string;
  let prefix = '';

  before(async () => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    await redis.flushdb();
    dir = mkdtempSync(join(tmpdir(), 'diffq-lock-'));
    const model = await writeRandomModel(join(dir, 'model'));
    runtime = await loadModelRuntime({ uri: model, threads: 1 });
    storeUrl = `file://${join(dir, 'runs')}`;
  });
  after(async () => {
    runtime.dispose();
    await redis.flushdb();
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Samples one 4-seed shard (4 steps, micro-batches of 2: 8 forward passes) under LOCK_MS locks. */
  async function sampleOneShard(name: string, blockMs: number): Promise<{ job: Job | undefined; lost: string[] }> {
    prefix = `lock-${name}`;
    const store = openStore(storeUrl);
    const spec = await writeManifest(store, {
      runId: name,
      model: { uri: runtime.uri, id: runtime.id, digest: runtime.digest },
      sampler: { kind: 'ddpm', respacing: '4' },
      seeds: '0-3',
      seedCount: 4,
      createdAt: new Date().toISOString(),
      codeVersion: 'test',
    });
    parseRunSpec(spec);
    const queue = new Queue(sampleQueueName(runtime.id), { connection: redis, prefix });
    await queue.add(
      'shard',
      { runId: name, modelId: runtime.id, shardIndex: 0, seedCheck: { first: 0, last: 3, count: 4 }, storeUrl },
      { ...SHARD_JOB_OPTIONS, jobId: shardJobId(name, 0) },
    );
    const slow = { ...runtime, engine: blockingEngine(runtime.engine, blockMs) };
    const runs = new RunContexts();
    const lost: string[] = [];
    const connection = redis.duplicate();
    const worker = new Worker(
      queue.name,
      (job, token, signal) =>
        processShardJob(job, token, signal, {
          model: slow,
          sampler: new ShardSampler(slow, 2),
          runs,
          worker: { id: 'w', batchSize: 2 },
          isCancelled: async () => false,
        }),
      {
        connection,
        prefix,
        ...sampleWorkerOptions({ lockDuration: LOCK_MS, stalledInterval: LOCK_MS / 2, maxStalledCount: 1 }),
        autorun: true,
      },
    );
    worker.on('stalled', (id) => lost.push(`stalled ${id}`));
    worker.on('lockRenewalFailed', (ids) => lost.push(`lock renewal failed ${ids}`));
    worker.on('error', () => {});
    const id = shardJobId(name, 0);
    const start = Date.now();
    while (Date.now() - start < 60_000) {
      const state = await queue.getJobState(id);
      if (state === 'completed' || state === 'failed' || lost.length > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await worker.close(true);
    connection.disconnect();
    const job = await queue.getJob(id);
    await queue.close();
    runs.close();
    store.close();
    return { job, lost };
  }

  it('keeps a shard that runs 3× longer than the lock when each step holds the thread 0.4× the lock', { timeout: 90_000 }, async () => {
    const { job, lost } = await sampleOneShard('renewed', LOCK_MS * 0.4);
    assert.deepEqual(lost, []);
    assert.equal(await job?.getState(), 'completed');
    assert.equal(job?.stalledCounter, 0);
    assert.ok((job?.finishedOn ?? 0) - (job?.processedOn ?? 0) > 3 * LOCK_MS, 'the shard outlived several locks');
  });

  it('loses the shard when one step holds the thread longer than the lock (why a worker refuses such a batch size)', {
    timeout: 90_000,
  }, async () => {
    const { lost } = await sampleOneShard('lost', LOCK_MS * 1.6);
    assert.ok(lost.length > 0, 'the lock expired under the blocked thread');
  });
});
