/**
 * `diffq cancel <run>`: stop a run without losing what it made. Shards not yet running are removed
 * from the queue, running ones stop at their next micro-batch (workers poll the run's cancel flag)
 * and fail without retry, the finalize job is removed. Stored shards stay: `diffq resume` picks
 * the run up again from where it stopped.
 */
import { finalizeJobId, sampleQueueName, shardCount, shardJobId } from '@diffq/contract';
import { cancelledKey } from '@diffq/queue';
import type { Producer } from './producer.ts';
import type { LocatedRun } from './run-state.ts';

export interface CancelResult {
  runId: string;
  /** Jobs removed from the queue (waiting, delayed, failed). */
  removed: number;
  /** Shards running now; their workers stop them within seconds. */
  stopping: number;
}

/** The cancel flag outlives any run: 30 days. */
const CANCEL_TTL_SECONDS = 30 * 24 * 3600;

export async function cancelRun(producer: Producer, run: LocatedRun): Promise<CancelResult> {
  const { spec } = run;
  const redis = await producer.redis();
  await redis.set(cancelledKey(producer.prefix, spec.runId), new Date().toISOString(), 'EX', CANCEL_TTL_SECONDS);
  const queue = await producer.queue(sampleQueueName(spec.model.id));
  const finalizeQueue = await producer.finalizeQueue();
  // The parent first: removing its last pending child would otherwise release it to run.
  const finalizeState = await finalizeQueue.getJobState(finalizeJobId(spec.runId));
  if (finalizeState !== 'unknown' && finalizeState !== 'active')
    await finalizeQueue.remove(finalizeJobId(spec.runId), { removeChildren: false });
  let removed = 0;
  let stopping = 0;
  for (let i = 0; i < shardCount(spec); i++) {
    const id = shardJobId(spec.runId, i);
    const state = await queue.getJobState(id);
    if (state === 'active') stopping++;
    else if (state !== 'unknown' && state !== 'completed') removed += (await queue.remove(id)) === 1 ? 1 : 0;
  }
  return { runId: spec.runId, removed, stopping };
}
