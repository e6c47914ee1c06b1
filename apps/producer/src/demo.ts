/**
 * `diffq demo` (what `npm start` runs): the whole pipeline on one machine with the embedded
 * defaults — launch a run of the shipped MNIST model (models/mnist) on the default store, sample it
 * with in-process workers (two by default, `--workers`) that exit when the queue is idle, then print the report and where the
 * contact sheet is. When nothing answers at the configured (loopback) Redis and redis-server is
 * installed, the demo runs its own private one for its length. It runs both ends in one process, so it is the one producer command that loads
 * the worker (on demand: no other command pays for tfjs and onnxruntime).
 */
import { availableParallelism, hostname } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeSampler, keys, newRunId, type SAMPLER_KINDS } from '@diffq/contract';
import type { RunningWorker } from '@diffq/worker';
import { launchRun } from './launch.ts';
import type { LaunchFlags } from './launch-flags.ts';
import { denoiserFacts } from './model-facts.ts';
import { isLoopbackRedis, type PrivateRedis, redisServerInstalled, startPrivateRedis } from './private-redis.ts';
import { Producer } from './producer.ts';
import { formatReport, readReport } from './report.ts';
import { locateRun } from './run-state.ts';
import { watchRun } from './watch.ts';

/** The default model: a class-conditional MNIST denoiser trained for classifier-free guidance. */
export const DEFAULT_MODEL_DIR = fileURLToPath(new URL('../../../models/mnist', import.meta.url));

export interface DemoOptions {
  /** Model directory (default DEFAULT_MODEL_DIR). */
  model?: string;
  seeds: string;
  sampler: (typeof SAMPLER_KINDS)[number];
  steps: number;
  /** Classifier-free guidance weight w, used when the model has a null label. */
  guidanceScale: number;
  batchSize: number;
  /** In-process workers (default DEMO_WORKERS); the machine's cores are split between them. */
  workers?: number;
  engine?: 'auto' | 'onnx' | 'tfjs';
  write: (text: string) => void;
  tty: boolean;
  /** The redis-server command for a private server when none answers (default: from PATH). */
  redisServer?: string;
}

/** Seeds per shard: a few shards, so the progress bar moves while the demo samples. */
export const DEMO_SHARD_SIZE = 25;

/** The launch flags of the demo: balanced labels and guidance when the model is made for them. */
export async function demoLaunchFlags(producer: Producer, options: DemoOptions, now = new Date()): Promise<LaunchFlags> {
  const model = resolve(options.model ?? DEFAULT_MODEL_DIR);
  const facts = await denoiserFacts(model);
  return {
    model,
    seeds: options.seeds,
    runId: newRunId('demo', now),
    sampler: options.sampler,
    steps: options.steps,
    guidanceScale: facts.nullLabel !== null ? options.guidanceScale : undefined,
    labels: facts.numClasses !== null ? 'balanced' : undefined,
    // A model that names its evaluation defaults (the shipped one: its classifier and held-out digits)
    // is judged as it samples: FID beside its floor, IS, precision/recall, and class accuracy.
    stats: facts.evaluation ? (facts.numClasses !== null ? 'fid,is,pr,accuracy' : 'fid,is,pr') : undefined,
    shardSize: DEMO_SHARD_SIZE,
    store: producer.settings.store,
  };
}

/** How the demo reaches Redis: the configured server, or a private one it started and must stop. */
interface DemoRedis {
  producer: Producer;
  /** Set when the demo started its own redis-server. */
  privateRedis?: PrivateRedis;
}

/**
 * The configured Redis when it answers; otherwise, for a loopback URL on a machine with redis-server
 * installed, a private server for the length of the demo. Anything else ends with how to get Redis.
 */
async function demoRedis(producer: Producer, write: (text: string) => void, redisServer: string): Promise<DemoRedis> {
  try {
    await producer.redis();
    return { producer };
  } catch (error) {
    const url = producer.settings.redis.url;
    if (!isLoopbackRedis(url) || !redisServerInstalled(redisServer)) {
      throw new Error(
        `needs a Redis server: ${(error as Error).message}.\nStart one on this machine (redis-server; Debian: apt-get install redis-server), or point --redis / DIFFQ_REDIS_URL at one.`,
      );
    }
    const privateRedis = await startPrivateRedis(redisServer);
    write(`nothing answers at ${url}: started a private redis-server on ${privateRedis.url} (no persistence; stopped at the end)\n`);
    return { producer: new Producer({ ...producer.settings, redis: { url: privateRedis.url } }), privateRedis };
  }
}

/** Two in-process workers share the run by default, so the report shows the work distributed. */
export const DEMO_WORKERS = 2;
/** More in one process would only contend for the same cores and device. */
export const MAX_DEMO_WORKERS = 8;

export async function runDemo(configured: Producer, options: DemoOptions): Promise<number> {
  const { write } = options;
  const { producer, privateRedis } = await demoRedis(configured, write, options.redisServer ?? 'redis-server');
  const workers: RunningWorker[] = [];
  const interrupted = async () => {
    write("\ninterrupted: stopping the workers and the demo's Redis\n");
    await Promise.allSettled(workers.map((w) => w.close('now')));
    await privateRedis?.stop();
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  try {
    return await demoRun(producer, options, workers);
  } finally {
    process.off('SIGINT', interrupted);
    await Promise.allSettled(workers.map((w) => w.close('now')));
    if (producer !== configured) await producer.close();
    await privateRedis?.stop();
  }
}

async function demoRun(producer: Producer, options: DemoOptions, workers: RunningWorker[]): Promise<number> {
  const { write } = options;
  const flags = await demoLaunchFlags(producer, options);
  const launched = await launchRun(producer, flags);
  const run = await locateRun(producer, launched.runId);
  const guidance = flags.guidanceScale === undefined ? 'no guidance' : `classifier-free guidance w=${flags.guidanceScale}`;
  write(
    `launched ${launched.runId}: ${launched.seeds} seeds of ${flags.model} (${guidance}, labels ${flags.labels ?? 'none'}) in ${launched.shards} shards on ${launched.queue}, store ${launched.storeUrl}\n` +
      `sampler: ${describeSampler(run.spec.sampler)}\n`,
  );
  const { startWorker } = await import('@diffq/worker');
  const count = options.workers ?? DEMO_WORKERS;
  // The cores split between the workers: together they use the machine the way one worker would.
  const threads = Math.max(1, Math.floor(availableParallelism() / count));
  for (let k = 1; k <= count; k++) {
    workers.push(
      await startWorker({
        redis: producer.settings.redis,
        prefix: producer.prefix,
        model: flags.model,
        engine: options.engine,
        batchSize: options.batchSize,
        threads,
        workerId: `demo-worker-${k}@${hostname()}`,
        exitWhenIdle: true,
        log: () => {},
      }),
    );
  }
  write(`workers: ${workers.map((w) => w.id).join(', ')}; ${workers[0].model.why}\n`);
  const watching = new AbortController();
  const watch = watchRun(producer, run, { write, tty: options.tty, signal: watching.signal, intervalMs: 500 });
  await Promise.all(workers.map((w) => w.done));
  watching.abort();
  await watch;
  const report = await readReport(run);
  if (!report) {
    write(`run ${launched.runId} did not finish; see diffq status ${launched.runId}\n`);
    return 1;
  }
  write(`${formatReport(report, run.store.url)}\n`);
  const grid = run.store.urlOf(keys.grid(launched.runId));
  write(`contact sheet of the first samples: ${grid.startsWith('file://') ? fileURLToPath(grid) : grid}\n`);
  return 0;
}
