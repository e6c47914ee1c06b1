/**
 * The worker's heartbeat: its WorkerHeartbeat record (packages/contract/src/worker-heartbeat.ts),
 * rewritten every few seconds under a TTL three times as long. A worker that dies (kill -9, a lost
 * node) stops rewriting it and Redis drops it when the TTL runs out, so readers need no clock and
 * no cleanup to see the live fleet; a worker that stops cleanly deletes it at once.
 */
import { HEARTBEAT_FORMAT, isRunId, type WorkerHeartbeat } from '@diffq/contract';
import { workerKey, workersKey } from '@diffq/queue';
import type { Job, Worker } from 'bullmq';
import type { Redis } from 'ioredis';

/**
 * A dead worker is gone from `diffq workers` within 30 s; a live one rewrites its record every TTL/3
 * (10 s). Longer than the longest a denoiser step may hold the event loop (--lock-duration / 3,
 * 20 s by default), so a slow step never makes a live worker blink out.
 */
export const HEARTBEAT_TTL_SECONDS = 30;

/** What a worker is, fixed for its life. */
export type HeartbeatIdentity = Pick<WorkerHeartbeat, 'id' | 'host' | 'pid' | 'model' | 'engine' | 'provider' | 'precision' | 'batchSize'>;

export interface HeartbeatOptions {
  redis: Redis;
  prefix: string;
  identity: HeartbeatIdentity;
  /** Fraction of the last minute the worker spent in jobs (BusyClock). */
  busyRatio: () => number;
  ttlSeconds?: number;
  /** Default a third of the TTL, so two beats may be lost before a live worker would blink out. */
  intervalMs?: number;
  log?: (line: string) => void;
  now?: () => number;
}

/** Shards a worker keeps for its speed: enough to smooth one odd shard out. */
const RECENT_SHARDS = 8;

/**
 * Samples per second a worker delivers: its speed while sampling (samples over wall seconds of its
 * last shards) times the fraction of the last minute it was busy. Samples arrive a whole shard at a
 * time, so counting samples stored in a window would read zero through every long shard; this
 * reads the speed of the shards it finished and falls to zero when the worker goes idle.
 */
export class RecentSpeed {
  private readonly shards: { samples: number; seconds: number }[] = [];

  add(samples: number, seconds: number): void {
    if (samples <= 0 || seconds <= 0) return;
    this.shards.push({ samples, seconds });
    if (this.shards.length > RECENT_SHARDS) this.shards.shift();
  }

  samplesPerSecond(busyRatio: number): number | null {
    if (this.shards.length === 0) return null;
    const samples = this.shards.reduce((s, x) => s + x.samples, 0);
    const seconds = this.shards.reduce((s, x) => s + x.seconds, 0);
    return (samples / seconds) * Math.max(0, Math.min(1, busyRatio));
  }
}

export class Heartbeat {
  private readonly now: () => number;
  private readonly intervalMs: number;
  readonly ttlSeconds: number;
  private readonly startedAt: string;
  private readonly speed = new RecentSpeed();
  private samplesDone = 0;
  private current: { runId: string; shardIndex: number; startedAt: number } | null = null;
  private timer: NodeJS.Timeout | undefined;
  private failing = false;
  private stopped = false;

  constructor(private readonly options: HeartbeatOptions) {
    this.now = options.now ?? Date.now;
    this.ttlSeconds = options.ttlSeconds ?? HEARTBEAT_TTL_SECONDS;
    if (!(Number.isInteger(this.ttlSeconds) && this.ttlSeconds >= 1))
      throw new Error(`heartbeat ttlSeconds is ${this.ttlSeconds}; accepted: an integer ≥ 1`);
    this.intervalMs = options.intervalMs ?? (this.ttlSeconds * 1000) / 3;
    if (this.intervalMs >= this.ttlSeconds * 1000)
      throw new Error(
        `heartbeat intervalMs ${this.intervalMs} must be shorter than its TTL (${this.ttlSeconds} s), or a live worker would blink out`,
      );
    this.startedAt = new Date(this.now()).toISOString();
  }

  shardStarted(runId: string, shardIndex: number): void {
    this.current = { runId, shardIndex, startedAt: this.now() };
  }

  /** The shard ended; `samples` is what it stored (0 when it failed, or was already stored). */
  shardEnded(samples: number): void {
    if (this.current && samples > 0) {
      this.speed.add(samples, (this.now() - this.current.startedAt) / 1000);
      this.samplesDone += samples;
    }
    this.current = null;
  }

  record(): WorkerHeartbeat {
    return {
      format: HEARTBEAT_FORMAT,
      ...this.options.identity,
      samplesPerSecond: this.speed.samplesPerSecond(this.options.busyRatio()),
      samplesDone: this.samplesDone,
      currentShard: this.current && {
        runId: this.current.runId,
        shardIndex: this.current.shardIndex,
        startedAt: new Date(this.current.startedAt).toISOString(),
      },
      startedAt: this.startedAt,
      seenAt: new Date(this.now()).toISOString(),
      ttlSeconds: this.ttlSeconds,
    };
  }

  /** Writes the record once; a Redis error is logged (once per outage) and the next beat tries again. */
  async beat(): Promise<void> {
    const { redis, prefix, identity } = this.options;
    try {
      await redis
        .multi()
        .set(workerKey(prefix, identity.id), JSON.stringify(this.record()), 'EX', this.ttlSeconds)
        .sadd(workersKey(prefix), identity.id)
        .exec();
      if (this.failing) this.options.log?.(`worker ${identity.id}: heartbeat written again`);
      this.failing = false;
    } catch (error) {
      if (!this.failing) this.options.log?.(`worker ${identity.id}: heartbeat not written (${(error as Error).message}); retrying`);
      this.failing = true;
    }
  }

  /** The first beat, then one every intervalMs until stop(). */
  async start(): Promise<void> {
    await this.beat();
    const tick = () => {
      if (this.stopped) return;
      void this.beat().finally(() => {
        if (!this.stopped) this.timer = setTimeout(tick, this.intervalMs).unref();
      });
    };
    this.timer = setTimeout(tick, this.intervalMs).unref();
  }

  /** Stops beating and removes the record: a worker that stops cleanly leaves the list at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const { redis, prefix, identity } = this.options;
    await redis
      .multi()
      .del(workerKey(prefix, identity.id))
      .srem(workersKey(prefix), identity.id)
      .exec()
      .catch(() => {});
  }
}

/** A shard job's run and index, for the heartbeat's current shard; a malformed payload (refused by the job itself) shows none. */
function shardOf(job: Job): { runId: string; shardIndex: number } | undefined {
  const { runId, shardIndex } = (job.data ?? {}) as { runId?: unknown; shardIndex?: unknown };
  return isRunId(runId) && Number.isSafeInteger(shardIndex) && (shardIndex as number) >= 0
    ? { runId, shardIndex: shardIndex as number }
    : undefined;
}

/** Starts the heartbeat of a worker serving `sampleWorker`, following its shards through BullMQ's events. */
export async function startHeartbeat(sampleWorker: Worker, options: HeartbeatOptions): Promise<Heartbeat> {
  const heartbeat = new Heartbeat(options);
  sampleWorker.on('active', (job) => {
    const shard = shardOf(job);
    if (shard) heartbeat.shardStarted(shard.runId, shard.shardIndex);
  });
  sampleWorker.on('completed', (_job, result: { skipped?: boolean; samples?: number }) =>
    heartbeat.shardEnded(result?.skipped ? 0 : (result?.samples ?? 0)),
  );
  sampleWorker.on('failed', () => heartbeat.shardEnded(0));
  await heartbeat.start();
  return heartbeat;
}
