/**
 * How a run becomes jobs: shards are consecutive slices of the run's sorted seed list, and every
 * job id is derived from the run id and shard index, so enqueueing a shard twice is a no-op
 * (DESIGN.md §1, §4). BullMQ rejects ':' in queue names and job ids; '.' is safe and cannot occur in
 * a run or model id.
 */
import { assertModelId, assertRunId } from './ids.ts';
import { InvalidPayload } from './invalid-payload.ts';

/** ⌈seedCount / shardSize⌉. */
export function shardCount(spec: { seedCount: number; shardSize: number }): number {
  return Math.ceil(spec.seedCount / spec.shardSize);
}

/** seeds[index·shardSize, (index + 1)·shardSize): the last shard may be shorter. */
export function shardSeeds(seeds: readonly number[], shardSize: number, index: number): number[] {
  const count = Math.ceil(seeds.length / shardSize);
  if (!Number.isInteger(index) || index < 0 || index >= count) {
    throw new InvalidPayload('shard index', [
      `shardIndex must be an integer from 0 to ${count - 1} for ${seeds.length} seeds in shards of ${shardSize} (got ${index}).`,
    ]);
  }
  return seeds.slice(index * shardSize, (index + 1) * shardSize);
}

/** `<runId>.shard.<index>` */
export function shardJobId(runId: string, index: number): string {
  return `${assertRunId(runId)}.shard.${assertShardIndex(index)}`;
}

/** `<runId>.finalize`: the flow parent of the run's shard jobs. */
export function finalizeJobId(runId: string): string {
  return `${assertRunId(runId)}.finalize`;
}

/** `sample.<modelId>`: one queue per model, so a worker only takes shards it can run. */
export function sampleQueueName(modelId: string): string {
  return `sample.${assertModelId(modelId)}`;
}

/** The queue of finalize jobs, shared by every model. */
export const FINALIZE_QUEUE_NAME = 'finalize';

/** Returns index unchanged if it is an integer ≥ 0, or throws InvalidPayload. */
export function assertShardIndex(index: number): number {
  if (!Number.isSafeInteger(index) || index < 0) {
    throw new InvalidPayload('shard index', [`shardIndex must be an integer ≥ 0 (got ${JSON.stringify(index)}).`]);
  }
  return index;
}
