/**
 * A worker's memory over 4,000 micro-batches (1,000 at the least; on idle cores 1,000 take 6 s,
 * which ends while the heap is still growing to its working size): the real worker (startWorker, onnx) in this process
 * samples 100 shards of 10 micro-batches of a small model, and the process RSS and the live tfjs
 * tensors are read every 250 ms. Flat means the same tensor count once the worker is idle again as
 * before the run, and an RSS slope over the second half (after allocator warm-up) under 5 MB per
 * 1,000 micro-batches.
 *
 * Options: --micro-batches 4000
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startWorker } from '@diffq/worker';
import * as tf from '@tensorflow/tfjs';
import { Redis } from 'ioredis';
import { launchRun } from '../apps/producer/src/launch.ts';
import { Producer } from '../apps/producer/src/producer.ts';
import { writeRandomModel } from '../test/fixtures/random-model.ts';
import { benchRedisUrl } from './bench-redis.ts';
import { loadLine, numberOption } from './options.ts';

const BATCH = 4;
const PER_SHARD = 10;
const FLAT_MB_PER_1000 = 5;

interface Reading {
  microBatches: number;
  rssMb: number;
  tensors: number;
}

/** Least-squares slope of y over x. */
function slope(points: { x: number; y: number }[]): number {
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const sxy = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0);
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  return sxx === 0 ? 0 : sxy / sxx;
}

export async function benchMemory(): Promise<void> {
  const total = numberOption('micro-batches', 4000, 200);
  const shards = Math.ceil(total / PER_SHARD);
  const dir = mkdtempSync(join(tmpdir(), 'diffq-bench-memory-'));
  const redisUrl = benchRedisUrl('memory');
  const redis = new Redis(redisUrl);
  await redis.flushdb();
  const prefix = 'bench-memory';
  const store = `file://${join(dir, 'runs')}`;
  const model = await writeRandomModel(join(dir, 'model'));
  const worker = await startWorker({ redis: { url: redisUrl }, prefix, model, engine: 'onnx', batchSize: BATCH, log: () => {} });
  const producer = new Producer({ redis: { url: redisUrl }, prefix, store });
  const readings: Reading[] = [];
  try {
    const microBatches = async () => {
      const metric = await worker.metrics.registry.getSingleMetric('diffq_micro_batch_size')?.get();
      const values = (metric?.values ?? []) as { metricName?: string; value: number }[];
      return values.find((v) => v.metricName === 'diffq_micro_batch_size_count')?.value ?? 0;
    };
    const idleTensors = tf.memory().numTensors;
    await launchRun(producer, {
      model,
      seeds: `0-${shards * PER_SHARD * BATCH - 1}`,
      runId: 'memory',
      steps: 2,
      shardSize: PER_SHARD * BATCH,
      store,
    });
    const started = performance.now();
    for (;;) {
      const done = await microBatches();
      readings.push({ microBatches: done, rssMb: process.memoryUsage().rss / 2 ** 20, tensors: tf.memory().numTensors });
      if (done >= shards * PER_SHARD) break;
      if (performance.now() - started > 900_000) throw new Error(`only ${done} of ${shards * PER_SHARD} micro-batches in 15 min`);
      await sleep(250);
    }
    // The last shard's write and the finalize job end after its last micro-batch: wait for idle.
    await sleep(1000);
    const endTensors = tf.memory().numTensors;
    const afterFirstShard = readings.find((r) => r.microBatches >= PER_SHARD) ?? readings[0];
    const last = readings.at(-1) as Reading;
    const peakTensors = Math.max(...readings.map((r) => r.tensors));
    const secondHalf = readings.filter((r) => r.microBatches >= last.microBatches / 2).map((r) => ({ x: r.microBatches, y: r.rssMb }));
    const mbPer1000 = slope(secondHalf) * 1000;
    const flat = endTensors === idleTensors && mbPer1000 < FLAT_MB_PER_1000;
    console.log(
      `memory: ${last.microBatches} micro-batches of ${BATCH} (small 8×8 model, onnx, 2 steps) in ${((performance.now() - started) / 1000).toFixed(1)} s, ${readings.length} readings`,
    );
    console.log(
      `memory: RSS ${afterFirstShard.rssMb.toFixed(1)} MB after the first shard → ${last.rssMb.toFixed(1)} MB at the end; live tensors ${idleTensors} before the run → ${endTensors} after it (at most ${peakTensors} while sampling)`,
    );
    console.log(
      `memory: RSS slope over the second half ${mbPer1000.toFixed(2)} MB per 1,000 micro-batches: ${flat ? 'flat' : 'NOT flat'} (flat: same tensor count, slope < ${FLAT_MB_PER_1000} MB per 1,000)`,
    );
    console.log(`memory: ${loadLine()}`);
  } finally {
    await producer.close();
    await worker.close('now');
    await redis.flushdb();
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
}
