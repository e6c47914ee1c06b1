/**
 * `diffq ref-stats`: the reference statistics of a data set (docs/statistics.md), written as a stats
 * npz that pytorch-fid, guided-diffusion's evaluator and `diffq launch --ref` read: float64 `mu`,
 * `sigma`, with --sfid `mu_s`, `sigma_s`, with --pr the first feature rows for precision/recall.
 */
import { writeFile } from 'node:fs/promises';
import { decodeNpz, encodeStatsNpz, type StatsNpz } from '@diffq/codecs';
import { UsageError } from '@diffq/contract';
import { REFERENCE_FEATURE_ROWS } from '@diffq/metrics';
import { featureNetworkLoader } from './fid.ts';
import { featureMoments, type ImageBatch, imagesOfNpz, imagesOfPngFolder, statsOfMoments } from './stats-source.ts';

export const MNIST_DATA = ['mnist-heldout', 'mnist-train'] as const;

export interface RefStatsOptions {
  data: string;
  features: string;
  out: string;
  sfid: boolean;
  /** Keep REFERENCE_FEATURE_ROWS feature rows, so that precision/recall and KID can use the file. */
  pr: boolean;
}

export interface RefStatsResult {
  out: string;
  data: string;
  samples: number;
  dim: number;
  spatialDim?: number;
  featureRows?: number;
  network: string;
}

async function imagesOf(data: string, channels: 1 | 3): Promise<ImageBatch> {
  if ((MNIST_DATA as readonly string[]).includes(data)) {
    const { mnistDigits } = await import('@diffq/datasets');
    const digits = await mnistDigits(data === 'mnist-heldout' ? 'heldout' : 'train');
    return { images: digits.images, shape: digits.shape };
  }
  const { stat } = await import('node:fs/promises');
  const info = await stat(data).catch(() => undefined);
  if (!info)
    throw new UsageError([
      `--data ${data}: no such file or folder; accepted: an npz of uint8 images, a folder of PNGs, ${MNIST_DATA.join(', ')}`,
    ]);
  if (info.isDirectory()) return imagesOfPngFolder(data, channels);
  const { readLocalFile } = await import('@diffq/storage');
  const bytes = await readLocalFile(data).catch((error: Error) => {
    throw new UsageError([`--data ${error.message}`]);
  });
  if (!bytes) throw new UsageError([`--data ${data}: no such file`]);
  return imagesOfNpz(decodeNpz(bytes, { source: data }), data);
}

export async function refStats(options: RefStatsOptions): Promise<RefStatsResult> {
  const loader = featureNetworkLoader(options.features) as NonNullable<ReturnType<typeof featureNetworkLoader>>;
  const network = await loader();
  try {
    const batch = await imagesOf(options.data, network.info.channels.includes(3) ? 3 : 1);
    const keepRows = options.pr ? REFERENCE_FEATURE_ROWS : 0;
    const moments = await featureMoments(network, batch, { sfid: options.sfid, where: options.data, keepRows });
    const stats: StatsNpz = statsOfMoments(moments, options.data);
    if (moments.rows) stats.features = moments.rows;
    await writeFile(options.out, encodeStatsNpz(stats));
    return {
      out: options.out,
      data: options.data,
      samples: moments.features.count,
      dim: stats.mu.length,
      ...(stats.spatial ? { spatialDim: stats.spatial.mu.length } : {}),
      ...(stats.features ? { featureRows: stats.features.length / stats.mu.length } : {}),
      network: `${network.info.architecture} (${network.info.preprocess}; ${network.description})`,
    };
  } finally {
    network.dispose();
  }
}
