/**
 * `diffq ref-stats`: the reference statistics of a data set (docs/statistics.md), written as a stats
 * npz that pytorch-fid, guided-diffusion's evaluator and `diffq launch --ref` read: float64 `mu`,
 * `sigma`, with --sfid `mu_s`, `sigma_s`, with --pr feature rows for precision/recall, and the
 * preprocessing they were computed with (`preprocess`).
 *
 * A reference batch that already holds statistics (guided-diffusion's `VIRTUAL_*.npz`: `arr_0`
 * beside `mu`, `sigma`, `mu_s`, `sigma_s`) keeps them as they are: they are the published
 * reference, and recomputing them with another resize would move every FID compared with them.
 * Only its feature rows (--pr) are computed from its images.
 */
import { writeFile } from 'node:fs/promises';
import { encodeStatsNpz, preprocessWarning, type StatsNpz } from '@diffq/codecs';
import { UsageError } from '@diffq/contract';
import { REFERENCE_FEATURE_ROWS } from '@diffq/metrics';
import { type FeatureNetworkChoice, featureNetworkLoader } from './fid.ts';
import {
  featureMoments,
  type ImageSource,
  type NetworkLoader,
  pngFolderSource,
  readNpzSource,
  sourceOfBatch,
  statsOfMoments,
} from './stats-source.ts';

export const MNIST_DATA = ['mnist-heldout', 'mnist-train'] as const;

export interface RefStatsOptions extends FeatureNetworkChoice {
  data: string;
  features: string;
  out: string;
  sfid: boolean;
  /** Keep feature rows, evenly spaced over the set, so that precision/recall and KID can use the file. */
  pr: boolean;
  /** How many rows --pr keeps (default REFERENCE_FEATURE_ROWS, 10,000 as ADM's reference batches hold). */
  rows?: number;
}

export interface RefStatsResult {
  out: string;
  data: string;
  /** Images whose features went into the written statistics (or rows); 0 when the file's statistics were kept and no rows asked. */
  samples: number;
  dim: number;
  spatialDim?: number;
  featureRows?: number;
  /** How the feature rows were chosen, when the set has more images than rows. */
  rowsChosen?: string;
  /** `computed` from the images, or `kept` from the file (a reference batch's own mu/sigma). */
  statistics: 'computed' | 'kept';
  /** The preprocessing the file records (undefined: not known). */
  preprocess?: string;
  network: string;
  warnings: string[];
}

/**
 * m indices spread evenly over n images (⌊i·n/m⌋): a folder sorted by class gives every class its
 * share of the rows, where the first m would give the first classes only.
 */
export function evenlySpaced(n: number, m: number): Uint32Array {
  if (m >= n) return Uint32Array.from({ length: n }, (_, i) => i);
  return Uint32Array.from({ length: m }, (_, i) => Math.floor((i * n) / m));
}

async function dataSource(data: string, accepts: readonly number[]): Promise<{ images: () => Promise<ImageSource>; stats?: StatsNpz }> {
  if ((MNIST_DATA as readonly string[]).includes(data)) {
    const { mnistDigits } = await import('@diffq/datasets');
    const digits = await mnistDigits(data === 'mnist-heldout' ? 'heldout' : 'train');
    return { images: async () => sourceOfBatch({ images: digits.images, shape: digits.shape }, data) };
  }
  const { stat } = await import('node:fs/promises');
  const info = await stat(data).catch(() => undefined);
  if (!info)
    throw new UsageError([
      `--data ${data}: no such file or folder; accepted: an npz of uint8 images, a folder of PNGs, ${MNIST_DATA.join(', ')}`,
    ]);
  if (info.isDirectory()) return { images: () => pngFolderSource(data, accepts) };
  return readNpzSource(data);
}

export async function refStats(options: RefStatsOptions): Promise<RefStatsResult> {
  const loader = (await featureNetworkLoader(options.features, options)) as NetworkLoader;
  const network = await loader();
  try {
    const { info } = network;
    const source = await dataSource(options.data, info.channels);
    const warnings: string[] = [];
    let stats: StatsNpz;
    let samples = 0;
    let rowsChosen: string | undefined;
    const keptStats = source.stats;
    if (keptStats) {
      if (options.sfid && !keptStats.spatial) {
        throw new UsageError([`--sfid: ${options.data} holds mu/sigma but no mu_s/sigma_s, and its statistics are kept as they are`]);
      }
      stats = { mu: keptStats.mu, sigma: keptStats.sigma, ...(keptStats.spatial ? { spatial: keptStats.spatial } : {}) };
      // The file's own record wins; a file without one takes --preprocess only when the user named it.
      const mode = keptStats.preprocess ?? options.preprocess;
      if (mode !== undefined) stats.preprocess = mode;
      if (options.pr) {
        if (keptStats.mu.length !== info.featureDim) {
          throw new UsageError([
            `--pr: ${options.data} holds ${keptStats.mu.length}-d statistics; the ${info.architecture} feature network gives ${info.featureDim}-d features`,
          ]);
        }
        const images = await source.images();
        const keep = evenlySpaced(images.count, options.rows ?? REFERENCE_FEATURE_ROWS);
        const moments = await featureMoments(network, images, { sfid: false, keep });
        stats.features = moments.rows;
        samples = images.count;
        if (keep.length < images.count)
          rowsChosen = `${keep.length} of ${images.count} images, evenly spaced (every ${(images.count / keep.length).toFixed(2)}th)`;
        const warning = preprocessWarning(`${options.data}'s mu/sigma`, keptStats.preprocess, info.preprocess);
        if (warning) warnings.push(`${warning}; its feature rows were computed with "${info.preprocess}"`);
      } else if (keptStats.preprocess === undefined) {
        warnings.push(
          `${options.data} does not record its preprocessing; ${mode === undefined ? 'the written file does not either' : `the written file records "${mode}", as --preprocess says`}`,
        );
      }
    } else {
      const images = await source.images();
      const keep = options.pr ? evenlySpaced(images.count, options.rows ?? REFERENCE_FEATURE_ROWS) : undefined;
      const moments = await featureMoments(network, images, { sfid: options.sfid, keep });
      stats = statsOfMoments(moments, options.data);
      if (moments.rows) stats.features = moments.rows;
      stats.preprocess = info.preprocess;
      samples = moments.features.count;
      if (keep && keep.length < images.count) {
        rowsChosen = `${keep.length} of ${images.count} images, evenly spaced (every ${(images.count / keep.length).toFixed(2)}th)`;
      }
    }
    await writeFile(options.out, encodeStatsNpz(stats));
    return {
      out: options.out,
      data: options.data,
      samples,
      dim: stats.mu.length,
      ...(stats.spatial ? { spatialDim: stats.spatial.mu.length } : {}),
      ...(stats.features ? { featureRows: stats.features.length / stats.mu.length } : {}),
      ...(rowsChosen ? { rowsChosen } : {}),
      statistics: keptStats ? 'kept' : 'computed',
      ...(stats.preprocess === undefined ? {} : { preprocess: stats.preprocess }),
      network: `${info.architecture} (${info.preprocess}; ${network.description})`,
      warnings,
    };
  } finally {
    network.dispose();
  }
}
