/**
 * The FID of the shards stored so far (docs/evaluation-runs.md), shown by `diffq status` and
 * `diffq watch` and published by the exporter as diffq_run_fid, so a user watches it converge.
 * Per run it keeps the reference (read once), the float64 moments of the shards already read (each
 * shard is added once; moments are sums, so adding shards in any order gives the same result) and
 * the last value, recomputed at most every minIntervalMs.
 */

import type { StatsNpz } from '@diffq/codecs';
import type { RunSpec, ShardMeta } from '@diffq/contract';
import { emptyMoments, frechetDistanceWith, type Moments, momentsToStats } from '@diffq/metrics';
import { processFrechetKernel } from '@diffq/onnx/frechet-kernel';
import { processMomentKernel } from '@diffq/onnx/moment-kernel';
import { type ObjectStore, readShardFeatures, readStatsUri } from '@diffq/storage';

export interface LiveFidValue {
  fid: number;
  /** Samples whose features it was computed from. */
  samples: number;
  /** When it was computed (ms since the epoch). */
  at: number;
}

interface RunCache {
  reference: StatsNpz;
  moments: Moments;
  included: Set<number>;
  last?: LiveFidValue;
  /** The update in progress: a second caller waits for it instead of adding the same shards twice. */
  busy?: Promise<LiveFidValue | null>;
}

/** Runs whose moments are kept (a 2048-d run holds 32 MB of them). */
const MAX_RUNS = 8;

export class LiveFid {
  private readonly runs = new Map<string, Promise<RunCache>>();

  constructor(
    private readonly minIntervalMs = 5000,
    private readonly now: () => number = Date.now,
  ) {}

  private cache(spec: RunSpec, reference: { uri: string; digest: string }): Promise<RunCache> {
    const key = `${spec.runId}\n${spec.createdAt}`;
    let entry = this.runs.get(key);
    if (!entry) {
      entry = readStatsUri(reference.uri).then(({ stats, digest }) => {
        if (digest !== reference.digest)
          throw new Error(`reference ${reference.uri} changed since launch (sha256 ${digest.slice(0, 12)}…)`);
        return { reference: stats, moments: emptyMoments(spec.statistics?.features.featureDim ?? stats.mu.length), included: new Set() };
      });
      entry.catch(() => this.runs.delete(key));
      this.runs.set(key, entry);
      while (this.runs.size > MAX_RUNS) this.runs.delete(this.runs.keys().next().value as string);
    }
    return entry;
  }

  /**
   * The FID of the done shards' features against the run's reference; null when the run does not
   * ask FID or fewer than two samples are stored. Throws when the reference or a features file
   * cannot be read.
   */
  async update(store: ObjectStore, spec: RunSpec, done: ReadonlyMap<number, ShardMeta>): Promise<LiveFidValue | null> {
    const asked = spec.statistics;
    if (!asked?.kinds.includes('fid') || !asked.reference) return null;
    const run = await this.cache(spec, asked.reference);
    if (run.busy) return run.busy;
    if (run.last && this.now() - run.last.at < this.minIntervalMs) return run.last;
    run.busy = this.recompute(store, run, done).finally(() => {
      run.busy = undefined;
    });
    return run.busy;
  }

  private async recompute(store: ObjectStore, run: RunCache, done: ReadonlyMap<number, ShardMeta>): Promise<LiveFidValue | null> {
    if ([...run.included].some((i) => !done.has(i))) {
      // A shard it counted is gone (deleted for a redo): start again from what is stored now.
      run.moments = emptyMoments(run.moments.dim);
      run.included.clear();
    }
    const kernel = await processMomentKernel();
    for (const [index, meta] of done) {
      if (run.included.has(index)) continue;
      await kernel.accumulate(run.moments, (await readShardFeatures(store, meta)).features);
      run.included.add(index);
    }
    if (run.moments.count < 2) return null;
    const fid = await frechetDistanceWith(await processFrechetKernel(), momentsToStats(run.moments), run.reference);
    run.last = { fid, samples: run.moments.count, at: this.now() };
    return run.last;
  }
}
