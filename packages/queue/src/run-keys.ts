/**
 * diffq's own Redis keys beside BullMQ's, under the same prefix: the registry of launched runs and
 * the cancel flags. The producer writes them, workers and the exporter read them.
 */

/** `<prefix>:runs`: hash runId → JSON summary, written by launch and resume (read by `runs` and the exporter). */
export function runsKey(prefix: string): string {
  return `${prefix}:runs`;
}

/** `<prefix>:cancelled:<runId>`: set by `diffq cancel`, checked by workers between micro-batches. */
export function cancelledKey(prefix: string, runId: string): string {
  return `${prefix}:cancelled:${runId}`;
}
