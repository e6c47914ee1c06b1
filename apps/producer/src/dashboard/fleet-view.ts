/**
 * What the dashboard shows, as data: the recent runs (progress, speed, ETA, live FID, contact
 * sheet), one run in detail (per-worker throughput, failed shards and why) and the live workers.
 * Every number comes from the functions `diffq status`, `diffq watch` and `diffq workers` use, so
 * the page and the terminal never disagree.
 */
import { encodePng } from '@diffq/codecs';
import { keys, type ShardMeta, sampleQueueName } from '@diffq/contract';
import { doneShards } from '@diffq/storage';
import type { Producer } from '../producer.ts';
import { type LocatedRun, locateRun, type RunStatus, runPhase, runStatus } from '../run-state.ts';
import { LiveRate } from '../watch.ts';
import { type LiveWorker, liveWorkers } from '../workers.ts';

export interface RunCard {
  runId: string;
  modelId: string;
  queue: string;
  phase: string;
  launchedAt: string;
  samplesDone: number;
  samplesTotal: number;
  shards: RunStatus['shards'];
  /** Over the dashboard's last minute of polls, else over the run's last finished shards. */
  samplesPerSecond: number | null;
  etaSeconds: number | null;
  /** FID of the samples stored so far (runs launched with statistics: `diffq status`'s live FID); null otherwise. */
  fid: number | null;
  /** Samples the live FID was computed from. */
  fidSamples: number | null;
  /** Path of the contact sheet, versioned by what it is made of; null before the first shard. */
  contactSheet: string | null;
  /** Why the run could not be read (no manifest, store unreachable), instead of its numbers. */
  error?: string;
}

export interface FleetSnapshot {
  generatedAt: string;
  runs: RunCard[];
  workers: LiveWorker[];
  unreadableWorkers: { id: string; problem: string }[];
}

export interface WorkerShare {
  worker: string;
  engine: string;
  shards: number;
  samples: number;
  /** Samples per second while it sampled this run's shards (samples over their sampling seconds). */
  samplesPerSecond: number | null;
  lastShardAt: string;
}

export interface FailedShard {
  shardIndex: number;
  jobId: string;
  reason: string;
  attemptsMade: number;
  failedAt: string | null;
}

export interface RunDetail {
  card: RunCard;
  finalize: string;
  reportWritten: boolean;
  cancelled: boolean;
  storeUrl: string;
  workers: WorkerShare[];
  failed: FailedShard[];
  /** Live workers sampling a shard of this run now. */
  sampling: LiveWorker[];
}

export interface FleetViewOptions {
  /** Runs on the overview, most recently launched first. */
  maxRuns?: number;
}

/** Failed jobs read per queue for a run page; a run with more shows the first ones. */
const MAX_FAILED = 500;

/** Per-worker shares of a run, from its stored shards' metadata (who sampled what, how fast). */
export function workerShares(metas: Iterable<ShardMeta>): WorkerShare[] {
  const by = new Map<string, WorkerShare & { sampleSeconds: number }>();
  for (const m of metas) {
    const share = by.get(m.worker.id) ?? {
      worker: m.worker.id,
      engine: m.engine,
      shards: 0,
      samples: 0,
      samplesPerSecond: null,
      lastShardAt: m.finishedAt,
      sampleSeconds: 0,
    };
    share.shards += 1;
    share.samples += m.seeds.length;
    share.sampleSeconds += m.timings.sample ?? 0;
    if (m.finishedAt > share.lastShardAt) share.lastShardAt = m.finishedAt;
    by.set(m.worker.id, share);
  }
  return [...by.values()]
    .map(({ sampleSeconds, ...share }) => ({ ...share, samplesPerSecond: sampleSeconds > 0 ? share.samples / sampleSeconds : null }))
    .sort((a, b) => b.samples - a.samples || a.worker.localeCompare(b.worker));
}

export class FleetView {
  private readonly located = new Map<string, LocatedRun>();
  private readonly rates = new Map<string, LiveRate>();
  /** Statuses of complete runs: nothing about them changes any more. */
  private readonly finished = new Map<string, RunStatus>();
  private readonly sheets = new Map<string, { key: string; png: Uint8Array }>();
  private readonly maxRuns: number;

  constructor(
    private readonly producer: Producer,
    options: FleetViewOptions = {},
  ) {
    this.maxRuns = options.maxRuns ?? 20;
  }

  private async locate(runId: string): Promise<LocatedRun> {
    let run = this.located.get(runId);
    if (!run) {
      run = await locateRun(this.producer, runId);
      this.located.set(runId, run);
    }
    return run;
  }

  private async status(runId: string): Promise<RunStatus> {
    const cached = this.finished.get(runId);
    if (cached) return cached;
    const status = await runStatus(this.producer, await this.locate(runId));
    if (runPhase(status) === 'complete') this.finished.set(runId, status);
    return status;
  }

  private card(status: RunStatus): RunCard {
    let rate = this.rates.get(status.runId);
    if (!rate) {
      rate = new LiveRate();
      this.rates.set(status.runId, rate);
    }
    const live = rate.update(Date.now(), status.samples.done);
    const speed = runPhase(status) === 'complete' ? status.throughput : (live ?? status.throughput);
    const remaining = status.samples.total - status.samples.done;
    const version = status.reportWritten ? 'final' : String(status.shards.done);
    return {
      runId: status.runId,
      modelId: status.modelId,
      queue: status.queue,
      phase: runPhase(status),
      launchedAt: status.launchedAt,
      samplesDone: status.samples.done,
      samplesTotal: status.samples.total,
      shards: status.shards,
      samplesPerSecond: speed,
      etaSeconds: remaining === 0 ? 0 : speed ? remaining / speed : null,
      fid: status.fid?.fid ?? null,
      fidSamples: status.fid?.samples ?? null,
      contactSheet: status.shards.done > 0 ? `/api/runs/${status.runId}/contact-sheet.png?v=${version}` : null,
    };
  }

  private async runCard(entry: { runId: string; modelId: string; launchedAt: string }): Promise<RunCard> {
    try {
      return this.card(await this.status(entry.runId));
    } catch (error) {
      return {
        runId: entry.runId,
        modelId: entry.modelId,
        queue: sampleQueueName(entry.modelId),
        phase: 'unreadable',
        launchedAt: entry.launchedAt,
        samplesDone: 0,
        samplesTotal: 0,
        shards: { total: 0, done: 0, active: 0, waiting: 0, delayed: 0, failed: 0, lost: 0 },
        samplesPerSecond: null,
        etaSeconds: null,
        fid: null,
        fidSamples: null,
        contactSheet: null,
        error: (error as Error).message,
      };
    }
  }

  /** The most recent runs and the live workers. */
  async snapshot(): Promise<FleetSnapshot> {
    const entries = (await this.producer.runEntries()).sort((a, b) => b.launchedAt.localeCompare(a.launchedAt)).slice(0, this.maxRuns);
    const [runs, fleet] = await Promise.all([
      Promise.all(entries.map((e) => this.runCard(e))),
      liveWorkers(await this.producer.redis(), this.producer.prefix),
    ]);
    return { generatedAt: new Date().toISOString(), runs, workers: fleet.workers, unreadableWorkers: fleet.unreadable };
  }

  /** One run: its card, who sampled it how fast, and every failed shard with BullMQ's failedReason. */
  async detail(runId: string): Promise<RunDetail> {
    const run = await this.locate(runId);
    const status = await this.status(runId);
    const metas = await doneShards(run.store, run.spec);
    const queue = await this.producer.queue(status.queue);
    const failedJobs = await queue.getFailed(0, MAX_FAILED - 1);
    const failed: FailedShard[] = failedJobs
      .filter((job) => job?.data?.runId === runId)
      .map((job) => ({
        shardIndex: Number(job.data.shardIndex),
        jobId: String(job.id),
        reason: job.failedReason ?? 'unknown',
        attemptsMade: job.attemptsMade,
        failedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
      }))
      .sort((a, b) => a.shardIndex - b.shardIndex);
    const fleet = await liveWorkers(await this.producer.redis(), this.producer.prefix);
    return {
      card: this.card(status),
      finalize: status.finalize,
      reportWritten: status.reportWritten,
      cancelled: status.cancelled,
      storeUrl: status.storeUrl,
      workers: workerShares(metas.values()),
      failed,
      sampling: fleet.workers.filter((w) => w.currentShard?.runId === runId),
    };
  }

  /**
   * The run's contact sheet as PNG bytes: grid.png once the finalizer wrote it, before that the
   * same layout of the samples stored so far (the finalizer's gridOf over the first shards).
   * Undefined before the first shard is stored.
   */
  async contactSheet(runId: string): Promise<Uint8Array | undefined> {
    const run = await this.locate(runId);
    const grid = await run.store.get(keys.grid(runId));
    if (grid) return grid;
    const metas = [...(await doneShards(run.store, run.spec)).values()].sort((a, b) => a.shardIndex - b.shardIndex);
    if (metas.length === 0) return undefined;
    // The grid uses the first shards only, so it changes only until those are all stored.
    const { GRID_SAMPLES, gridOf } = await import('@diffq/worker');
    const used: ShardMeta[] = [];
    let tiles = 0;
    for (const meta of metas) {
      if (tiles >= GRID_SAMPLES) break;
      used.push(meta);
      tiles += meta.seeds.length;
    }
    const key = used.map((m) => m.shardIndex).join(',');
    const cached = this.sheets.get(runId);
    if (cached?.key === key) return cached.png;
    const png = encodePng(await gridOf(run.store, run.spec, used));
    this.sheets.set(runId, { key, png });
    return png;
  }
}
