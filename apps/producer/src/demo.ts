/**
 * `diffq demo` (what `npm start` runs): the whole pipeline on one machine with the embedded
 * defaults — launch a run of the default model on the default store, sample it with an in-process
 * worker that exits when the queue is idle, then print the report.
 */
import { join, resolve } from 'node:path';
import { startWorker } from '@diffq/worker';
import { writeDemoModel } from './demo-model.ts';
import { launchRun } from './launch.ts';
import type { LaunchFlags } from './launch-flags.ts';
import type { Producer } from './producer.ts';
import { formatReport, readReport } from './report.ts';
import { locateRun } from './run-state.ts';
import { watchRun } from './watch.ts';

/** Until a trained default model ships, the demo samples a small random-weights model made here. */
export const DEMO_MODEL_DIR = join('.cache', 'demo-model');

export interface DemoOptions {
  model?: string;
  seeds: string;
  steps?: number;
  sampler?: string;
  batchSize: number;
  engine?: 'auto' | 'onnx' | 'tfjs';
  write: (text: string) => void;
  tty: boolean;
}

export async function runDemo(producer: Producer, options: DemoOptions): Promise<number> {
  const model = options.model ?? (await writeDemoModel(resolve(DEMO_MODEL_DIR)));
  const flags: LaunchFlags = {
    model,
    seeds: options.seeds,
    runId: `demo-${new Date().toISOString().replace(/[-:.]/g, '').replace('T', '-').slice(0, 15).toLowerCase()}`,
    sampler: options.sampler ?? 'ddpm',
    steps: options.steps,
    store: producer.settings.store,
  };
  const launched = await launchRun(producer, flags);
  options.write(
    `launched ${launched.runId}: ${launched.seeds} seeds in ${launched.shards} shards on ${launched.queue}, store ${launched.storeUrl}\n`,
  );
  const worker = await startWorker({
    redis: producer.settings.redis,
    prefix: producer.prefix,
    model,
    engine: options.engine,
    batchSize: options.batchSize,
    exitWhenIdle: true,
    log: () => {},
  });
  const run = await locateRun(producer, launched.runId);
  const watching = new AbortController();
  const watch = watchRun(producer, run, { write: options.write, tty: options.tty, signal: watching.signal, intervalMs: 500 });
  await worker.done;
  watching.abort();
  await watch;
  const report = await readReport(run);
  if (!report) {
    options.write(`run ${launched.runId} did not finish; see diffq status ${launched.runId}\n`);
    return 1;
  }
  options.write(`${formatReport(report, run.store.url)}\n`);
  return 0;
}
