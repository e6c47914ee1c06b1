/**
 * The features of a reference batch's images, for precision/recall and KID against a file that
 * holds images rather than feature rows: guided-diffusion's reference batches
 * (`VIRTUAL_imagenet256_labeled.npz` and kin) keep 10,000 uint8 images as `arr_0` beside their
 * `mu`, `sigma`, `mu_s`, `sigma_s`, and ADM's evaluator compares every sample with all of them.
 *
 * The images go through the run's feature network once, streamed in batches (a 512² batch is
 * 7.9 GB), and the rows are cached in the run's store under keys.referenceFeatures: the reference
 * file's sha256 and a digest of the network's weights, architecture, preprocessing and feature
 * dimension. Any later run of that store with the same file and network reads them back; a changed
 * file or network gets a new key, so a cached row can never belong to other images or features.
 */
import { createHash } from 'node:crypto';
import { decodeNpz, encodeNpz, npyArray } from '@diffq/codecs';
import { keys, type StatisticsSpec } from '@diffq/contract';
import { FeatureRows } from '@diffq/metrics';
import type { FeatureNetwork } from '@diffq/networks';
import { npzImageBatches, type ObjectStore } from '@diffq/storage';
import type { PinnedRef } from './feature-network-ref.ts';

/** Images per feature-network call. */
const IMAGES_PER_BATCH = 100;

export interface ReferenceFeatures {
  /** float32 [rows, featureDim]. */
  features: Float32Array;
  rows: number;
  /** `computed` by this call (and cached), or read from the `cache`. */
  from: 'computed' | 'cache';
  /** Where the rows are cached. */
  uri: string;
}

/** What of the feature network decides the rows: its weights, architecture, preprocessing and output. */
export function networkKey(features: StatisticsSpec['features']): string {
  const { digest, architecture, preprocess, featureDim } = features;
  return createHash('sha256').update(JSON.stringify({ digest, architecture, preprocess, featureDim })).digest('hex').slice(0, 32);
}

export async function referenceFeatures(
  store: ObjectStore,
  reference: PinnedRef,
  features: StatisticsSpec['features'],
  open: () => Promise<FeatureNetwork>,
): Promise<ReferenceFeatures> {
  const key = keys.referenceFeatures(reference.digest, networkKey(features));
  const uri = store.urlOf(key);
  const cached = await store.get(key);
  if (cached) {
    const array = decodeNpz(cached).features;
    if (array?.dtype !== 'float32' || array.shape.length !== 2 || array.shape[1] !== features.featureDim) {
      throw new Error(`${uri}: cached reference features must be float32 [m, ${features.featureDim}]; delete the file to recompute them`);
    }
    return { features: array.data as Float32Array, rows: array.shape[0], from: 'cache', uri };
  }
  const network = await open();
  const rows = new FeatureRows(features.featureDim);
  try {
    if (network.info.featureDim !== features.featureDim) {
      throw new Error(
        `feature network ${features.uri} now gives ${network.info.featureDim}-d features; the run was launched with ${features.featureDim}`,
      );
    }
    for await (const batch of npzImageBatches(reference.uri, IMAGES_PER_BATCH)) {
      rows.append((await network.extract(batch.images, batch.shape)).features);
    }
  } finally {
    network.dispose();
  }
  if (rows.count === 0) throw new Error(`${reference.uri}: "arr_0" holds no images to compute reference features from`);
  const all = rows.slice(0, rows.count);
  await store.put(key, encodeNpz({ features: npyArray(all, [rows.count, features.featureDim]) }), {
    contentType: 'application/octet-stream',
  });
  return { features: all, rows: rows.count, from: 'computed', uri };
}
