/**
 * Where a run stands, from both sides: the store says which shards are done (the truth,
 * docs/design.md#storage-layout), Redis says which are running, waiting or failed. A shard in neither is lost (Redis was
 * flushed, or the run was cancelled): `diffq resume` puts exactly those back.
 */
import { finalizeJobId, keys, type RunSpec, type ShardMeta, sampleQueueName, shardCount, shardJobId } from '@diffq/contract';
import { cancelledKey } from '@diffq/queue';
import { doneShards, type ObjectStore, readManifest } from '@diffq/storage';
import { LiveFid, type LiveFidValue } from './live-fid.ts';
import type { Producer } from './producer.ts';

/** One per process: `diffq watch` and the exporter reuse the moments already read. */
export const liveFid = new LiveFid();

export interface LocatedRun {
  spec: RunSpec;
  store: ObjectStore;
}

/** The run's manifest, from the store Redis recorded at launch, else from --store. */
/** No manifest for the run id in its store: a run id that does not exist (the dashboard answers 404). */
export class RunNotFound extends Error {
  override readonly name = 'RunNotFound';
}

export async function locateRun(producer: Producer, runId: string): Promise<LocatedRun> {
  const entry = await producer.runEntry(runId).catch(() => undefined);
  const store = producer.store(entry?.storeUrl ?? producer.settings.store);
  const spec = await readManifest(store, runId);
  if (!spec) throw new RunNotFound(`run ${runId}: no manifest at ${store.urlOf(keys.manifest(runId))}; check the run id and --store`);
  return { spec, store };
}

/** Seeds in shard `index`: shardSize, except the last shard. */
export function shardLength(spec: RunSpec, index: number): number {
  return Math.min(spec.shardSize, spec.seedCount - index * spec.shardSize);
}

export type ShardState = 'done' | 'active' | 'waiting' | 'delayed' | 'failed' | 'lost';

export interface RunStatus {
  runId: string;
  modelId: string;
  queue: string;
  storeUrl: string;
  launchedAt: string;
  shards: Record<ShardState, number> & { total: number };
  samples: { done: number; total: number };
  /** Samples per second over the last 5 minutes of finished shards, or null before any. */
  throughput: number | null;
  etaSeconds: number | null;
  /** The finalize job's state in Redis. */
  finalize: string;
  reportWritten: boolean;
  cancelled: boolean;
  /** The first failed shards and why. */
  failures: { shardIndex: number; reason: string }[];
  /** FID of the shards stored so far (runs launched with --stats fid), or null; fidError says why it could not be computed. */
  fid: LiveFidValue | null;
  fidError?: string;
}

const THROUGHPUT_WINDOW_MS = 5 * 60_000;

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]);
      }
    }),
  );
  return out;
}

/**
 * Samples per second over the last window of finished shards; for a run with nothing left to
 * sample the window ends at its last shard, so a finished run keeps its final speed.
 */
export function recentThroughput(
  metas: readonly Pick<ShardMeta, 'seeds' | 'startedAt' | 'finishedAt'>[],
  now: number,
  finished = false,
): number | null {
  if (metas.length === 0) return null;
  const firstStart = Math.min(...metas.map((m) => Date.parse(m.startedAt)));
  if (finished) now = Math.max(...metas.map((m) => Date.parse(m.finishedAt)));
  const from = Math.max(now - THROUGHPUT_WINDOW_MS, firstStart);
  const samples = metas.filter((m) => Date.parse(m.finishedAt) >= from).reduce((s, m) => s + m.seeds.length, 0);
  const span = (now - from) / 1000;
  return span > 0 ? samples / span : null;
}

export async function runStatus(producer: Producer, run: LocatedRun, now = Date.now(), fids: LiveFid = liveFid): Promise<RunStatus> {
  const { spec, store } = run;
  const total = shardCount(spec);
  const queueName = sampleQueueName(spec.model.id);
  const queue = await producer.queue(queueName);
  const doneMetas = await doneShards(store, spec);
  const done = new Set(doneMetas.keys());
  const pending = Array.from({ length: total }, (_, i) => i).filter((i) => !done.has(i));
  const states = await mapLimit(pending, 64, (i) => queue.getJobState(shardJobId(spec.runId, i)));
  const shards: RunStatus['shards'] = { total, done: done.size, active: 0, waiting: 0, delayed: 0, failed: 0, lost: 0 };
  const failedIndices: number[] = [];
  states.forEach((state, k) => {
    if (state === 'active') shards.active++;
    else if (state === 'waiting' || state === 'prioritized' || state === 'waiting-children') shards.waiting++;
    else if (state === 'delayed') shards.delayed++;
    else if (state === 'failed') {
      shards.failed++;
      failedIndices.push(pending[k]);
    } else shards.lost++;
  });
  const failures = await Promise.all(
    failedIndices.slice(0, 5).map(async (shardIndex) => ({
      shardIndex,
      reason: (await queue.getJob(shardJobId(spec.runId, shardIndex)))?.failedReason ?? 'unknown',
    })),
  );
  const metas = [...doneMetas.values()];
  const samplesDone = [...done].reduce((s, i) => s + shardLength(spec, i), 0);
  const throughput = recentThroughput(metas, now, done.size === total);
  const redis = await producer.redis();
  const [finalize, reportWritten, cancelled] = await Promise.all([
    (await producer.finalizeQueue()).getJobState(finalizeJobId(spec.runId)),
    store.exists(keys.report(spec.runId)),
    redis.exists(cancelledKey(producer.prefix, spec.runId)).then((n) => n === 1),
  ]);
  let fid: LiveFidValue | null = null;
  let fidError: string | undefined;
  try {
    fid = await fids.update(store, spec, doneMetas);
  } catch (error) {
    fidError = (error as Error).message;
  }
  const remaining = spec.seedCount - samplesDone;
  return {
    runId: spec.runId,
    modelId: spec.model.id,
    queue: queueName,
    storeUrl: store.url,
    launchedAt: spec.createdAt,
    shards,
    samples: { done: samplesDone, total: spec.seedCount },
    throughput,
    etaSeconds: remaining === 0 ? 0 : throughput ? remaining / throughput : null,
    finalize,
    reportWritten,
    cancelled,
    failures,
    fid,
    ...(fidError === undefined ? {} : { fidError }),
  };
}

export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

/** One state word for the run. */
export function runPhase(s: RunStatus): string {
  if (s.reportWritten && s.shards.done === s.shards.total) return 'complete';
  if (s.cancelled) return 'cancelled';
  if (s.shards.failed > 0) return 'failing';
  if (s.shards.lost > 0 && s.shards.active + s.shards.waiting + s.shards.delayed === 0) return 'stopped (run diffq resume)';
  if (s.shards.done === s.shards.total) return 'finalizing';
  return s.shards.active > 0 ? 'sampling' : 'queued';
}

export function formatStatus(s: RunStatus): string {
  const pct = s.samples.total > 0 ? ((100 * s.samples.done) / s.samples.total).toFixed(1) : '0';
  const lines = [
    `run ${s.runId}: ${runPhase(s)}`,
    `  model     ${s.modelId} (queue ${s.queue})`,
    `  store     ${s.storeUrl}`,
    `  samples   ${s.samples.done} / ${s.samples.total} (${pct}%)`,
    `  shards    ${s.shards.done} done, ${s.shards.active} active, ${s.shards.waiting} waiting, ${s.shards.delayed} delayed (retry), ${s.shards.failed} failed, ${s.shards.lost} not queued — of ${s.shards.total}`,
    `  speed     ${s.throughput === null ? '—' : `${s.throughput.toFixed(2)} samples/s`}, ETA ${formatDuration(s.etaSeconds)}`,
    `  finalize  ${s.finalize}${s.reportWritten ? ', report.json written' : ''}`,
  ];
  if (s.fid) lines.push(`  FID       ${s.fid.fid.toPrecision(6)} over the ${s.fid.samples} samples stored so far`);
  if (s.fidError) lines.push(`  FID       not available: ${s.fidError}`);
  for (const f of s.failures) lines.push(`  failed    shard ${f.shardIndex}: ${f.reason}`);
  return lines.join('\n');
}
