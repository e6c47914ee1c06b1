/**
 * Whether a shard is done: the one definition that the worker (before sampling), the finalizer,
 * `diffq status` / `watch` / `resume` and the exporter all use (docs/evaluation-runs.md).
 *
 * A shard is done when `<run>/shards/<i>.json` is valid ShardMeta naming this run, this shard and
 * its seeds, and the files it names are stored: the npz, and for a run with statistics the features
 * npz. By default "stored" means the key is listed (one listing per run and one small read per
 * shard); with `verify` the files are read and must have the size and sha256 the .json names, which
 * also catches a file rewritten after its .json. Anything else means the shard must be (re)done;
 * store faults are thrown, never read as "not done".
 */
import { InvalidPayload, keys, type RunSpec, SeedList, type ShardMeta, shardCount, shardSeeds } from '@diffq/contract';
import type { ObjectStore } from './object-store.ts';
import { readShardMeta, sha256Hex } from './run-objects.ts';

export interface ShardDoneOptions {
  /** Read the files and check their size and sha256 against the .json (default: trust the listing). */
  verify?: boolean;
}

/** Shards whose .json is read at a time by doneShards. */
const PARALLEL_READS = 32;

/** The shard's metadata when it is done, else undefined. Without a listing, each named file is checked with exists(). */
export async function shardDone(
  store: ObjectStore,
  spec: RunSpec,
  index: number,
  options: ShardDoneOptions & {
    /** The seeds the shard must hold (default: derived from the manifest). */
    seeds?: readonly number[];
    /** Keys listed under the run's shards/ and features/, when the caller listed them already. */
    listed?: ReadonlySet<string>;
  } = {},
): Promise<ShardMeta | undefined> {
  const runId = spec.runId;
  let meta: ShardMeta | undefined;
  try {
    meta = await readShardMeta(store, runId, index);
  } catch (error) {
    if (error instanceof SyntaxError || error instanceof InvalidPayload) return undefined;
    throw error;
  }
  if (meta === undefined || meta.runId !== runId || meta.shardIndex !== index) return undefined;
  const seeds = options.seeds ?? shardSeeds(SeedList.parse(spec.seeds), spec.shardSize, index);
  if (meta.seeds.length !== seeds.length || meta.seeds.some((s, i) => s !== seeds[i])) return undefined;
  const files: { key: string; sha256: string; bytes: number }[] = [
    { key: keys.shardNpz(runId, index), sha256: meta.npzSha256, bytes: meta.npzBytes },
  ];
  if (spec.statistics) {
    if (!meta.features) return undefined;
    files.push({ key: keys.features(runId, index), ...meta.features });
  }
  for (const file of files) {
    if (options.verify) {
      const bytes = await store.get(file.key);
      if (bytes === undefined || bytes.byteLength !== file.bytes || sha256Hex(bytes) !== file.sha256) return undefined;
    } else if (!(options.listed ? options.listed.has(file.key) : await store.exists(file.key))) {
      return undefined;
    }
  }
  return meta;
}

/** Every done shard of the run, by index, with its metadata. */
export async function doneShards(store: ObjectStore, spec: RunSpec, options: ShardDoneOptions = {}): Promise<Map<number, ShardMeta>> {
  const runId = spec.runId;
  const listed = new Set(await store.list(keys.shards(runId)));
  if (spec.statistics) for (const key of await store.list(keys.featuresDir(runId))) listed.add(key);
  const seeds = SeedList.parse(spec.seeds);
  // Only shards whose .json is listed are worth a read.
  const candidates = Array.from({ length: shardCount(spec) }, (_, i) => i).filter((i) => listed.has(keys.shardMeta(runId, i)));
  const done = new Map<number, ShardMeta>();
  for (let start = 0; start < candidates.length; start += PARALLEL_READS) {
    const batch = candidates.slice(start, start + PARALLEL_READS);
    const metas = await Promise.all(
      batch.map((i) => shardDone(store, spec, i, { ...options, listed, seeds: shardSeeds(seeds, spec.shardSize, i) })),
    );
    metas.forEach((meta, k) => {
      if (meta) done.set(batch[k], meta);
    });
  }
  return done;
}
