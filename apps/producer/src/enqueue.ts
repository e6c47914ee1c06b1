/**
 * Puts a run's shards on its model's queue as one BullMQ flow: the shard jobs are the children of
 * the run's finalize job, which runs once they have all completed. Job ids come from the run id
 * and shard index, so adding a shard that is already there is a no-op (DESIGN.md §1, §4).
 */
import {
  FINALIZE_QUEUE_NAME,
  finalizeJobId,
  parseFinalizeJob,
  parseSeeds,
  parseShardJob,
  type RunSpec,
  sampleQueueName,
  shardJobId,
  shardSeeds,
} from '@diffq/contract';
import { FINALIZE_JOB_OPTIONS, SHARD_JOB_OPTIONS } from '@diffq/queue';
import type { FlowJob } from 'bullmq';
import type { Producer } from './producer.ts';

/** Adds the given shards (and the finalize parent, unless it exists) and returns how many jobs were new. */
export async function enqueueShards(
  producer: Producer,
  spec: RunSpec,
  storeUrl: string,
  shardIndices: readonly number[],
  seeds = parseSeeds(spec.seeds),
): Promise<number> {
  const queueName = sampleQueueName(spec.model.id);
  const priority = spec.priority > 0 ? { priority: spec.priority } : {};
  const children: FlowJob[] = shardIndices.map((shardIndex) => ({
    name: 'shard',
    queueName,
    // Validated here as the worker will validate it: a payload the worker would reject is never sent.
    data: parseShardJob({
      runId: spec.runId,
      modelId: spec.model.id,
      shardIndex,
      seeds: shardSeeds(seeds, spec.shardSize, shardIndex),
      storeUrl,
    }),
    opts: { ...SHARD_JOB_OPTIONS, ...priority, jobId: shardJobId(spec.runId, shardIndex) },
  }));
  const queue = await producer.queue(queueName);
  const finalizeQueue = await producer.finalizeQueue();
  const before = await Promise.all([
    finalizeQueue.getJobState(finalizeJobId(spec.runId)),
    ...children.map((c) => queue.getJobState(c.opts?.jobId as string)),
  ]);
  const added = before.filter((state) => state === 'unknown').length;
  if (added === 0) return 0;
  await (await producer.flow()).add({
    name: 'finalize',
    queueName: FINALIZE_QUEUE_NAME,
    data: parseFinalizeJob({ runId: spec.runId, storeUrl }),
    opts: { ...FINALIZE_JOB_OPTIONS, ...priority, jobId: finalizeJobId(spec.runId) },
    children,
  });
  return added;
}
