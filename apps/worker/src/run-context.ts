/**
 * What a worker keeps between jobs: one ObjectStore per store URL and the manifest (with its parsed
 * seed list) of the last few runs, so a 50,000-seed run is read and parsed once, not once per shard.
 */
import { keys, type RunSpec, SeedList } from '@diffq/contract';
import { type ObjectStore, readManifest, StoreCache } from '@diffq/storage';

export interface RunContext {
  spec: RunSpec;
  /** spec.seeds as ranges: the one source of every shard's seeds (shardSeeds). */
  seeds: SeedList;
}

export class ManifestMissing extends Error {
  override readonly name = 'ManifestMissing';
}

export class RunContexts {
  private readonly stores = new StoreCache();
  private readonly runs = new Map<string, Promise<RunContext>>();

  constructor(private readonly maxRuns = 8) {}

  store(url: string): ObjectStore {
    return this.stores.get(url);
  }

  /** The run's manifest; throws ManifestMissing when the store has none (the run was never launched there). */
  run(storeUrl: string, runId: string): Promise<RunContext> {
    const key = `${storeUrl}\n${runId}`;
    let entry = this.runs.get(key);
    if (!entry) {
      const store = this.store(storeUrl);
      entry = readManifest(store, runId).then((spec) => {
        if (spec === undefined)
          throw new ManifestMissing(`run ${runId} has no manifest at ${store.urlOf(keys.manifest(runId))}; launch it with diffq launch`);
        return { spec, seeds: SeedList.parse(spec.seeds) };
      });
      // A failed read is not cached: the next job tries again (the fault may have been transient).
      entry.catch(() => this.runs.delete(key));
      this.runs.set(key, entry);
      while (this.runs.size > this.maxRuns) this.runs.delete(this.runs.keys().next().value as string);
    }
    return entry;
  }

  close(): void {
    this.stores.close();
    this.runs.clear();
  }
}
