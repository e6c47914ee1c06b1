/**
 * diffq's own Redis keys beside BullMQ's, under the same prefix: the registry of launched runs and
 * the cancel flags (the producer writes them, workers and the exporter read them), and the workers'
 * heartbeats (workers write them, `diffq workers`, the dashboard and the exporter read them).
 */

/** `<prefix>:runs`: hash runId → JSON summary, written by launch and resume (read by `runs` and the exporter). */
export function runsKey(prefix: string): string {
  return `${prefix}:runs`;
}

/** `<prefix>:cancelled:<runId>`: set by `diffq cancel`, checked by workers between micro-batches. */
export function cancelledKey(prefix: string, runId: string): string {
  return `${prefix}:cancelled:${runId}`;
}

/**
 * `<prefix>:workers`: set of the ids of workers that wrote a heartbeat. An index only: a member
 * whose heartbeat key has expired is a dead worker, dropped by the next reader.
 */
export function workersKey(prefix: string): string {
  return `${prefix}:workers`;
}

/** `<prefix>:worker:<id>`: a worker's heartbeat record (WorkerHeartbeat JSON) under a short TTL. */
export function workerKey(prefix: string, workerId: string): string {
  return `${prefix}:worker:${workerId}`;
}

/**
 * `<prefix>:precision:<runId>`: the precision (and engine) the run's first shard was sampled in, set
 * once with SET NX so that workers starting a run together agree on it (apps/worker run-precision).
 */
export function runPrecisionKey(prefix: string, runId: string): string {
  return `${prefix}:precision:${runId}`;
}
