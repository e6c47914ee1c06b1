/**
 * `diffq resume <run>`: rebuild the run's queue from its manifest and the store (docs/design.md#runs-shards-and-seeds).
 * Exactly the shards the store does not hold are put back: failed jobs are retried, jobs Redis no
 * longer knows (it lost its data, or the run was cancelled) are added again; shards already
 * waiting or running are left alone, and stored shards are never recomputed. Works after Redis
 * lost everything: nothing is taken from Redis that the store does not also hold. Temporary files
 * that killed workers left in the run are swept on the way (sweepRun).
 */
import { finalizeJobId, keys, sampleQueueName, shardCount, shardJobId } from '@diffq/contract';
import { cancelledKey } from '@diffq/queue';
import { doneShards, sweepRun } from '@diffq/storage';
import { enqueueShards } from './enqueue.ts';
import type { Producer } from './producer.ts';
import type { LocatedRun } from './run-state.ts';

export interface ResumeResult {
  runId: string;
  /** Shards the store holds (not recomputed). */
  stored: number;
  /** Shards the store lacks. */
  missing: number;
  /** Of those: failed jobs retried, jobs added anew, jobs left as they were (waiting or running). */
  retried: number;
  added: number;
  alreadyQueued: number;
  /** The finalize job was (re)queued. */
  finalizeQueued: boolean;
  complete: boolean;
  /** Abandoned temporary files removed from the run (writes of killed workers). */
  swept: string[];
}

export interface ResumeOptions {
  /** Check each stored shard's files against their sha256 (reads them all) instead of trusting the listing. */
  verify?: boolean;
}

export async function resumeRun(producer: Producer, run: LocatedRun, options: ResumeOptions = {}): Promise<ResumeResult> {
  const { spec, store } = run;
  const total = shardCount(spec);
  const redis = await producer.redis();
  await redis.del(cancelledKey(producer.prefix, spec.runId));
  const swept = await sweepRun(store, spec.runId);
  const stored = new Set((await doneShards(store, spec, { verify: options.verify })).keys());
  const missing = Array.from({ length: total }, (_, i) => i).filter((i) => !stored.has(i));
  const queue = await producer.queue(sampleQueueName(spec.model.id));
  const finalizeQueue = await producer.finalizeQueue();
  const reportWritten = await store.exists(keys.report(spec.runId));
  const result: ResumeResult = {
    runId: spec.runId,
    stored: stored.size,
    missing: missing.length,
    retried: 0,
    added: 0,
    alreadyQueued: 0,
    finalizeQueued: false,
    complete: false,
    swept,
  };
  if (missing.length === 0 && reportWritten) return { ...result, complete: true };

  const toAdd: number[] = [];
  for (const i of missing) {
    const job = await queue.getJob(shardJobId(spec.runId, i));
    const state = job ? await job.getState() : 'unknown';
    if (job && state === 'failed') {
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      result.retried++;
    } else if (job && state === 'completed') {
      // Completed in Redis but gone from the store: the store is the truth, sample it again.
      await job.remove();
      toAdd.push(i);
    } else if (state === 'unknown') {
      toAdd.push(i);
    } else {
      result.alreadyQueued++;
    }
  }

  const finalizeId = finalizeJobId(spec.runId);
  const finalizeState = await finalizeQueue.getJobState(finalizeId);
  if (finalizeState === 'completed' || finalizeState === 'failed') {
    // A finished parent cannot take new children: replace it.
    await finalizeQueue.remove(finalizeId, { removeChildren: false });
  }
  const parentWillRun =
    finalizeState === 'waiting-children' ||
    finalizeState === 'waiting' ||
    finalizeState === 'active' ||
    finalizeState === 'delayed' ||
    finalizeState === 'prioritized';
  if (toAdd.length > 0 || !parentWillRun) {
    const added = await enqueueShards(producer, spec, store.url, toAdd);
    result.added = toAdd.length;
    result.finalizeQueued = added > toAdd.length;
  }
  await producer.registerRun({
    runId: spec.runId,
    modelId: spec.model.id,
    storeUrl: store.url,
    seedCount: spec.seedCount,
    shards: total,
    launchedAt: spec.createdAt,
  });
  return result;
}
