/**
 * Every BullMQ option diffq chooses, in one place, with the reason (docs/operations.md repeats them).
 *
 * Delivery is at-least-once; exactly-once output comes from idempotent shard keys (docs/design.md#queue).
 * So the queue may hand a shard out twice (a stalled lock, a retry after the write succeeded):
 * that costs compute, never correctness. The numbers below trade that waste against how fast a
 * dead worker's shard comes back.
 */
import type { JobsOptions, WorkerOptions } from 'bullmq';

/** Key prefix of every BullMQ key (and diffq's own: `<prefix>:runs`, `<prefix>:cancelled:<run>`). */
export const DEFAULT_PREFIX = 'diffq';

export interface LockSettings {
  /** ms a job's lock lasts without renewal. */
  lockDuration: number;
  /** ms between two runs of the stalled-job checker. */
  stalledInterval: number;
  /** Stalls (lost locks) a shard may suffer before it fails for good. */
  maxStalledCount: number;
}

/**
 * lockDuration 60 s: BullMQ renews the lock from a timer every lockDuration/4 (renewing those older
 * than lockDuration/4), so the event loop may be held for up to ~lockDuration/2 without losing the
 * lock. The worker yields to the event loop after every denoiser step, so the longest hold is one
 * step of one micro-batch (a forward of it, of twice it under classifier-free guidance, plus a
 * gradient pass under classifier guidance: seconds for tfjs-wasm, ~0 for onnxruntime forwards,
 * which run off the JS thread); 60 s leaves a 10× margin for large models on CPU. A step may take a third of it: the
 * worker checks an unguided step at start and each guidance's step on its first shard, splitting
 * the micro-batch or refusing the run when it is over (apps/worker/src/step-budget.ts).
 * stalledInterval 30 s and maxStalledCount 2: a killed worker's shard is back in `wait` within
 * lockDuration + stalledInterval ≈ 90 s; a shard may lose its worker twice (spot/preemptible nodes)
 * before it fails, but a shard that kills every worker that takes it (OOM) does not loop forever.
 */
export const DEFAULT_LOCKS: LockSettings = { lockDuration: 60_000, stalledInterval: 30_000, maxStalledCount: 2 };

/** Seconds an idle worker's blocking pop waits before it polls again (see sampleWorkerOptions). */
export const IDLE_POLL_SECONDS = 10;

export function sampleWorkerOptions(locks: LockSettings): Omit<WorkerOptions, 'connection' | 'prefix'> {
  return {
    // One shard at a time: a worker's accelerator is filled by micro-batches, not by parallel jobs.
    concurrency: 1,
    lockDuration: locks.lockDuration,
    stalledInterval: locks.stalledInterval,
    maxStalledCount: locks.maxStalledCount,
    // The run loop is started explicitly once the model is loaded.
    autorun: false,
    // An idle worker's blocking pop on an empty queue returns after drainDelay seconds and is
    // re-issued with a moveToActive script: ~10 Redis commands per queue per return. A new job wakes
    // the pop at once whatever this is, so it costs no latency; 10 s (BullMQ's own ceiling for a
    // blocking call, against stuck reconnections) instead of the default 5 s halves what idle
    // workers cost Redis (bench scale: idle commands / worker / s).
    drainDelay: IDLE_POLL_SECONDS,
  };
}

export function finalizeWorkerOptions(locks: LockSettings): Omit<WorkerOptions, 'connection' | 'prefix'> {
  return { ...sampleWorkerOptions(locks), maxStalledCount: 3 };
}

/**
 * attempts 5 with exponential backoff from 10 s (10, 20, 40, 80 s): rides out a storage or network
 * outage of ~2.5 min. A job that can never succeed (bad payload, wrong model, cancelled run) throws
 * UnrecoverableError and fails at once. Completed jobs are kept a week and failed ones a month, so
 * `diffq status` and `diffq resume` see them; completed shard jobs stay in Redis so that launching
 * the same run id again adds nothing.
 */
export const SHARD_JOB_OPTIONS: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 10_000 },
  removeOnComplete: { age: 7 * 24 * 3600 },
  removeOnFail: { age: 30 * 24 * 3600 },
};

/** The finalize parent: same retry policy; it runs once every shard job has completed. */
export const FINALIZE_JOB_OPTIONS: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 10_000 },
  removeOnComplete: { age: 7 * 24 * 3600 },
  removeOnFail: { age: 30 * 24 * 3600 },
};
