/**
 * The finalizer's statistics (docs/evaluation-runs.md): every done shard's features, read in shard
 * order (= seed order), merged into float64 moments and the other accumulators, compared with the
 * reference the run was launched with. The result goes into report.json, and the run's own μ, Σ
 * (and feature rows) into `<run>/stats.npz`, so the run can be the reference of another run.
 */

import { encodeStatsNpz, preprocessWarning, type StatsNpz } from '@diffq/codecs';
import { frechetMetricName, keys, type RunSpec, type RunStatistics, type ShardMeta } from '@diffq/contract';
import { type EvaluationReference, FeatureAccumulator, frechetDistanceWith } from '@diffq/metrics';
import type { FeatureNetwork } from '@diffq/networks';
import { processFrechetKernel } from '@diffq/onnx/frechet-kernel';
import { processMomentKernel } from '@diffq/onnx/moment-kernel';
import { processPairwiseKernel } from '@diffq/onnx/pairwise-kernel';
import { type ObjectStore, readShardFeatures, readStatsUri } from '@diffq/storage';
import { openFeatureNetworkRef, type PinnedRef } from './feature-network-ref.ts';
import { referenceFeatures } from './reference-features.ts';

/** A stats file named in the manifest, checked against the sha256 it had at launch; `hasImages` when it holds arr_0 (a reference batch). */
async function pinnedStats(ref: PinnedRef, what: string): Promise<{ stats: StatsNpz; hasImages: boolean }> {
  const { stats, digest, images } = await readStatsUri(ref.uri);
  if (digest !== ref.digest) {
    throw new Error(`${what} ${ref.uri} has sha256 ${digest}; the run was launched with ${ref.digest} (the file changed since launch)`);
  }
  return { stats, hasImages: images !== undefined };
}

export function referenceOf(stats: StatsNpz): EvaluationReference {
  return { mu: stats.mu, sigma: stats.sigma, spatial: stats.spatial, features: stats.features };
}

export async function evaluateRun(
  store: ObjectStore,
  spec: RunSpec,
  /** The done shards, in any order: they are read in shard order (= seed order, which IS splits and KID subsets depend on). */
  metas: readonly ShardMeta[],
  /** Opens the run's feature network, for a reference batch's images (default: the manifest's, fetched and digest-checked). */
  openNetwork?: () => Promise<FeatureNetwork>,
): Promise<{ statistics: RunStatistics; stats: StatsNpz } | null> {
  const asked = spec.statistics;
  if (!asked) return null;
  const start = performance.now();
  const pinned = asked.reference ? await pinnedStats(asked.reference, 'reference') : undefined;
  const reference = pinned?.stats;
  const warnings: string[] = [];
  const mode = asked.features.preprocess;
  const refWarning = reference && preprocessWarning(`reference ${asked.reference?.uri}`, reference.preprocess, mode);
  if (refWarning) warnings.push(refWarning);
  let fromImages: RunStatistics['referenceFeatures'];
  const needsRows = asked.kinds.includes('pr') || asked.kinds.includes('kid');
  if (asked.reference && reference && pinned?.hasImages && needsRows && !reference.features) {
    const rows = await referenceFeatures(
      store,
      asked.reference,
      asked.features,
      openNetwork ?? (() => openFeatureNetworkRef(asked.features)),
    );
    reference.features = rows.features;
    fromImages = { rows: rows.rows, from: rows.from, uri: rows.uri };
  }
  let accumulator: FeatureAccumulator | undefined;
  for (const meta of [...metas].sort((a, b) => a.shardIndex - b.shardIndex)) {
    const f = await readShardFeatures(store, meta);
    if (f.featureDim !== asked.features.featureDim) {
      throw new Error(
        `shard ${meta.shardIndex}'s features have dimension ${f.featureDim}; the run's feature network gives ${asked.features.featureDim}`,
      );
    }
    accumulator ??= new FeatureAccumulator(
      asked.kinds,
      { featureDim: f.featureDim, logitDim: f.logitDim, spatialDim: f.spatialDim },
      {
        momentKernel: await processMomentKernel(),
        frechetKernel: await processFrechetKernel(),
        pairwiseKernel: await processPairwiseKernel(),
      },
    );
    await accumulator.addBatch(f);
  }
  if (!accumulator) throw new Error(`run ${spec.runId} has no shards to compute statistics from`);
  const result = await accumulator.finish(reference ? referenceOf(reference) : undefined);
  const statistics: RunStatistics = {
    featureNetwork: {
      uri: asked.features.uri,
      digest: asked.features.digest,
      architecture: asked.features.architecture,
      featureDim: asked.features.featureDim,
      preprocess: asked.features.preprocess,
    },
    reference: asked.reference ? { ...asked.reference, preprocess: reference?.preprocess ?? null } : null,
    samples: result.samples,
    seconds: 0,
  };
  if (result.fid !== undefined) statistics[frechetMetricName(asked.features.architecture)] = result.fid;
  if (fromImages) statistics.referenceFeatures = fromImages;
  if (result.fid !== undefined && asked.floor && reference) {
    const { stats: floor } = await pinnedStats(asked.floor, 'floor');
    const floorWarning = preprocessWarning(`floor ${asked.floor.uri}`, floor.preprocess, mode);
    if (floorWarning) warnings.push(floorWarning);
    statistics.floor = {
      fid: await frechetDistanceWith(await processFrechetKernel(), floor, reference),
      uri: asked.floor.uri,
      digest: asked.floor.digest,
    };
  }
  if (result.sfid !== undefined) statistics.sfid = result.sfid;
  if (result.inceptionScore) statistics.inceptionScore = result.inceptionScore;
  if (result.precisionRecall) statistics.precisionRecall = result.precisionRecall;
  if (result.accuracy) statistics.accuracy = result.accuracy;
  if (result.kid) statistics.kid = result.kid;
  if (warnings.length > 0) statistics.warnings = warnings;
  statistics.seconds = (performance.now() - start) / 1000;
  const stats: StatsNpz = { mu: result.stats.mu, sigma: result.stats.sigma, features: result.sampleFeatures, preprocess: mode };
  if (result.spatialStats) stats.spatial = result.spatialStats;
  return { statistics, stats };
}

/** Writes `<run>/stats.npz`. */
export async function writeRunStats(store: ObjectStore, runId: string, stats: StatsNpz): Promise<void> {
  await store.put(keys.stats(runId), encodeStatsNpz(stats), { contentType: 'application/octet-stream' });
}
