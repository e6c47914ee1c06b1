/**
 * A shard of S seeds is cut into micro-batches of the worker's batch size B, so when B does not
 * divide S the last micro-batch of every shard runs part-empty. On a CPU a forward costs about its
 * batch and nothing is lost (bench/packing.ts measures it); where a forward costs the same whatever
 * its batch (a GPU below saturation) that forward is paid in full for r of B samples. The worker
 * says so once per run, with the shard size to launch with instead; shards are not packed across
 * jobs, which would make one micro-batch answer to two jobs' locks.
 */

/** The advice for a run's shard size at this batch size, or undefined when B divides S. */
export function packingAdvice(shardSize: number, batchSize: number): string | undefined {
  const last = shardSize % batchSize;
  if (last === 0) return undefined;
  const forwards = Math.ceil(shardSize / batchSize);
  const wasted = 1 - shardSize / (forwards * batchSize);
  const fit = shardSize < batchSize ? batchSize : shardSize - last;
  return (
    `shards of ${shardSize} seeds end in a micro-batch of ${last} of --batch-size ${batchSize}: where a forward costs the same whatever its batch (a GPU), ` +
    `${(wasted * 100).toFixed(0)} % of the forward capacity is wasted; launch with --shard-size ${fit} (a multiple of ${batchSize}) or give workers a --batch-size that divides ${shardSize}`
  );
}
