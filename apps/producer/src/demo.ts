/**
 * `diffq demo` (what `npm start` runs): the whole pipeline on one machine with the embedded
 * defaults — launch a run of the shipped MNIST model (models/mnist) on the default store, sample it
 * with an in-process worker that exits when the queue is idle, then print the report and where the
 * contact sheet is. It runs both ends in one process, so it is the one producer command that loads
 * the worker (on demand: no other command pays for tfjs and onnxruntime).
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { keys } from '@diffq/contract';
import { launchRun } from './launch.ts';
import type { LaunchFlags } from './launch-flags.ts';
import { denoiserFacts } from './model-facts.ts';
import type { Producer } from './producer.ts';
import { formatReport, readReport } from './report.ts';
import { locateRun } from './run-state.ts';
import { watchRun } from './watch.ts';

/** The default model: a class-conditional MNIST denoiser trained for classifier-free guidance. */
export const DEFAULT_MODEL_DIR = fileURLToPath(new URL('../../../models/mnist', import.meta.url));

export interface DemoOptions {
  /** Model directory (default DEFAULT_MODEL_DIR). */
  model?: string;
  seeds: string;
  sampler: 'ddpm' | 'ddim';
  steps: number;
  /** Classifier-free guidance weight w, used when the model has a null label. */
  guidanceScale: number;
  batchSize: number;
  engine?: 'auto' | 'onnx' | 'tfjs';
  write: (text: string) => void;
  tty: boolean;
}

/** Seeds per shard: a few shards, so the progress bar moves while the demo samples. */
export const DEMO_SHARD_SIZE = 25;

/** demo-YYYYMMDD-HHMMSS-xxxx (UTC), so two demos in the same second are two runs. */
function demoRunId(now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15).toLowerCase();
  return `demo-${stamp}-${randomBytes(2).toString('hex')}`;
}

/** The launch flags of the demo: balanced labels and guidance when the model is made for them. */
export async function demoLaunchFlags(producer: Producer, options: DemoOptions, now = new Date()): Promise<LaunchFlags> {
  const model = resolve(options.model ?? DEFAULT_MODEL_DIR);
  const facts = await denoiserFacts(model);
  return {
    model,
    seeds: options.seeds,
    runId: demoRunId(now),
    sampler: options.sampler,
    steps: options.steps,
    guidanceScale: facts.nullLabel !== null ? options.guidanceScale : undefined,
    labels: facts.numClasses !== null ? 'balanced' : undefined,
    shardSize: DEMO_SHARD_SIZE,
    store: producer.settings.store,
  };
}

export async function runDemo(producer: Producer, options: DemoOptions): Promise<number> {
  const { write } = options;
  try {
    await producer.redis();
  } catch (error) {
    throw new Error(
      `needs a Redis server: ${(error as Error).message}.\nStart one on this machine (redis-server, or docker run -p 6379:6379 redis:7), or point --redis at one.`,
    );
  }
  const flags = await demoLaunchFlags(producer, options);
  const launched = await launchRun(producer, flags);
  const guidance = flags.guidanceScale === undefined ? 'no guidance' : `classifier-free guidance w=${flags.guidanceScale}`;
  write(
    `launched ${launched.runId}: ${launched.seeds} seeds of ${flags.model} (${flags.sampler} ${flags.steps} steps, ${guidance}, labels ${flags.labels ?? 'none'}) in ${launched.shards} shards on ${launched.queue}, store ${launched.storeUrl}\n`,
  );
  const { startWorker } = await import('@diffq/worker');
  const worker = await startWorker({
    redis: producer.settings.redis,
    prefix: producer.prefix,
    model: flags.model,
    engine: options.engine,
    batchSize: options.batchSize,
    exitWhenIdle: true,
    log: () => {},
  });
  write(`worker: ${worker.model.why}\n`);
  const run = await locateRun(producer, launched.runId);
  const watching = new AbortController();
  const watch = watchRun(producer, run, { write, tty: options.tty, signal: watching.signal, intervalMs: 500 });
  await worker.done;
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
