/**
 * A run's statistics files (docs/evaluation-runs.md):
 * - `<run>/features/<i>.npz`, one per shard, written before the shard's .json (which names its
 *   sha256): float32 `features` [n, D], `logits` [n, K] and `spatial` [n, S] when the network has
 *   them, int64 `seeds` [n] and `labels` [n] (class-conditional runs), rows in seed order;
 * - stats npz files (`<run>/stats.npz`, reference and floor statistics): float64 `mu` [D] and
 *   `sigma` [D, D] as pytorch-fid reads them, `mu_s`/`sigma_s` for sFID, and float32 `features`
 *   [m, D] when precision/recall may be computed against it.
 */
import { decodeNpz, encodeNpz, int64Array, type NpyArray, npyArray } from '@diffq/codecs';
import { keys, type ShardMeta } from '@diffq/contract';
import type { ObjectStore } from './object-store.ts';
import { openStore } from './open-store.ts';
import { sha256Hex } from './run-objects.ts';

export interface ShardFeatures {
  /** [n, featureDim] */
  features: Float32Array;
  featureDim: number;
  /** [n, logitDim], when the network has logits. */
  logits?: Float32Array;
  logitDim?: number;
  /** [n, spatialDim], when the run asks sFID. */
  spatial?: Float32Array;
  spatialDim?: number;
  seeds: number[];
  /** The class of each sample, or null for an unconditional run. */
  labels: number[] | null;
}

function rowsOf(array: NpyArray, name: string, n: number, where: string): number {
  if (array.dtype !== 'float32' || array.shape.length !== 2 || array.shape[0] !== n) {
    throw new Error(`${where}: ${name} must be float32 [${n}, d]; it is ${array.dtype} [${array.shape.join(', ')}]`);
  }
  return array.shape[1];
}

export function encodeShardFeatures(f: ShardFeatures): Uint8Array {
  const n = f.seeds.length;
  const arrays: Record<string, NpyArray> = { features: npyArray(f.features, [n, f.featureDim]) };
  if (f.logits && f.logitDim) arrays.logits = npyArray(f.logits, [n, f.logitDim]);
  if (f.spatial && f.spatialDim) arrays.spatial = npyArray(f.spatial, [n, f.spatialDim]);
  arrays.seeds = npyArray(int64Array(f.seeds), [n]);
  if (f.labels) arrays.labels = npyArray(int64Array(f.labels), [n]);
  return encodeNpz(arrays);
}

export function decodeShardFeatures(bytes: Uint8Array, where: string): ShardFeatures {
  const npz = decodeNpz(bytes);
  if (!npz.features || !npz.seeds) throw new Error(`${where}: a features npz holds "features" and "seeds"; found ${Object.keys(npz).join(', ')}`);
  const seeds = Array.from(npz.seeds.data as BigInt64Array, Number);
  const n = seeds.length;
  const out: ShardFeatures = {
    features: npz.features.data as Float32Array,
    featureDim: rowsOf(npz.features, 'features', n, where),
    seeds,
    labels: npz.labels ? Array.from(npz.labels.data as BigInt64Array, Number) : null,
  };
  if (npz.logits) {
    out.logitDim = rowsOf(npz.logits, 'logits', n, where);
    out.logits = npz.logits.data as Float32Array;
  }
  if (npz.spatial) {
    out.spatialDim = rowsOf(npz.spatial, 'spatial', n, where);
    out.spatial = npz.spatial.data as Float32Array;
  }
  return out;
}

/** The features of a done shard; throws when they are missing or differ from what its .json names. */
export async function readShardFeatures(store: ObjectStore, meta: ShardMeta): Promise<ShardFeatures> {
  const key = keys.features(meta.runId, meta.shardIndex);
  const where = store.urlOf(key);
  const bytes = await store.get(key);
  if (bytes === undefined) throw new Error(`${where} is missing; shard ${meta.shardIndex} must be sampled again (diffq resume)`);
  if (!meta.features || bytes.byteLength !== meta.features.bytes || sha256Hex(bytes) !== meta.features.sha256) {
    throw new Error(`${where} is not the file shard ${meta.shardIndex}'s .json names (size or sha256 differ)`);
  }
  const features = decodeShardFeatures(bytes, where);
  if (features.seeds.length !== meta.seeds.length || features.seeds.some((s, i) => s !== meta.seeds[i])) {
    throw new Error(`${where}: its seeds are not shard ${meta.shardIndex}'s`);
  }
  return features;
}

/** What a stats npz holds. */
export interface StatsFile {
  /** μ [d], float64. */
  mu: Float64Array;
  /** Σ [d, d] row-major, float64. */
  sigma: Float64Array;
  /** Of the spatial features (sFID), when present. */
  spatial?: { mu: Float64Array; sigma: Float64Array };
  /** float32 feature rows [m, d] for precision/recall, when present. */
  features?: Float32Array;
}

export function statsDim(stats: StatsFile): number {
  return stats.mu.length;
}

export function encodeStats(stats: StatsFile): Uint8Array {
  const d = stats.mu.length;
  const arrays: Record<string, NpyArray> = { mu: npyArray(stats.mu, [d]), sigma: npyArray(stats.sigma, [d, d]) };
  if (stats.spatial) {
    const s = stats.spatial.mu.length;
    arrays.mu_s = npyArray(stats.spatial.mu, [s]);
    arrays.sigma_s = npyArray(stats.spatial.sigma, [s, s]);
  }
  if (stats.features) arrays.features = npyArray(stats.features, [stats.features.length / d, d]);
  return encodeNpz(arrays);
}

function float64(array: NpyArray): Float64Array {
  return array.data instanceof Float64Array ? array.data : Float64Array.from(array.data as ArrayLike<number>);
}

function gaussian(npz: Record<string, NpyArray>, muName: string, sigmaName: string, where: string) {
  const mu = npz[muName];
  const sigma = npz[sigmaName];
  if (!mu || !sigma) return undefined;
  const d = mu.shape[0];
  if (mu.shape.length !== 1 || sigma.shape.length !== 2 || sigma.shape[0] !== d || sigma.shape[1] !== d) {
    throw new Error(`${where}: ${muName} must be [d] and ${sigmaName} [d, d]; they are [${mu.shape}] and [${sigma.shape}]`);
  }
  return { mu: float64(mu), sigma: float64(sigma) };
}

export function decodeStats(bytes: Uint8Array, where: string): StatsFile {
  const npz = decodeNpz(bytes);
  const main = gaussian(npz, 'mu', 'sigma', where);
  if (!main) throw new Error(`${where}: a stats npz holds "mu" and "sigma" (as pytorch-fid writes them); found ${Object.keys(npz).join(', ')}`);
  const out: StatsFile = { ...main };
  const spatial = gaussian(npz, 'mu_s', 'sigma_s', where);
  if (spatial) out.spatial = spatial;
  if (npz.features) {
    const f = npz.features;
    if (f.shape.length !== 2 || f.shape[1] !== main.mu.length) {
      throw new Error(`${where}: features must be [m, ${main.mu.length}] like mu; they are [${f.shape}]`);
    }
    out.features = f.data instanceof Float32Array ? f.data : Float32Array.from(f.data as ArrayLike<number>);
  }
  return out;
}

/** Splits a file's URI into the store holding its folder and its key there. */
function storeAndKey(uri: string): { storeUrl: string; key: string } {
  const slash = uri.lastIndexOf('/');
  if (uri.startsWith('s3://') || uri.startsWith('file://')) return { storeUrl: uri.slice(0, slash), key: uri.slice(slash + 1) };
  return { storeUrl: `file://${slash < 0 ? '.' : uri.slice(0, slash) || '/'}`, key: uri.slice(slash + 1) };
}

/** A file's bytes by path, file:// or s3:// URI, or undefined when it does not exist. */
export async function readFileUri(uri: string): Promise<Uint8Array | undefined> {
  const { storeUrl, key } = storeAndKey(uri);
  const store = openStore(storeUrl);
  try {
    return await store.get(key);
  } finally {
    store.close();
  }
}

/** The stats npz at uri with its sha256; throws naming the uri when it is missing or malformed. */
export async function readStatsUri(uri: string): Promise<{ stats: StatsFile; digest: string }> {
  const bytes = await readFileUri(uri);
  if (bytes === undefined) throw new Error(`${uri} does not exist`);
  return { stats: decodeStats(bytes, uri), digest: sha256Hex(bytes) };
}
