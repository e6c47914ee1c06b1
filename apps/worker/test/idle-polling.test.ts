import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_LOCKS, IDLE_POLL_SECONDS, sampleWorkerOptions } from '@diffq/queue';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { testRedisUrl } from '../../../test/fixtures/test-redis.ts';

const REDIS_URL = testRedisUrl(7);

/** Every command Redis runs on keys of `prefix`, as MONITOR reports them (e.g. "bzpopmin"). */
async function watchCommands(prefix: string): Promise<{ seen: string[]; stop: () => void }> {
  const client = new Redis(REDIS_URL);
  const monitor = await client.monitor();
  const seen: string[] = [];
  monitor.on('monitor', (_time: string, args: string[]) => {
    if (args.some((a) => a.startsWith(`${prefix}:`))) seen.push(String(args[0]).toLowerCase());
  });
  return {
    seen,
    stop: () => {
      monitor.disconnect();
      client.disconnect();
    },
  };
}

describe('an idle worker', () => {
  const prefix = `idle-poll-${process.pid}`;
  let redis: Redis;

  before(() => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  });
  after(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it(`polls an empty queue once per ${IDLE_POLL_SECONDS} s, and still takes a new job at once`, async () => {
    const watch = await watchCommands(prefix);
    const taken: number[] = [];
    const worker = new Worker(
      'q',
      async () => {
        taken.push(Date.now());
      },
      { ...sampleWorkerOptions(DEFAULT_LOCKS), connection: { url: REDIS_URL, maxRetriesPerRequest: null }, prefix },
    );
    const queue = new Queue('q', { connection: { url: REDIS_URL }, prefix });
    try {
      void worker.run();
      await worker.waitUntilReady();
      // 12 s idle: blocking pops at 0 and 10 s (BullMQ's default 5 s would add one at 5 s).
      await new Promise((resolve) => setTimeout(resolve, 12_000));
      const pops = watch.seen.filter((c) => c === 'bzpopmin').length;
      assert.ok(pops >= 1 && pops <= 2, `${pops} blocking pops in 12 s idle`);
      const added = Date.now();
      await queue.add('job', {});
      while (taken.length === 0 && Date.now() - added < 5_000) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(taken.length, 1, 'the job added while the worker waited was not taken');
      assert.ok(taken[0] - added < 1_000, `a job added to an idle queue waited ${taken[0] - added} ms`);
    } finally {
      watch.stop();
      await worker.close();
      await queue.close();
    }
  });
});
