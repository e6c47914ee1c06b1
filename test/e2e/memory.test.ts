import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRunSpec } from '@diffq/contract';
import { loadModelRuntime, ShardSampler } from '@diffq/worker';
import * as tf from '@tensorflow/tfjs';
import { useTestEnv, waitFor } from './harness.ts';

const MICRO_BATCHES = 200;

/** Reads the first sample of a metric (any labels) from a Prometheus text exposition. */
function sample(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  if (!line) throw new Error(`${name} missing from /metrics`);
  return Number(line.split(' ').at(-1));
}

describe(`worker memory over ${MICRO_BATCHES} micro-batches`, () => {
  const env = useTestEnv('memory');

  it('keeps the worker process RSS and its tensor count flat', { timeout: 300_000 }, async () => {
    // 40 shards × 5 micro-batches of 5 seeds = 200 micro-batches.
    await env.launch({ runId: 'memory', seeds: `0-${MICRO_BATCHES * 5 - 1}`, shardSize: 25 });
    const worker = env.spawnWorker({ batchSize: 5, exitWhenIdle: true, args: ['--metrics-port', '0'] });
    const metricsPort = () => Number(/on port (\d+)/.exec(worker.log())?.[1] ?? 0);
    await waitFor('the metrics port', () => metricsPort() > 0, 120_000);
    const port = metricsPort();
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as { ok: boolean }).ok, true);
    const scrape = async () => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return {
        rss: sample(text, 'diffq_worker_process_resident_memory_bytes'),
        tensors: sample(text, 'diffq_worker_tensors'),
        batches: sample(text, 'diffq_micro_batch_size_count'),
      };
    };
    const readings: { rss: number; tensors: number; batches: number }[] = [];
    while (worker.child.exitCode === null) {
      try {
        readings.push(await scrape());
      } catch {
        break; // the worker exited between two scrapes
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(await worker.exited, 0, worker.log());
    const warm = readings.filter((r) => r.batches >= 20);
    assert.ok(
      warm.length >= 5 && warm.at(-1)!.batches >= MICRO_BATCHES * 0.9,
      `readings cover the run: ${warm.map((r) => r.batches).join(',')}`,
    );
    const first = warm[0];
    const last = warm.at(-1)!;
    const growth = last.rss - first.rss;
    assert.ok(growth < 32 * 2 ** 20, `RSS grew ${(growth / 2 ** 20).toFixed(1)} MiB from micro-batch ${first.batches} to ${last.batches}`);
    // Between shards and inside them the live tensors stay within one step's working set.
    const tensors = warm.map((r) => r.tensors);
    assert.ok(Math.max(...tensors) - Math.min(...tensors) <= 40, `tensor counts ${Math.min(...tensors)}…${Math.max(...tensors)}`);
  });

  it('leaves the tfjs engine with as many tensors as before each micro-batch', { timeout: 300_000 }, async () => {
    const runtime = await loadModelRuntime({ uri: env.model, engine: 'tfjs' });
    const sampler = new ShardSampler(runtime, 1);
    const spec = parseRunSpec({
      runId: 'tensors',
      model: { uri: env.model, id: runtime.id, digest: runtime.digest },
      sampler: { kind: 'ddpm', respacing: '2' },
      seeds: `0-${MICRO_BATCHES - 1}`,
      seedCount: MICRO_BATCHES,
      createdAt: new Date().toISOString(),
      codeVersion: 'test',
    });
    await sampler.sample(spec, [0]);
    const before = tf.memory().numTensors;
    const rssBefore = process.memoryUsage().rss;
    const seeds = Array.from({ length: MICRO_BATCHES }, (_, i) => i);
    await sampler.sample(spec, seeds);
    assert.equal(tf.memory().numTensors, before);
    const growth = process.memoryUsage().rss - rssBefore;
    assert.ok(growth < 32 * 2 ** 20, `RSS grew ${(growth / 2 ** 20).toFixed(1)} MiB over ${MICRO_BATCHES} micro-batches`);
    runtime.dispose();
  });
});
