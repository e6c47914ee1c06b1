/**
 * A diffq worker: loads one model, then serves its queue `sample.<modelId>` (and the shared
 * `finalize` queue) until closed. Usable in-process (tests, `diffq demo`) or from diffq-worker.
 */
import { hostname } from 'node:os';
import { FINALIZE_QUEUE_NAME, sampleQueueName } from '@diffq/contract';
import {
  cancelledKey,
  DEFAULT_LOCKS,
  finalizeWorkerOptions,
  type LockSettings,
  type MetricsServer,
  openRedis,
  type RedisSettings,
  sampleWorkerOptions,
  serveMetrics,
} from '@diffq/queue';
import * as tf from '@tensorflow/tfjs';
import { type Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { processFinalizeJob } from './finalize-job.ts';
import { createWorkerMetrics, type JobOutcome, type WorkerMetrics } from './metrics.ts';
import { type EngineChoice, loadModelRuntime, type ModelRuntime } from './model-runtime.ts';
import { RunContexts } from './run-context.ts';
import { ABORT, processShardJob, type ShardResult } from './shard-job.ts';
import { ShardSampler } from './shard-sampler.ts';

export interface WorkerSettings {
  redis: RedisSettings;
  prefix: string;
  /** Model directory: a path or s3:// URI. */
  model: string;
  modelId?: string;
  engine?: EngineChoice;
  /** onnx execution provider (cuda on GPU nodes). */
  provider?: 'cpu' | 'cuda';
  /** onnx on cpu: threads per forward pass. */
  threads?: number;
  /** Samples per micro-batch. */
  batchSize: number;
  /** Serve /metrics and /healthz here (0 picks a free port); undefined: no server. */
  metricsPort?: number;
  /** Exit once the queues have nothing left to do. */
  exitWhenIdle?: boolean;
  locks?: LockSettings;
  /** On close('shutdown'), how long a running shard may take to finish before it is released. */
  shutdownGraceMs?: number;
  /** Also serve the shared finalize queue (default true). */
  finalize?: boolean;
  /** Names this worker in shard metadata and logs (default host:pid). */
  workerId?: string;
  /** ms between idle checks with exitWhenIdle. */
  idlePollMs?: number;
  /** ms between cancel-flag checks during a shard. */
  cancelPollMs?: number;
  log?: (line: string) => void;
}

export interface RunningWorker {
  id: string;
  model: ModelRuntime;
  metrics: WorkerMetrics;
  metricsPort?: number;
  /** Resolves when the worker has stopped (closed, or idle with exitWhenIdle). */
  done: Promise<void>;
  /** 'shutdown' gives a running shard shutdownGraceMs to finish, then releases it to the queue. */
  close(mode?: 'shutdown' | 'now'): Promise<void>;
}

function outcomeOf(job: Job | undefined, error: Error): JobOutcome {
  if (error instanceof UnrecoverableError || error.name === 'UnrecoverableError') return 'rejected';
  const attempts = job?.opts.attempts ?? 1;
  return job && job.attemptsMade < attempts ? 'retried' : 'failed';
}

/**
 * The longest uninterrupted computation is one forward pass of one micro-batch; it must stay well
 * inside the lock (README: lock strategy), or healthy shards would be taken away as stalled.
 */
async function warmUp(model: ModelRuntime, batchSize: number, locks: LockSettings, log: (line: string) => void): Promise<number> {
  const { unet } = model.directory;
  const x = tf.zeros([batchSize, unet.inChannels, unet.imageSize, unet.imageSize]) as tf.Tensor4D;
  const t = tf.fill([batchSize], 500) as tf.Tensor1D;
  const y = unet.numClasses === null ? undefined : (tf.zeros([batchSize], 'int32') as tf.Tensor1D);
  const start = performance.now();
  try {
    const out = await model.engine.forward(x, t, y);
    await out.data();
    out.dispose();
  } finally {
    tf.dispose([x, t, ...(y ? [y] : [])]);
  }
  const seconds = (performance.now() - start) / 1000;
  log(`warm-up forward pass of batch ${batchSize}: ${seconds.toFixed(3)} s (lock duration ${locks.lockDuration / 1000} s)`);
  if (seconds * 1000 > locks.lockDuration / 3) {
    throw new Error(
      `one forward pass of --batch-size ${batchSize} takes ${seconds.toFixed(1)} s, more than a third of --lock-duration ${locks.lockDuration} ms; ` +
        'lower --batch-size or raise --lock-duration, or BullMQ would take healthy shards away as stalled',
    );
  }
  return seconds;
}

export async function startWorker(settings: WorkerSettings): Promise<RunningWorker> {
  const log = settings.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const id = settings.workerId ?? `${hostname()}:${process.pid}`;
  const locks = settings.locks ?? DEFAULT_LOCKS;
  const metrics = createWorkerMetrics({ tensorCount: () => tf.memory().numTensors });
  const model = await loadModelRuntime({
    uri: settings.model,
    modelId: settings.modelId,
    engine: settings.engine,
    provider: settings.provider,
    threads: settings.threads,
    metrics,
  });
  log(
    `worker ${id}: model ${model.id} (${model.uri}, sha256 ${model.digest.slice(0, 12)}…) loaded in ${model.loadSeconds.toFixed(2)} s; ${model.why}`,
  );
  await warmUp(model, settings.batchSize, locks, log);

  const connection: Redis = openRedis(settings.redis, 'worker');
  const queueName = sampleQueueName(model.id);
  const runs = new RunContexts();
  const sampler = new ShardSampler(model, settings.batchSize, metrics);
  const isCancelled = async (runId: string) => (await connection.exists(cancelledKey(settings.prefix, runId))) === 1;

  const sampleWorker = new Worker(
    queueName,
    async (job: Job, token?: string, signal?: AbortSignal): Promise<ShardResult> => {
      metrics.busy.start();
      try {
        return await processShardJob(job, token, signal, {
          model,
          sampler,
          runs,
          metrics,
          worker: { id, batchSize: settings.batchSize },
          isCancelled,
          cancelPollMs: settings.cancelPollMs,
        });
      } finally {
        metrics.busy.stop();
      }
    },
    { connection, prefix: settings.prefix, name: id, ...sampleWorkerOptions(locks) },
  );
  const finalizeWorker =
    settings.finalize === false
      ? undefined
      : new Worker(
          FINALIZE_QUEUE_NAME,
          async (job: Job) => {
            metrics.busy.start();
            try {
              return await processFinalizeJob(job, runs);
            } finally {
              metrics.busy.stop();
            }
          },
          { connection, prefix: settings.prefix, name: id, ...finalizeWorkerOptions(locks) },
        );
  const workers = [sampleWorker, ...(finalizeWorker ? [finalizeWorker] : [])];
  for (const w of workers) {
    w.on('completed', (job, result: { skipped?: boolean; runId?: string; shardIndex?: number }) => {
      metrics.jobs.inc({ queue: w.name, outcome: result?.skipped ? 'skipped' : 'completed' });
      log(`${job.id}: ${result?.skipped ? 'already stored, skipped' : 'done'}`);
    });
    w.on('failed', (job, error) => {
      const outcome = outcomeOf(job, error);
      metrics.jobs.inc({ queue: w.name, outcome });
      log(`${job?.id ?? '?'}: ${outcome === 'retried' ? `will retry (attempt ${job?.attemptsMade})` : outcome}: ${error.message}`);
    });
    // The lock of a running job could not be renewed (Redis flushed, or the job was taken away as
    // stalled): stop sampling it, another worker may own it now.
    w.on('lockRenewalFailed', (jobIds) => {
      for (const jobId of jobIds) w.cancelJob(jobId, ABORT.lockLost);
    });
    w.on('error', (error) => log(`worker ${id} (${w.name}): ${error.message}`));
  }

  const queues = [
    new Queue(queueName, { connection, prefix: settings.prefix }),
    new Queue(FINALIZE_QUEUE_NAME, { connection, prefix: settings.prefix }),
  ];
  let server: MetricsServer | undefined;
  let closing: Promise<void> | undefined;
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  let idleTimer: NodeJS.Timeout | undefined;

  const close = (mode: 'shutdown' | 'now' = 'shutdown'): Promise<void> => {
    if (closing) return closing;
    closing = (async () => {
      clearTimeout(idleTimer);
      const grace = mode === 'now' ? 0 : (settings.shutdownGraceMs ?? 20_000);
      const release = setTimeout(() => {
        for (const w of workers) w.cancelAllJobs(ABORT.shutdown);
      }, grace);
      try {
        await Promise.all(workers.map((w) => w.close()));
      } finally {
        clearTimeout(release);
      }
      await Promise.all(queues.map((q) => q.close()));
      await server?.close();
      runs.close();
      model.dispose();
      await connection.quit().catch(() => connection.disconnect());
      log(`worker ${id}: stopped`);
      resolveDone();
    })();
    return closing;
  };

  if (settings.metricsPort !== undefined) {
    server = await serveMetrics(settings.metricsPort, metrics.registry, () => ({
      ok: closing === undefined && connection.status === 'ready' && sampleWorker.isRunning(),
      worker: id,
      model: model.id,
      queue: queueName,
      redis: connection.status,
    }));
    log(`worker ${id}: /metrics and /healthz on port ${server.port}`);
  }

  for (const w of workers) {
    w.run().catch((error: Error) => log(`worker ${id} (${w.name}) stopped: ${error.message}`));
  }
  log(`worker ${id}: serving ${queueName}${finalizeWorker ? ` and ${FINALIZE_QUEUE_NAME}` : ''} (prefix ${settings.prefix})`);

  if (settings.exitWhenIdle) {
    // Idle: nothing waiting, delayed or running (by anyone) in the queues this worker serves, twice
    // in a row. A dead worker's job still counts as active until the stalled checker requeues it,
    // so survivors wait for it instead of leaving it behind.
    let idleChecks = 0;
    const check = async () => {
      try {
        const counts = await Promise.all(queues.map((q) => q.getJobCounts('waiting', 'delayed', 'prioritized', 'active')));
        const pending = counts.reduce((sum, c) => sum + Object.values(c).reduce((a, b) => a + b, 0), 0);
        idleChecks = pending === 0 ? idleChecks + 1 : 0;
      } catch (error) {
        log(`worker ${id}: idle check failed: ${(error as Error).message}`);
      }
      if (closing) return;
      if (idleChecks >= 2) {
        log(`worker ${id}: queues idle, exiting`);
        void close('now');
      } else {
        idleTimer = setTimeout(check, settings.idlePollMs ?? 1000);
      }
    };
    idleTimer = setTimeout(check, settings.idlePollMs ?? 1000);
  }

  return { id, model, metrics, metricsPort: server?.port, done, close };
}
