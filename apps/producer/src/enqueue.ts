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

/** Shard jobs built and sent per round trip: what enqueueing holds in memory whatever the run's size. */
export const ENQUEUE_CHUNK = 1000;

/**
 * While a run's shards go on the queue in several chunks, its shard 0 waits as a delayed job this
 * long: a pending child the finalize parent cannot run without, even if every shard of the first
 * chunks completes before the last chunk is added. The enqueueing releases it when done; a launch
 * that died before that leaves the run waiting (nothing finalized early) until it is launched again
 * or resumed. A year is beyond any retry backoff (at most minutes), which is how the gate is told apart.
 */
const GATE_DELAY_MS = 365 * 24 * 3600_000;

/**
 * Adds the given shards (and the finalize parent, unless it exists), ENQUEUE_CHUNK at a time, and
 * returns how many jobs were new. Ends by releasing the run's gate, whoever set it.
 */
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
  const queue = await producer.queue(queueName);
  const finalizeQueue = await producer.finalizeQueue();
  const gated = shardIndices.length > ENQUEUE_CHUNK;
  let added = 0;
  for (let from = 0; from < shardIndices.length || from === 0; from += ENQUEUE_CHUNK) {
    const chunk = shardIndices.slice(from, from + ENQUEUE_CHUNK);
    const children: FlowJob[] = chunk.map((shardIndex) => ({
      name: 'shard',
      queueName,
      data: payload(shardIndex),
      opts: {
        ...SHARD_JOB_OPTIONS,
        ...priority,
        ...(gated && shardIndex === 0 ? { delay: GATE_DELAY_MS } : {}),
        jobId: shardJobId(spec.runId, shardIndex),
      },
    }));
    // A job is new when its hash does not exist: BullMQ's own test for a duplicate job id. One
    // pipelined EXISTS per job costs Redis a key lookup, where getJobState runs a script per job.
    const pipeline = (await producer.redis()).pipeline();
    pipeline.exists(finalizeQueue.toKey(finalizeJobId(spec.runId)));
    for (const c of children) pipeline.exists(queue.toKey(c.opts?.jobId as string));
    const before = (await pipeline.exec()) ?? [];
    const fresh = before.filter(([error, exists]) => {
      if (error) throw error;
      return exists === 0;
    }).length;
    if (fresh === 0) continue;
    added += fresh;
    await (await producer.flow()).add({
      name: 'finalize',
      queueName: FINALIZE_QUEUE_NAME,
      data: parseFinalizeJob({ runId: spec.runId, storeUrl }),
      opts: { ...FINALIZE_JOB_OPTIONS, ...priority, jobId: finalizeJobId(spec.runId) },
      children,
    });
  }
  await releaseGate(producer, spec);
  return added;
}

/** Promotes the run's gate (its shard 0 held back while the shards were enqueued), if it is held. */
export async function releaseGate(producer: Producer, spec: RunSpec): Promise<void> {
  const job = await (await producer.queue(sampleQueueName(spec.model.id))).getJob(shardJobId(spec.runId, 0));
  if (job && (job.opts.delay ?? 0) >= GATE_DELAY_MS && (await job.getState()) === 'delayed') await job.promote();
}
