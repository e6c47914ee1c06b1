/**
 * Throughput against the number of workers, on one real Redis. Each worker is its own process
 * running the real worker (startWorker: BullMQ, sampling loop, npz, file store, finalize) around a
 * SleepingDenoiser, so its shard time is the sleep and the fleet's overheads are what differs from
 * the ideal: job hand-out, lock renewal, stalled checks, store writes, CPU contention of the workers'
 * own glue on the two cores.
 *
 * For N workers the run has N × shards-per-worker equal shards, launched once every worker serves
 * its queue; throughput is samples over the time from launch to the last shard finished, and
 * efficiency = throughput / (N × throughput of one worker). Redis INFO before and after gives the
 * commands, bytes and server CPU per shard; an idle window before the launch gives what idle
 * workers cost, and both say how many workers one Redis can serve.
 *
 * Options: --workers 1,4,16,64  --shards-per-worker 2  --ms-per-sample 100 (sleep per sample per step:
 * long enough that 64 workers' own CPU — sampling-loop glue, npz, BullMQ — stays well inside 2 cores)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FINALIZE_QUEUE_NAME, finalizeJobId, sampleQueueName } from '@diffq/contract';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { launchRun } from '../apps/producer/src/launch.ts';
import { Producer } from '../apps/producer/src/producer.ts';
import { writeRandomModel } from '../test/fixtures/random-model.ts';
import { benchRedisUrl, counterDelta, type RedisCounters, redisCounters } from './bench-redis.ts';
import { listOption, loadLine, numberOption } from './options.ts';
import type { ScaleWorkerConfig } from './scale-worker.ts';

const STEPS = 10;
const BATCH = 16;
const SHARD_SIZE = 16;
const IDLE_WINDOW_MS = 5000;
const TARGET_AT_64 = 0.9;

interface Fleet {
  children: ChildProcess[];
  /** CPU seconds each child spent serving, reported as it stops. */
  cpu: number[];
  /** Last stderr lines of each child, for the error message when one fails. */
  logs: string[];
}

function startFleet(n: number, config: Omit<ScaleWorkerConfig, 'workerId'>): Promise<Fleet> {
  const script = join(import.meta.dirname, 'scale-worker.ts');
  const fleet: Fleet = { children: [], cpu: [], logs: [] };
  const ready = Array.from({ length: n }, (_, i) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify({ ...config, workerId: `sim-${i}` })], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    fleet.children.push(child);
    fleet.logs.push('');
    child.stderr?.on('data', (chunk: Buffer) => (fleet.logs[i] = (fleet.logs[i] + chunk).slice(-2000)));
    return new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        const text = String(chunk);
        if (text.includes('ready')) resolve();
        const cpu = /cpu ([\d.]+)/.exec(text);
        if (cpu) fleet.cpu[i] = Number(cpu[1]);
      });
      child.once('exit', (code) => reject(new Error(`simulated worker ${i} exited (${code}) before serving: ${fleet.logs[i]}`)));
    });
  });
  return Promise.all(ready).then(
    () => fleet,
    async (error: Error) => {
      await stopFleet(fleet);
      throw error;
    },
  );
}

async function stopFleet(fleet: Fleet): Promise<void> {
  await Promise.all(
    fleet.children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null && child.stdout?.readableEnded) return resolve();
          child.once('close', () => resolve());
          child.kill('SIGTERM');
        }),
    ),
  );
}

interface Measured {
  n: number;
  samples: number;
  shards: number;
  seconds: number;
  /** Mean time a worker held a shard (BullMQ processedOn → finishedOn). */
  shardSeconds: number;
  finalizeSeconds: number;
  run: RedisCounters;
  idle: RedisCounters;
  /** From spawning the workers to all of them serving. */
  startSeconds: number;
  /** The workers' CPU seconds from serving to stopping (idle window, run, finalize), all workers. */
  workerCpuSeconds: number;
  /** Wall seconds of that span. */
  servingSeconds: number;
}

/** Redis's own activity per ms with no worker connected (cron, the bench's INFO calls), subtracted from every window. */
interface Baseline {
  commandsPerMs: number;
  /** Bytes of one window: the bench's own INFO replies, the same for every window. */
  bytes: number;
  cpuSecondsPerMs: number;
}

async function baselineOf(redis: Redis): Promise<Baseline> {
  const before = await redisCounters(redis);
  await sleep(IDLE_WINDOW_MS);
  const d = counterDelta(before, await redisCounters(redis));
  return {
    commandsPerMs: d.commands / IDLE_WINDOW_MS,
    bytes: d.bytesIn + d.bytesOut,
    cpuSecondsPerMs: d.cpuSeconds / IDLE_WINDOW_MS,
  };
}

function withoutBaseline(d: RedisCounters, baseline: Baseline, ms: number): RedisCounters {
  return {
    ...d,
    commands: Math.max(0, d.commands - baseline.commandsPerMs * ms),
    bytesOut: Math.max(0, d.bytesOut - baseline.bytes),
    cpuSeconds: Math.max(0, d.cpuSeconds - baseline.cpuSecondsPerMs * ms),
  };
}

async function measure(
  n: number,
  shardsPerWorker: number,
  msPerSample: number,
  redisUrl: string,
  dir: string,
  model: string,
  baseline: Baseline,
) {
  const prefix = `bench-scale-${n}`;
  const redis = new Redis(redisUrl);
  const started = performance.now();
  const fleet = await startFleet(n, { redisUrl, prefix, model, batchSize: BATCH, msPerSample });
  const startSeconds = (performance.now() - started) / 1000;
  const served = performance.now();
  const producer = new Producer({ redis: { url: redisUrl }, prefix, store: `file://${join(dir, `runs-${n}`)}` });
  try {
    const idleBefore = await redisCounters(redis);
    await sleep(IDLE_WINDOW_MS);
    const idle = withoutBaseline(counterDelta(idleBefore, await redisCounters(redis)), baseline, IDLE_WINDOW_MS);
    const before = await redisCounters(redis);
    const launchedAt = Date.now();
    const shards = n * shardsPerWorker;
    const runId = `scale-${n}`;
    const launched = await launchRun(producer, {
      model,
      seeds: `0-${shards * SHARD_SIZE - 1}`,
      runId,
      steps: STEPS,
      shardSize: SHARD_SIZE,
      store: producer.settings.store,
    });
    // Waits on the store, not on Redis, so that the bench adds no command to what it counts.
    const report = join(dir, `runs-${n}`, runId, 'report.json');
    const deadline = Date.now() + 600_000;
    while (!existsSync(report)) {
      if (Date.now() > deadline) throw new Error(`run ${runId} did not finish in 10 min: ${fleet.logs.join('\n').slice(-3000)}`);
      await sleep(100);
    }
    const runMs = Date.now() - launchedAt;
    const run = withoutBaseline(counterDelta(before, await redisCounters(redis)), baseline, runMs);
    const finalizeQueue = await producer.queue(FINALIZE_QUEUE_NAME);
    const queue = new Queue(sampleQueueName(launched.modelId), { connection: redis, prefix });
    const jobs = await queue.getJobs(['completed'], 0, shards);
    await queue.close();
    if (jobs.length !== shards) throw new Error(`${jobs.length} of ${shards} shard jobs completed`);
    const lastShard = Math.max(...jobs.map((j) => j.finishedOn ?? 0));
    const finalize = await finalizeQueue.getJob(finalizeJobId(runId));
    const mean = jobs.reduce((s, j) => s + ((j.finishedOn ?? 0) - (j.processedOn ?? 0)), 0) / jobs.length / 1000;
    await stopFleet(fleet);
    const servingSeconds = (performance.now() - served) / 1000;
    return {
      workerCpuSeconds: fleet.cpu.reduce((a, b) => a + (b ?? 0), 0),
      servingSeconds,
      n,
      samples: shards * SHARD_SIZE,
      shards,
      seconds: (lastShard - launchedAt) / 1000,
      shardSeconds: mean,
      finalizeSeconds: ((finalize?.finishedOn ?? lastShard) - lastShard) / 1000,
      run,
      idle,
      startSeconds,
    } satisfies Measured;
  } finally {
    await producer.close();
    await stopFleet(fleet);
    redis.disconnect();
  }
}

function pad(text: string | number, width: number): string {
  return String(text).padStart(width);
}

export async function benchScale(): Promise<void> {
  const counts = listOption('workers', [1, 4, 16, 64], [1, 4, 16]);
  const shardsPerWorker = numberOption('shards-per-worker', 2, 1);
  const msPerSample = numberOption('ms-per-sample', 100);
  if (counts[0] !== 1) counts.unshift(1);
  const redisUrl = benchRedisUrl('scale');
  const dir = mkdtempSync(join(tmpdir(), 'diffq-bench-scale-'));
  const redis = new Redis(redisUrl);
  await redis.flushdb();
  const idealShard = (STEPS * SHARD_SIZE * msPerSample) / 1000;
  console.log(
    `scale: simulated workers (real startWorker, denoiser sleeping ${msPerSample} ms per sample per step), ${STEPS} steps, batch ${BATCH}, shards of ${SHARD_SIZE} (${idealShard.toFixed(1)} s of sleep each), ${shardsPerWorker} shards per worker, Redis ${redisUrl}`,
  );
  try {
    const model = await writeRandomModel(join(dir, 'model'));
    const baseline = await baselineOf(redis);
    console.log(
      `scale: ${pad('N', 3)} ${pad('start s', 8)} ${pad('run s', 7)} ${pad('samples/s', 10)} ${pad('efficiency', 10)} ${pad('shard s', 8)} ${pad('finalize s', 10)} ${pad('cmds/shard', 10)} ${pad('KB/shard', 9)} ${pad('Redis ms/shard', 14)} ${pad('idle cmds/worker/s', 18)} ${pad('worker cores', 12)} ${pad('worker ms/shard', 16)}`,
    );
    let single = 0;
    let last: Measured | undefined;
    for (const n of counts) {
      const m = await measure(n, shardsPerWorker, msPerSample, redisUrl, dir, model, baseline);
      const throughput = m.samples / m.seconds;
      if (n === 1) single = throughput;
      const efficiency = throughput / (n * single);
      console.log(
        `scale: ${pad(n, 3)} ${pad(m.startSeconds.toFixed(1), 8)} ${pad(m.seconds.toFixed(2), 7)} ${pad(throughput.toFixed(1), 10)} ${pad(efficiency.toFixed(3), 10)} ${pad(m.shardSeconds.toFixed(2), 8)} ${pad(m.finalizeSeconds.toFixed(2), 10)} ${pad((m.run.commands / m.shards).toFixed(0), 10)} ${pad(((m.run.bytesIn + m.run.bytesOut) / m.shards / 1024).toFixed(1), 9)} ${pad(((m.run.cpuSeconds * 1000) / m.shards).toFixed(2), 14)} ${pad((m.idle.commands / n / (IDLE_WINDOW_MS / 1000)).toFixed(2), 18)} ${pad((m.workerCpuSeconds / m.servingSeconds).toFixed(2), 12)} ${pad(((m.workerCpuSeconds * 1000) / m.shards).toFixed(0), 16)}`,
      );
      if (n === 64)
        console.log(
          `scale efficiency at 64 workers: ${efficiency.toFixed(3)} (target ≥ ${TARGET_AT_64}: ${efficiency >= TARGET_AT_64 ? 'met' : 'NOT met'})`,
        );
      last = m;
    }
    if (last) report(last, single);
    console.log(`scale: ${loadLine()}`);
  } finally {
    await redis.flushdb();
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What the largest fleet's Redis costs imply for 1,000 and 10,000 workers on one Redis. */
function report(m: Measured, single: number): void {
  const top = [...m.run.calls].sort((a, b) => b[1] - a[1]).slice(0, 6);
  console.log(
    `scale: commands per shard at N=${m.n}, by name: ${top.map(([name, calls]) => `${name} ${(calls / m.shards).toFixed(1)}`).join(', ')}`,
  );
  // Redis CPU: per shard done, plus per idle worker-second (blocking waits, stalled checks, lock renewals).
  const runCpuPerShard = m.run.cpuSeconds / m.shards;
  const idleCpuPerWorkerSecond = m.idle.cpuSeconds / m.n / (IDLE_WINDOW_MS / 1000);
  const idleCmdsPerWorkerSecond = m.idle.commands / m.n / (IDLE_WINDOW_MS / 1000);
  const shardSeconds = m.samples / m.shards / (single || 1);
  for (const workers of [1000, 10000]) {
    for (const shardTime of [shardSeconds, 60]) {
      const redisCore = workers * (runCpuPerShard / shardTime + idleCpuPerWorkerSecond);
      const commandsPerSecond = workers * (m.run.commands / m.shards / shardTime + idleCmdsPerWorkerSecond);
      console.log(
        `scale: ${workers} workers finishing a shard every ${shardTime.toFixed(0)} s: ~${(commandsPerSecond / 1000).toFixed(1)}k Redis commands/s, ~${(redisCore * 100).toFixed(0)} % of one Redis core${redisCore > 0.7 ? ' — beyond one Redis: larger shards or one Redis per model queue' : ''}`,
      );
    }
  }
}
