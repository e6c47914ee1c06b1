/**
 * A diffq worker: loads one model, then serves its queue `sample.<modelId>` (and the shared
 * `finalize` queue) until closed. Usable in-process (tests, `diffq demo`) or from diffq-worker.
 */
import { hostname } from 'node:os';
import { FINALIZE_QUEUE_NAME, type RunSpec, sampleQueueName } from '@diffq/contract';
import type { ProviderChoice } from '@diffq/onnx';
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
import { type Heartbeat, startHeartbeat } from './heartbeat.ts';
import { createWorkerMetrics, JOB_OUTCOMES, type JobOutcome, type WorkerMetrics } from './metrics.ts';
import { type EngineChoice, type LoadModelOptions, loadModelRuntime, type ModelRuntime } from './model-runtime.ts';
import { packingAdvice } from './packing-advice.ts';
import { RunContexts } from './run-context.ts';
import { RunPrecision } from './run-precision.ts';
import { ABORT, DEFAULT_DECODE_BATCH, processShardJob, type ShardResult } from './shard-job.ts';
import { ShardSampler } from './shard-sampler.ts';
import { StepBudget } from './step-budget.ts';

export interface WorkerSettings {
  redis: RedisSettings;
  prefix: string;
  /** Model directory: a path or s3:// URI. */
  model: string;
  modelId?: string;
  engine?: EngineChoice;
  /** onnx execution provider (cuda or webgpu on GPU nodes, auto for the first that loads). */
  provider?: ProviderChoice;
  /** onnx on cpu: threads per forward pass. */
  threads?: number;
  /** Samples per micro-batch. */
  batchSize: number;
  /** A latent model's latents per decoder micro-batch (default DEFAULT_DECODE_BATCH). */
  decodeBatch?: number;
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
  /** Seconds a heartbeat lives unrenewed (default 30): a dead worker leaves `diffq workers` within it. */
  heartbeatTtlSeconds?: number;
  /** Opens the denoiser instead of onnx/tfjs (LoadModelOptions.denoiser: benchmarks). */
  denoiser?: LoadModelOptions['denoiser'];
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
    denoiser: settings.denoiser,
  });
  log(
    `worker ${id}: model ${model.id} (${model.uri}, sha256 ${model.digest.slice(0, 12)}…) loaded in ${model.loadSeconds.toFixed(2)} s; ${model.why}`,
  );
  // The lock budget: an unguided step of --batch-size must fit at start; guided runs are checked on their first shard.
  const budget = new StepBudget(model, settings.batchSize, locks.lockDuration, log);
  await budget.checkAtStart();
  const decodeBatch = model.decoder ? await budget.fitDecodeBatch(settings.decodeBatch ?? DEFAULT_DECODE_BATCH) : undefined;

  const connection: Redis = openRedis(settings.redis, 'worker');
  const queueName = sampleQueueName(model.id);
  const runs = new RunContexts();
  const sampler = new ShardSampler(model, settings.batchSize, metrics, budget);
  const precision = new RunPrecision(connection, settings.prefix, {
    precision: model.precision,
    engine: model.engine.description,
    worker: id,
  });
  const isCancelled = async (runId: string) => (await connection.exists(cancelledKey(settings.prefix, runId))) === 1;

  const advised = new Set<string>();
  const advisePacking = (spec: RunSpec) => {
    if (advised.has(spec.runId)) return;
    advised.add(spec.runId);
    const advice = packingAdvice(spec.shardSize, settings.batchSize);
    if (advice) log(`worker ${id}: run ${spec.runId}: ${advice}`);
  };

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
          decodeBatch,
          isCancelled,
          precision,
          cancelPollMs: settings.cancelPollMs,
          onRun: advisePacking,
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
  const heartbeat: Heartbeat = await startHeartbeat(sampleWorker, {
    redis: connection,
    prefix: settings.prefix,
    identity: {
      id,
      host: hostname(),
      pid: process.pid,
      model: model.id,
      engine: model.engine.name,
      provider: model.engine.provider,
      precision: model.precision,
      batchSize: settings.batchSize,
    },
    busyRatio: () => metrics.busy.ratio(),
    ttlSeconds: settings.heartbeatTtlSeconds,
    log,
  });
  metrics.stepBudgetSeconds.set(budget.budgetSeconds);
  // Every outcome from the start, at 0: a failure ratio over a queue that never failed is 0, not absent.
  for (const w of workers) for (const outcome of JOB_OUTCOMES) metrics.jobs.inc({ queue: w.name, outcome }, 0);
  sampleWorker.on('active', (job) => {
    if (job.attemptsMade === 0)
      metrics.queueWaitSeconds.observe({ queue: queueName }, Math.max(0, (job.processedOn ?? Date.now()) - job.timestamp) / 1000);
  });

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
      await heartbeat.stop();
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
