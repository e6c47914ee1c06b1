/**
 * Puts a run's shards on its model's queue as one BullMQ flow: the shard jobs are the children of
 * the run's finalize job, which runs once they have all completed. Job ids come from the run id
 * and shard index, so adding a shard that is already there is a no-op (docs/design.md#runs-shards-and-seeds and #queue).
 */
import {
  FINALIZE_QUEUE_NAME,
  finalizeJobId,
  parseFinalizeJob,
  parseShardJob,
  type RunSpec,
  SeedList,
  type ShardJob,
  sampleQueueName,
  shardJobId,
  shardSeedCheck,
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
  seeds = SeedList.parse(spec.seeds),
): Promise<number> {
  const queueName = sampleQueueName(spec.model.id);
  const priority = spec.priority > 0 ? { priority: spec.priority } : {};
  const payload = (shardIndex: number): ShardJob => ({
    runId: spec.runId,
    modelId: spec.model.id,
    shardIndex,
    seedCheck: shardSeedCheck(seeds, spec.shardSize, shardIndex),
    storeUrl,
  });
  // A payload the worker would reject is never sent: the first and the last shard's go through the
  // worker's schema. The others differ from those only in shardIndex and a seedCheck cut from the
  // same parsed list, and parsing 4,000 payloads would cost a 1,000,000-seed launch ~0.2 s.
  for (const i of new Set([shardIndices[0], shardIndices.at(-1)])) if (i !== undefined) parseShardJob(payload(i));
  const children: FlowJob[] = shardIndices.map((shardIndex) => ({
    name: 'shard',
    queueName,
    data: payload(shardIndex),
    opts: { ...SHARD_JOB_OPTIONS, ...priority, jobId: shardJobId(spec.runId, shardIndex) },
  }));
  const queue = await producer.queue(queueName);
  const finalizeQueue = await producer.finalizeQueue();
  // A job is new when its hash does not exist: BullMQ's own test for a duplicate job id. One
  // pipelined EXISTS per job costs Redis a key lookup, where getJobState runs a script per job.
  const pipeline = (await producer.redis()).pipeline();
  pipeline.exists(finalizeQueue.toKey(finalizeJobId(spec.runId)));
  for (const c of children) pipeline.exists(queue.toKey(c.opts?.jobId as string));
  const before = (await pipeline.exec()) ?? [];
  const added = before.filter(([error, exists]) => {
    if (error) throw error;
    return exists === 0;
  }).length;
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
