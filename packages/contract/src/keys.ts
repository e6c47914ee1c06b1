/**
 * Storage keys below a store's root (docs/design.md#storage-layout). They are built only from validated run ids and
 * integers, so no key can escape its run's folder.
 */
import { assertRunId } from './ids.ts';
import { InvalidPayload } from './invalid-payload.ts';
import { MAX_SEED } from './seeds.ts';
import { assertShardIndex } from './sharding.ts';

function seedName(seed: number): string {
  if (!Number.isSafeInteger(seed) || seed < 0 || seed > MAX_SEED) {
    throw new InvalidPayload('seed', [`seed must be an integer from 0 to ${MAX_SEED} (got ${JSON.stringify(seed)}).`]);
  }
  return String(seed).padStart(6, '0');
}

function hexName(value: string, field: string): string {
  if (!/^[0-9a-f]{16,64}$/.test(value)) {
    throw new InvalidPayload(field, [`${field} must be 16 to 64 lowercase hex digits (got ${JSON.stringify(value)}).`]);
  }
  return value;
}

export const keys = {
  /** `<runId>/`: every key of the run starts with this. */
  run: (runId: string) => `${assertRunId(runId)}/`,
  manifest: (runId: string) => `${assertRunId(runId)}/manifest.json`,
  /** `<runId>/shards/`: list it to find the shards written so far. */
  shards: (runId: string) => `${assertRunId(runId)}/shards/`,
  /** uint8 NHWC images (arr_0), labels (arr_1), seeds. */
  shardNpz: (runId: string, index: number) => `${assertRunId(runId)}/shards/${assertShardIndex(index)}.npz`,
  /** ShardMeta; the shard is done when this matches the npz. */
  shardMeta: (runId: string, index: number) => `${assertRunId(runId)}/shards/${assertShardIndex(index)}.json`,
  /** `<runId>/png/<seed:06d>.png`, EDM's naming. */
  png: (runId: string, seed: number) => `${assertRunId(runId)}/png/${seedName(seed)}.png`,
  /** `<runId>/features/`: list it to find the feature files written so far. */
  featuresDir: (runId: string) => `${assertRunId(runId)}/features/`,
  /** float32 features [N, D], logits, spatial (when the network has them), seeds and labels of a shard, in seed order. */
  features: (runId: string, index: number) => `${assertRunId(runId)}/features/${assertShardIndex(index)}.npz`,
  /** float64 mu, sigma (and mu_s, sigma_s with sFID) of the run's features: a reference for other runs. */
  stats: (runId: string) => `${assertRunId(runId)}/stats.npz`,
  report: (runId: string) => `${assertRunId(runId)}/report.json`,
  grid: (runId: string) => `${assertRunId(runId)}/grid.png`,
  /**
   * float32 `features` [m, D] of a reference batch's images (`arr_0`), shared by every run of the
   * store that compares with that file through that network: the file's sha256 and a digest of the
   * network and its settings. `_cache` cannot be a run id, so it never meets a run's keys.
   */
  referenceFeatures: (referenceDigest: string, networkKey: string) =>
    `_cache/reference-features/${hexName(referenceDigest, 'reference sha256')}-${hexName(networkKey, 'feature network key')}.npz`,
} as const;
