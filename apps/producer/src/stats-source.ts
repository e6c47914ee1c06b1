/**
 * Where `diffq fid` and `diffq ref-stats` get statistics from (docs/statistics.md): a stats npz as
 * pytorch-fid writes it, images (an npz whose `arr_0` is uint8 NHWC as our shards and
 * guided-diffusion's sample batches are, a folder of PNGs, the MNIST digits of @diffq/datasets) run
 * through a feature network, or a run (its `stats.npz` when the finalizer wrote one, else its done
 * shards' features, else their images through --features).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  decodeNpz,
  decodePng,
  decodeStatsNpz,
  isStatsNpz,
  type NpyArray,
  npzArrayHeader,
  readStatsFile,
  type StatsNpz,
} from '@diffq/codecs';
import { keys, UsageError } from '@diffq/contract';
import { emptyMoments, type Moments, mergeMoments, momentsToStats } from '@diffq/metrics';
import type { FeatureNetwork } from '@diffq/networks';
import { processMomentKernel } from '@diffq/onnx/moment-kernel';
import {
  checkLocalFile,
  doneShards,
  type ImageBatch,
  imageShapeOf,
  localPathOf,
  npzImageBatches,
  readFileUri,
  readShardFeatures,
} from '@diffq/storage';
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
  /** The preprocessing of the features behind them; undefined when a file does not record it. */
  preprocess?: string;
}

/** Images fed to the feature network per call: what is held in memory at once, whatever the set's size. */
export const EXTRACT_BATCH = 100;

/** A set of images read in batches: its size is known before the first is read. */
export interface ImageSource {
  count: number;
  where: string;
  batches(): AsyncIterable<ImageBatch>;
}

/** uint8 images [N, H, W, C] of an npz's `arr_0` (or its only array); [N, H, W] is read as 1 channel. */
export function imagesOfNpz(npz: Record<string, NpyArray>, where: string): ImageBatch {
  const names = Object.keys(npz);
  const array = npz.arr_0 ?? (names.length === 1 ? npz[names[0]] : undefined);
  if (!array) throw new UsageError([`${where}: an image npz holds uint8 images as "arr_0"; this one holds ${names.join(', ')}`]);
  const shape = (() => {
    try {
      return imageShapeOf(array, where);
    } catch (error) {
      throw new UsageError([(error as Error).message]);
    }
  })();
  return { images: array.data as Uint8Array, shape };
}

/** One batch already in memory as a source. */
export function sourceOfBatch(batch: ImageBatch, where: string): ImageSource {
  return {
    count: batch.shape[0],
    where,
    async *batches() {
      yield batch;
    },
  };
}

/** The images of an npz file (path, file:// or s3://), read EXTRACT_BATCH at a time. */
export async function npzImageSource(uri: string, images: Pick<NpyArray, 'dtype' | 'shape'>, member = 'arr_0'): Promise<ImageSource> {
  let shape: [number, number, number, number];
  try {
    shape = imageShapeOf(images, uri);
  } catch (error) {
    throw new UsageError([(error as Error).message]);
  }
  return { count: shape[0], where: uri, batches: () => npzImageBatches(uri, EXTRACT_BATCH, member) };
}

/**
 * Every *.png of a folder in name order, decoded EXTRACT_BATCH at a time; all must share one size.
 * The first image decides the channels: greyscale PNGs are read as 1 channel when the network takes
 * grey images (replicated to 3 when it takes only RGB), colour PNGs as RGB.
 */
export async function pngFolderSource(dir: string, accepts: readonly number[]): Promise<ImageSource> {
  const names = (await readdir(dir)).filter((name) => name.toLowerCase().endsWith('.png')).sort();
  if (names.length === 0) throw new UsageError([`${dir}: no .png files in the folder`]);
  const first = decodePng(await readFile(join(dir, names[0])), 'source');
  const channels = accepts.includes(first.channels) ? first.channels : first.channels === 1 && accepts.includes(3) ? 3 : undefined;
  if (channels === undefined) {
    throw new UsageError([
      `${join(dir, names[0])} is ${first.channels === 1 ? 'greyscale' : 'colour'}; the feature network takes images of ${accepts.join(' or ')} channel(s)`,
    ]);
  }
  const [h, w] = [first.height, first.width];
  return {
    count: names.length,
    where: dir,
    async *batches() {
      for (let start = 0; start < names.length; start += EXTRACT_BATCH) {
        const part = names.slice(start, start + EXTRACT_BATCH);
        const images = new Uint8Array(part.length * h * w * channels);
        for (const [i, name] of part.entries()) {
          const bytes = await readFile(join(dir, name));
          const image = decodePng(bytes, channels === 3 ? 3 : 'source');
          if (image.height !== h || image.width !== w) {
            throw new UsageError([
              `${join(dir, name)} is ${image.width}×${image.height}; the folder's first image is ${w}×${h}, all must match`,
            ]);
          }
          if (image.channels !== channels) {
            throw new UsageError([`${join(dir, name)} is in colour; the folder's first image is greyscale, all must match`]);
          }
          images.set(image.pixels, i * image.pixels.length);
        }
        yield { images, shape: [part.length, h, w, channels] };
      }
    },
  };
}

/**
 * The moments of a network's features (and spatial features, with sfid) over a set of images, read
 * batch by batch, and the feature rows of the images at `keep` (ascending indices) when asked
 * (precision/recall references).
 */
export async function featureMoments(
  network: FeatureNetwork,
  source: ImageSource,
  options: { sfid: boolean; keep?: ArrayLike<number> },
): Promise<{ features: Moments; spatial?: Moments; rows?: Float32Array }> {
  const { info } = network;
  const where = source.where;
  if (options.sfid && info.spatialDim === null) {
    throw new UsageError([`--sfid needs spatial features; the ${info.architecture} feature network has none`]);
  }
  const features = emptyMoments(info.featureDim);
  const spatial = options.sfid && info.spatialDim !== null ? emptyMoments(info.spatialDim) : undefined;
  const keep = options.keep ?? [];
  const rows = keep.length > 0 ? new Float32Array(keep.length * info.featureDim) : undefined;
  const kernel = await processMomentKernel();
  let start = 0;
  let k = 0;
  for await (const batch of source.batches()) {
    const [n, h, w, c] = batch.shape;
    if (!info.channels.includes(c)) {
      throw new UsageError([
        `${where}: images have ${c} channel(s); the ${info.architecture} feature network accepts ${info.channels.join(' or ')}`,
      ]);
    }
    if (info.imageSize !== null && (h !== info.imageSize || w !== info.imageSize)) {
      throw new UsageError([
        `${where}: images are ${w}×${h}; the ${info.architecture} feature network takes ${info.imageSize}×${info.imageSize}`,
      ]);
    }
    const out = await network.extract(batch.images, batch.shape);
    await kernel.accumulate(features, out.features);
    if (spatial && out.spatial) await kernel.accumulate(spatial, out.spatial);
    for (; rows && k < keep.length && keep[k] < start + n; k++) {
      const r = keep[k] - start;
      rows.set(out.features.subarray(r * info.featureDim, (r + 1) * info.featureDim), k * info.featureDim);
    }
    start += n;
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

async function statsOfImages(
  images: (accepts: readonly number[]) => Promise<ImageSource>,
  source: string,
  network: NetworkLoader | undefined,
  sfid: boolean,
): Promise<SourceStats> {
  if (!network) throw new UsageError([`${source} holds images: give --features <feature network directory> to compute their statistics`]);
  const net = await network();
  const set = await images(net.info.channels);
  const stats = statsOfMoments(await featureMoments(net, set, { sfid }), source);
  return { stats, source, how: 'images', samples: set.count, preprocess: net.info.preprocess };
}

/** Whether an argument names a file or folder (rather than a run id). */
async function localKind(arg: string): Promise<'file' | 'folder' | undefined> {
  if (arg.startsWith('s3://') || arg.startsWith('file://')) return 'file';
  const info = await stat(arg).catch(() => undefined);
  if (!info) return undefined;
  return info.isDirectory() ? 'folder' : 'file';
}

/**
 * An npz given by path or URI: its statistics (a stats file, or a reference batch's, whose images
 * are then not read), else its images as a source. A local file is read member by member, so its
 * size does not matter; an s3:// object is read whole.
 */
export async function readNpzSource(uri: string): Promise<{ stats?: StatsNpz; images: () => Promise<ImageSource> }> {
  const path = localPathOf(uri);
  if (path !== undefined) {
    const exists = await checkLocalFile(path).catch((error: Error) => {
      throw new UsageError([error.message]);
    });
    if (!exists) throw new UsageError([`${uri} does not exist`]);
    const file = await readStatsFile(path, uri);
    const member = file.members.includes('arr_0') ? 'arr_0' : file.members.length === 1 ? file.members[0] : undefined;
    return {
      stats: file.stats,
      images: async () => {
        const header = member === undefined ? undefined : member === 'arr_0' ? file.images : await npzArrayHeader(path, member);
        if (!header || member === undefined) {
          throw new UsageError([
            `${uri}: an image npz holds uint8 images as "arr_0"; this one holds ${file.members.join(', ') || 'nothing'}`,
          ]);
        }
        return npzImageSource(uri, header, member);
      },
    };
  }
  const bytes = await readFileUri(uri);
  if (bytes === undefined) throw new UsageError([`${uri} does not exist`]);
  const npz = decodeNpz(bytes);
  return {
    stats: isStatsNpz(npz) ? decodeStatsNpz(npz, uri) : undefined,
    images: async () => sourceOfBatch(imagesOfNpz(npz, uri), uri),
  };
}

/** The statistics of one `diffq fid` argument. */
export async function statsOfSource(
  arg: string,
  options: { producer: Producer; network?: NetworkLoader; sfid?: boolean },
): Promise<SourceStats> {
  const sfid = options.sfid ?? false;
  const kind = await localKind(arg);
  if (kind === 'folder') return statsOfImages((accepts) => pngFolderSource(arg, accepts), arg, options.network, sfid);
  if (kind === 'file') {
    const file = await readNpzSource(arg);
    if (file.stats) return { stats: file.stats, source: arg, how: 'stats npz', preprocess: file.stats.preprocess };
    return statsOfImages(async () => file.images(), arg, options.network, sfid);
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
  const launched = spec.statistics?.features.preprocess;
  if (written) {
    const stats = decodeStatsNpz(written, store.urlOf(statsKey));
    return { stats, source: `run ${runId}`, how: 'stats.npz of the finalizer', preprocess: stats.preprocess ?? launched };
  }
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
      preprocess: launched,
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
    const part = await featureMoments(net, sourceOfBatch(imagesOfNpz(decodeNpz(bytes), store.urlOf(key)), store.urlOf(key)), { sfid });
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
    preprocess: net.info.preprocess,
  };
}
