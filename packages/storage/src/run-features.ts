/**
 * A run's statistics files (docs/evaluation-runs.md):
 * - `<run>/features/<i>.npz`, one per shard, written before the shard's .json (which names its
 *   sha256): float32 `features` [n, D], `logits` [n, K] and `spatial` [n, S] when the network has
 *   them, int64 `seeds` [n] and `labels` [n] (class-conditional runs), rows in seed order;
 * - stats npz files (`<run>/stats.npz`, reference and floor statistics; their format is
 *   @diffq/codecs' stats-npz.ts), read here by URI with their sha256, which the manifest pins.
 */
import { fileURLToPath } from 'node:url';
import {
  decodeNpz,
  decodeStatsNpz,
  encodeNpz,
  int64Array,
  type NpyArray,
  npyArray,
  readStatsFile,
  type StatsFile,
  StatsFileError,
  type StatsNpz,
} from '@diffq/codecs';
import { keys, type ShardMeta } from '@diffq/contract';
import { fileDigest } from './file-digest.ts';
import { checkLocalFile, readLocalFile } from './local-file.ts';
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
  if (!npz.features || !npz.seeds)
    throw new Error(`${where}: a features npz holds "features" and "seeds"; found ${Object.keys(npz).join(', ')}`);
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

/**
 * A file's bytes by path, file:// or s3:// URI, or undefined when it does not exist. A local one
 * must be a regular file of at most LOCAL_FILE_MAX_BYTES (readLocalFile).
 */
export async function readFileUri(uri: string): Promise<Uint8Array | undefined> {
  if (!uri.startsWith('s3://')) return readLocalFile(uri.startsWith('file://') ? uri.slice('file://'.length) : uri);
  const slash = uri.lastIndexOf('/');
  const store = openStore(uri.slice(0, slash));
  const key = uri.slice(slash + 1);
  try {
    return await store.get(key);
  } finally {
    store.close();
  }
}

/** The local path of a path or file:// URI; undefined for s3:// (and other remote) URIs. */
export function localPathOf(uri: string): string | undefined {
  if (uri.startsWith('file://')) return fileURLToPath(uri);
  return uri.includes('://') ? undefined : uri;
}

/**
 * The stats npz at uri with its sha256 and, when it holds `arr_0` (a reference batch), its images'
 * shape; throws naming the uri when it is missing or malformed. A local file is read member by
 * member and hashed streaming, so a reference batch of any size is read in bounded memory; an
 * s3:// object is read whole (under 2 GiB: copy larger reference batches to local disk).
 */
export async function readStatsUri(uri: string): Promise<{ stats: StatsNpz; digest: string; images?: StatsFile['images'] }> {
  const path = localPathOf(uri);
  if (path !== undefined) {
    if (!(await checkLocalFile(path))) throw new Error(`${uri} does not exist`);
    const file = await readStatsFile(path, uri);
    if (!file.stats) {
      throw new StatsFileError(
        `${uri}: a statistics npz holds "mu" [d] and "sigma" [d, d] (as pytorch-fid writes them); this one holds ${file.members.join(', ') || 'nothing'}`,
      );
    }
    return { stats: file.stats as StatsNpz, digest: await fileDigest(path), ...(file.images ? { images: file.images } : {}) };
  }
  const bytes = await readFileUri(uri);
  if (bytes === undefined) throw new Error(`${uri} does not exist`);
  const npz = decodeNpz(bytes);
  const images = npz.arr_0 ? { dtype: npz.arr_0.dtype, shape: npz.arr_0.shape } : undefined;
  return { stats: decodeStatsNpz(npz, uri), digest: sha256Hex(bytes), ...(images ? { images } : {}) };
}
