/**
 * How a run becomes jobs: shards are consecutive slices of the run's sorted seed list, and every
 * job id is derived from the run id and shard index, so enqueueing a shard twice is a no-op
 * (docs/design.md#runs-shards-and-seeds and #queue). BullMQ rejects ':' in queue names and job ids; '.' is safe and cannot occur in
 * a run or model id.
 */
import { assertModelId, assertRunId } from './ids.ts';
import { InvalidPayload } from './invalid-payload.ts';
import type { SeedList } from './seeds.ts';

/** ⌈seedCount / shardSize⌉. */
export function shardCount(spec: { seedCount: number; shardSize: number }): number {
  return Math.ceil(spec.seedCount / spec.shardSize);
}

/** List indices [start, end) of shard `index`; throws InvalidPayload past the last shard. */
function shardBounds(seedCount: number, shardSize: number, index: number): [number, number] {
  const count = Math.ceil(seedCount / shardSize);
  if (!Number.isInteger(index) || index < 0 || index >= count) {
    throw new InvalidPayload('shard index', [
      `shardIndex must be an integer from 0 to ${count - 1} for ${seedCount} seeds in shards of ${shardSize} (got ${index}).`,
    ]);
  }
  return [index * shardSize, Math.min((index + 1) * shardSize, seedCount)];
}

/** seeds[index·shardSize, (index + 1)·shardSize) of the run's sorted list: the last shard may be shorter. */
export function shardSeeds(seeds: SeedList, shardSize: number, index: number): number[] {
  return seeds.slice(...shardBounds(seeds.count, shardSize, index));
}

/**
 * What a shard job says of its seeds: the first, the last and how many. The manifest alone lists
 * them; this is the check that the job and the manifest still describe the same shard.
 */
export interface ShardSeedCheck {
  first: number;
  last: number;
  count: number;
}

/** The check of shard `index`, computed without expanding the seed list. */
export function shardSeedCheck(seeds: SeedList, shardSize: number, index: number): ShardSeedCheck {
  const [start, end] = shardBounds(seeds.count, shardSize, index);
  return { first: seeds.at(start), last: seeds.at(end - 1), count: end - start };
}

/** Whether `shard` (a shard's seeds from the manifest) is what `check` describes. */
export function matchesSeedCheck(shard: readonly number[], check: ShardSeedCheck): boolean {
  return shard.length === check.count && shard[0] === check.first && shard[shard.length - 1] === check.last;
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
