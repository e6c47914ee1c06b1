/**
 * `diffq workers [--json]`: the live fleet, read from the workers' heartbeats
 * (apps/worker/src/heartbeat.ts). The dashboard and the exporter read the same records through
 * liveWorkers.
 */
import { parseWorkerHeartbeat, type WorkerHeartbeat } from '@diffq/contract';
import { workerKey, workersKey } from '@diffq/queue';
import type { Redis } from 'ioredis';
import { formatDuration } from './run-state.ts';

export interface LiveWorker extends WorkerHeartbeat {
  /** Seconds since its last heartbeat, from the record's remaining TTL (Redis' clock, not the worker's). */
  lastSeenSeconds: number;
}

export interface Fleet {
  workers: LiveWorker[];
  /** Records that are not WorkerHeartbeats (a worker of another diffq version): id and why. */
  unreadable: { id: string; problem: string }[];
}

/**
 * The workers whose heartbeat has not expired, by model then id. Ids in the index whose record
 * has expired belong to dead workers and are dropped from it here.
 */
export async function liveWorkers(redis: Redis, prefix: string): Promise<Fleet> {
  const ids = (await redis.smembers(workersKey(prefix))).sort();
  if (ids.length === 0) return { workers: [], unreadable: [] };
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.get(workerKey(prefix, id)).pttl(workerKey(prefix, id));
  const replies = (await pipeline.exec()) ?? [];
  const workers: LiveWorker[] = [];
  const unreadable: Fleet['unreadable'] = [];
  const dead: string[] = [];
  ids.forEach((id, i) => {
    const [getError, text] = replies[2 * i] ?? [];
    const [, pttl] = replies[2 * i + 1] ?? [];
    if (getError) throw getError;
    if (typeof text !== 'string') {
      dead.push(id);
      return;
    }
    try {
      const record = parseWorkerHeartbeat(JSON.parse(text));
      const remaining = typeof pttl === 'number' && pttl >= 0 ? pttl / 1000 : record.ttlSeconds;
      workers.push({ ...record, lastSeenSeconds: Math.max(0, record.ttlSeconds - remaining) });
    } catch (error) {
      unreadable.push({ id, problem: (error as Error).message });
    }
  });
  if (dead.length > 0) await redis.srem(workersKey(prefix), ...dead);
  workers.sort((a, b) => a.model.localeCompare(b.model) || a.id.localeCompare(b.id));
  return { workers, unreadable };
}

/** Live workers per model. */
export function workersPerModel(workers: readonly LiveWorker[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const w of workers) counts.set(w.model, (counts.get(w.model) ?? 0) + 1);
  return counts;
}

/** "onnx cuda float16": what runs a worker's forward passes. */
export function engineLabel(w: Pick<WorkerHeartbeat, 'engine' | 'provider' | 'precision'>): string {
  return `${w.engine} ${w.provider} ${w.precision}`;
}

export function formatWorkers(fleet: Fleet): string {
  const lines: string[] = [];
  if (fleet.workers.length === 0) lines.push('no live workers (start one with diffq-worker --model <dir>)');
  else {
    const rows = [
      ['WORKER', 'MODEL', 'ENGINE', 'BATCH', 'SAMPLES/S', 'DONE', 'SHARD', 'SEEN'],
      ...fleet.workers.map((w) => [
        w.id,
        w.model,
        engineLabel(w),
        String(w.batchSize),
        w.samplesPerSecond === null ? '—' : w.samplesPerSecond.toFixed(2),
        String(w.samplesDone),
        w.currentShard ? `${w.currentShard.runId} #${w.currentShard.shardIndex}` : 'idle',
        `${formatDuration(w.lastSeenSeconds)} ago`,
      ]),
    ];
    const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
    for (const r of rows)
      lines.push(
        r
          .map((cell, c) => cell.padEnd(widths[c]))
          .join('  ')
          .trimEnd(),
      );
  }
  for (const u of fleet.unreadable) lines.push(`unreadable heartbeat of ${u.id}: ${u.problem}`);
  return lines.join('\n');
}
