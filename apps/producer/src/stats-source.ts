/**
 * Where `diffq fid` and `diffq ref-stats` get statistics from (docs/statistics.md): a stats npz as
 * pytorch-fid writes it, images (an npz whose `arr_0` is uint8 NHWC as our shards and
 * guided-diffusion's sample batches are, a folder of PNGs, the MNIST digits of @diffq/datasets) run
 * through a feature network, or a run (its `stats.npz` when the finalizer wrote one, else its done
 * shards' features, else their images through --features).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeNpz, decodePng, decodeStatsNpz, isStatsNpz, type NpyArray, type StatsNpz } from '@diffq/codecs';
import { keys, UsageError } from '@diffq/contract';
import { emptyMoments, type Moments, mergeMoments, momentsToStats } from '@diffq/metrics';
import type { FeatureNetwork } from '@diffq/networks';
import { processMomentKernel } from '@diffq/onnx/moment-kernel';
import { doneShards, readFileUri, readShardFeatures } from '@diffq/storage';
import type { Producer } from './producer.ts';

/** Statistics with where they came from. */
export interface SourceStats {
  stats: StatsNpz;
  /** The file, folder, data set or run they were read or computed from. */
  source: string;
  /** How: `stats npz`, `features of N shards`, `images`. */
  how: string;
  /** Feature vectors behind them, when they were computed here or the run says. */
  samples?: number;
}

/** Images as the shards store them. */
export interface ImageBatch {
  images: Uint8Array;
  shape: [number, number, number, number];
}

/** Images fed to the feature network per call. */
const EXTRACT_BATCH = 100;

/** uint8 images [N, H, W, C] of an npz's `arr_0` (or its only array); [N, H, W] is read as 1 channel. */
export function imagesOfNpz(npz: Record<string, NpyArray>, where: string): ImageBatch {
  const names = Object.keys(npz);
  const array = npz.arr_0 ?? (names.length === 1 ? npz[names[0]] : undefined);
  if (!array) throw new UsageError([`${where}: an image npz holds uint8 images as "arr_0"; this one holds ${names.join(', ')}`]);
  if (array.dtype !== 'uint8' || (array.shape.length !== 4 && array.shape.length !== 3)) {
    throw new UsageError([
      `${where}: images must be uint8 [N, H, W, C] (or [N, H, W]); "arr_0" is ${array.dtype} [${array.shape.join(', ')}]`,
    ]);
  }
  const [n, h, w, c = 1] = array.shape;
  return { images: array.data as Uint8Array, shape: [n, h, w, c] };
}

/** Every *.png of a folder, in name order, as one batch; all must share one size. */
export async function imagesOfPngFolder(dir: string, channels: 1 | 3): Promise<ImageBatch> {
  const names = (await readdir(dir)).filter((name) => name.toLowerCase().endsWith('.png')).sort();
  if (names.length === 0) throw new UsageError([`${dir}: no .png files in the folder`]);
  let images: Uint8Array | undefined;
  let shape: [number, number, number, number] = [names.length, 0, 0, channels];
  for (const [i, name] of names.entries()) {
    const image = decodePng(await readFile(join(dir, name)), channels);
    if (!images) {
      shape = [names.length, image.height, image.width, channels];
      images = new Uint8Array(names.length * image.pixels.length);
    } else if (image.height !== shape[1] || image.width !== shape[2]) {
      throw new UsageError([
        `${join(dir, name)} is ${image.width}×${image.height}; the folder's first image is ${shape[2]}×${shape[1]}, all must match`,
      ]);
    }
    images.set(image.pixels, i * image.pixels.length);
  }
  return { images: images as Uint8Array, shape };
}

/**
 * The moments of a network's features (and spatial features, with sfid) over a batch of images, and
 * the first keepRows feature rows when asked (precision/recall references).
 */
export async function featureMoments(
  network: FeatureNetwork,
  batch: ImageBatch,
  options: { sfid: boolean; where: string; keepRows?: number },
): Promise<{ features: Moments; spatial?: Moments; rows?: Float32Array }> {
  const [n, h, w, c] = batch.shape;
  const { info } = network;
  if (!info.channels.includes(c)) {
    throw new UsageError([
      `${options.where}: images have ${c} channel(s); the ${info.architecture} feature network accepts ${info.channels.join(' or ')}`,
    ]);
  }
  if (info.imageSize !== null && (h !== info.imageSize || w !== info.imageSize)) {
    throw new UsageError([
      `${options.where}: images are ${w}×${h}; the ${info.architecture} feature network takes ${info.imageSize}×${info.imageSize}`,
    ]);
  }
  if (options.sfid && info.spatialDim === null) {
    throw new UsageError([`--sfid needs spatial features; the ${info.architecture} feature network has none`]);
  }
  const features = emptyMoments(info.featureDim);
  const spatial = options.sfid && info.spatialDim !== null ? emptyMoments(info.spatialDim) : undefined;
  const size = h * w * c;
  const keep = Math.min(n, options.keepRows ?? 0);
  const rows = keep > 0 ? new Float32Array(keep * info.featureDim) : undefined;
  const kernel = await processMomentKernel();
  for (let start = 0; start < n; start += EXTRACT_BATCH) {
    const count = Math.min(EXTRACT_BATCH, n - start);
    const out = await network.extract(batch.images.subarray(start * size, (start + count) * size), [count, h, w, c]);
    await kernel.accumulate(features, out.features);
    if (spatial && out.spatial) await kernel.accumulate(spatial, out.spatial);
    if (rows && start < keep)
      rows.set(out.features.subarray(0, (Math.min(keep, start + count) - start) * info.featureDim), start * info.featureDim);
  }
  return { features, spatial, rows };
}

/** μ, Σ (and the spatial pair) of accumulated moments. */
export function statsOfMoments(m: { features: Moments; spatial?: Moments }, where: string): StatsNpz {
  if (m.features.count < 2) throw new UsageError([`${where}: statistics need at least 2 images; there are ${m.features.count}`]);
  const { mu, sigma } = momentsToStats(m.features);
  const stats: StatsNpz = { mu, sigma };
  if (m.spatial) {
    const s = momentsToStats(m.spatial);
    stats.spatial = { mu: s.mu, sigma: s.sigma };
  }
  return stats;
}

/** A feature network opened on first use, so that stats-only comparisons never load one. */
export type NetworkLoader = () => Promise<FeatureNetwork>;

async function statsOfImages(batch: ImageBatch, source: string, network: NetworkLoader | undefined, sfid: boolean): Promise<SourceStats> {
  if (!network) throw new UsageError([`${source} holds images: give --features <feature network directory> to compute their statistics`]);
  const stats = statsOfMoments(await featureMoments(await network(), batch, { sfid, where: source }), source);
  return { stats, source, how: 'images', samples: batch.shape[0] };
}

/** Whether an argument names a file or folder (rather than a run id). */
async function localKind(arg: string): Promise<'file' | 'folder' | undefined> {
  if (arg.startsWith('s3://') || arg.startsWith('file://')) return 'file';
  const info = await stat(arg).catch(() => undefined);
  if (!info) return undefined;
  return info.isDirectory() ? 'folder' : 'file';
}

/** The statistics of one `diffq fid` argument. */
export async function statsOfSource(
  arg: string,
  options: { producer: Producer; network?: NetworkLoader; sfid?: boolean },
): Promise<SourceStats> {
  const sfid = options.sfid ?? false;
  const kind = await localKind(arg);
  if (kind === 'folder') return statsOfImages(await imagesOfPngFolder(arg, 3), arg, options.network, sfid);
  if (kind === 'file') {
    const bytes = await readFileUri(arg);
    if (bytes === undefined) throw new UsageError([`${arg} does not exist`]);
    const npz = decodeNpz(bytes, { source: arg });
    if (isStatsNpz(npz)) return { stats: decodeStatsNpz(npz, arg), source: arg, how: 'stats npz' };
    return statsOfImages(imagesOfNpz(npz, arg), arg, options.network, sfid);
  }
  if (arg.endsWith('.npz')) throw new UsageError([`${arg} does not exist`]);
  return statsOfRun(arg, options.producer, options.network, sfid);
}

/** A run's statistics: its stats.npz, else its done shards' features, else their images through the network. */
async function statsOfRun(runId: string, producer: Producer, network: NetworkLoader | undefined, sfid: boolean): Promise<SourceStats> {
  const { locateRun } = await import('./run-state.ts');
  const { spec, store } = await locateRun(producer, runId).catch((error: Error) => {
    throw new UsageError([`${runId} is neither a file, a folder nor a run: ${error.message}`]);
  });
  const statsKey = keys.stats(runId);
  const written = await store.get(statsKey);
  if (written) return { stats: decodeStatsNpz(written, store.urlOf(statsKey)), source: `run ${runId}`, how: 'stats.npz of the finalizer' };
  const done = [...(await doneShards(store, spec)).values()];
  if (done.length === 0) throw new UsageError([`run ${runId} has no done shards yet; see diffq status ${runId}`]);
  if (done.every((meta) => meta.features)) {
    let moments: { features: Moments; spatial?: Moments } | undefined;
    const kernel = await processMomentKernel();
    for (const meta of done) {
      const f = await readShardFeatures(store, meta);
      moments ??= { features: emptyMoments(f.featureDim), spatial: sfid && f.spatialDim ? emptyMoments(f.spatialDim) : undefined };
      await kernel.accumulate(moments.features, f.features);
      if (moments.spatial && f.spatial) await kernel.accumulate(moments.spatial, f.spatial);
    }
    const m = moments as { features: Moments; spatial?: Moments };
    return {
      stats: statsOfMoments(m, `run ${runId}`),
      source: `run ${runId}`,
      how: `features of ${done.length} done shards`,
      samples: m.features.count,
    };
  }
  if (!network)
    throw new UsageError([
      `run ${runId} has no stats.npz and its shards no features: give --features <dir> to compute them from its images`,
    ]);
  const net = await network();
  let moments: { features: Moments; spatial?: Moments } = {
    features: emptyMoments(net.info.featureDim),
    spatial: sfid && net.info.spatialDim ? emptyMoments(net.info.spatialDim) : undefined,
  };
  for (const meta of done) {
    const key = keys.shardNpz(runId, meta.shardIndex);
    const bytes = await store.get(key);
    if (!bytes) throw new Error(`${store.urlOf(key)} is missing; resume the run (diffq resume ${runId})`);
    const part = await featureMoments(net, imagesOfNpz(decodeNpz(bytes), store.urlOf(key)), { sfid, where: store.urlOf(key) });
    moments = {
      features: mergeMoments(moments.features, part.features),
      spatial: moments.spatial && part.spatial ? mergeMoments(moments.spatial, part.spatial) : undefined,
    };
  }
  return {
    stats: statsOfMoments(moments, `run ${runId}`),
    source: `run ${runId}`,
    how: `images of ${done.length} done shards`,
    samples: moments.features.count,
  };
}
