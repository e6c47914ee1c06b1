import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { keys, parseShardMeta, SHARD_META_FORMAT } from '@diffq/contract';
import { runPrecisionKey } from '@diffq/queue';
import { type ObjectStore, openStore, writeShardMeta } from '@diffq/storage';
import { UnrecoverableError } from 'bullmq';
import { Redis } from 'ioredis';
import { testRedisUrl } from '../../../test/fixtures/test-redis.ts';
import { RunPrecision, type RunSampling } from '../src/run-precision.ts';

const PREFIX = 'run-precision-test';
const HALF: RunSampling = { precision: 'float16', engine: 'onnxruntime-node 1.30.0 cuda', worker: 'gpu-1' };
const FULL: RunSampling = { precision: 'float32', engine: 'tfjs wasm', worker: 'cpu-1' };

describe('one precision per run', () => {
  let redis: Redis;
  let scratch: string;
  let store: ObjectStore;

  before(async () => {
    redis = new Redis(testRedisUrl(7), { maxRetriesPerRequest: 1 });
    scratch = await mkdtemp(join(tmpdir(), 'diffq-precision-'));
    store = openStore(`file://${scratch}`);
  });
  after(async () => {
    const stale = await redis.keys(`${PREFIX}:*`);
    if (stale.length > 0) await redis.del(...stale);
    redis.disconnect();
    store.close();
    await rm(scratch, { recursive: true, force: true });
  });

  it("fixes the run's precision with its first shard, and a worker of another precision refuses the run", async () => {
    const gpu = new RunPrecision(redis, PREFIX, HALF);
    const cpu = new RunPrecision(redis, PREFIX, FULL);
    await gpu.admit(store, 'first');
    await gpu.admit(store, 'first');
    await assert.rejects(
      cpu.admit(store, 'first'),
      (error: Error) =>
        error instanceof UnrecoverableError &&
        /run first is sampled in float16 \(its first shard came from gpu-1, onnxruntime-node 1\.30\.0 cuda\); this worker computes in float32 \(tfjs wasm\)/.test(
          error.message,
        ),
    );
    assert.deepEqual(JSON.parse((await redis.get(runPrecisionKey(PREFIX, 'first'))) ?? 'null'), HALF);
  });

  it('lets exactly one precision win when workers take a run at the same moment', async () => {
    const outcomes = await Promise.allSettled([
      new RunPrecision(redis, PREFIX, HALF).admit(store, 'race'),
      new RunPrecision(redis, PREFIX, FULL).admit(store, 'race'),
      new RunPrecision(redis, PREFIX, FULL).admit(store, 'race'),
    ]);
    const winner = JSON.parse((await redis.get(runPrecisionKey(PREFIX, 'race'))) ?? 'null') as RunSampling;
    const admitted = outcomes.filter((o) => o.status === 'fulfilled').length;
    assert.equal(admitted, winner.precision === 'float16' ? 1 : 2);
  });

  it('takes the precision from the stored shards when Redis lost the record', async () => {
    await writeShardMeta(
      store,
      parseShardMeta({
        format: SHARD_META_FORMAT,
        runId: 'flushed',
        shardIndex: 3,
        seeds: [12, 13],
        labels: null,
        npzSha256: '0f'.repeat(32),
        npzBytes: 10,
        worker: { id: 'gpu-1', batchSize: 2 },
        engine: HALF.engine,
        precision: 'float16',
        startedAt: new Date().toISOString(),
        finishedAt: new Date().toISOString(),
        timings: { sample: 1 },
      }),
    );
    assert.equal(await redis.exists(runPrecisionKey(PREFIX, 'flushed')), 0);
    await assert.rejects(new RunPrecision(redis, PREFIX, FULL).admit(store, 'flushed'), /run flushed is sampled in float16/);
    await new RunPrecision(redis, PREFIX, HALF).admit(store, 'flushed');
    assert.equal(await store.exists(keys.shardMeta('flushed', 3)), true);
  });
});
