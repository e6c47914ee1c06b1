/**
 * The finalize job (the flow parent of a run's shard jobs, run once they have all completed):
 * checks that the store holds every shard (shardDone), then writes grid.png (a contact sheet of the
 * first samples), stats.npz (runs with statistics) and report.json last (counts, timings and the
 * statistics), from the stored shards only: a retried finalize writes the same numbers.
 */

import { classRows, contactSheet, decodeNpz, encodePng, imageOf, type RasterImage, tileScale } from '@diffq/codecs';
import {
  type FinalizeJob,
  keys,
  parseFinalizeJob,
  REPORT_FORMAT,
  type RunReport,
  type RunSpec,
  type RunStatistics,
  type ShardMeta,
  shardCount,
} from '@diffq/contract';
import { doneShards, type ObjectStore, PermanentStoreError, putJson, sweepRun } from '@diffq/storage';
import { type Job, UnrecoverableError } from 'bullmq';
import { ManifestMissing, type RunContexts } from './run-context.ts';
import { evaluateRun, writeRunStats } from './run-statistics.ts';
import { shardProviders } from './shard-providers.ts';

/** Samples on the contact sheet. */
export const GRID_SAMPLES = 64;

/** Every shard's metadata, in shard order; throws naming the shards that are not done. */
export async function readAllShardMetas(store: ObjectStore, spec: RunSpec): Promise<ShardMeta[]> {
  const count = shardCount(spec);
  const done = await doneShards(store, spec);
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !done.has(i));
  if (missing.length > 0) {
    const shown = missing.slice(0, 10).join(', ') + (missing.length > 10 ? ', …' : '');
    throw new UnrecoverableError(
      `run ${spec.runId}: the store lacks ${missing.length} of ${count} shards (${shown}); run diffq resume ${spec.runId}`,
    );
  }
  return [...done.values()].sort((a, b) => a.shardIndex - b.shardIndex);
}

export function buildReport(
  spec: RunSpec,
  metas: readonly ShardMeta[],
  statistics: RunStatistics | null = null,
  now = new Date(),
): RunReport {
  const started = metas.map((m) => Date.parse(m.startedAt));
  const finished = metas.map((m) => Date.parse(m.finishedAt));
  const first = Math.min(...started);
  const last = Math.max(...finished);
  const samples = metas.reduce((s, m) => s + m.seeds.length, 0);
  const phaseSeconds: Record<string, number> = {};
  const workers: RunReport['workers'] = {};
  const labelCounts: Record<string, number> = {};
  let labelled = false;
  for (const m of metas) {
    for (const [phase, seconds] of Object.entries(m.timings)) phaseSeconds[phase] = (phaseSeconds[phase] ?? 0) + seconds;
    workers[m.worker.id] ??= { shards: 0, samples: 0, sampleSeconds: 0 };
    const w = workers[m.worker.id];
    w.shards += 1;
    w.samples += m.seeds.length;
    w.sampleSeconds += m.timings.sample ?? 0;
    if (m.labels) {
      labelled = true;
      for (const label of m.labels) labelCounts[label] = (labelCounts[label] ?? 0) + 1;
    }
  }
  const wallSeconds = Math.max(0, (last - first) / 1000);
  const providers = metas.map(shardProviders);
  return {
    format: REPORT_FORMAT,
    runId: spec.runId,
    model: spec.model,
    sampler: spec.sampler,
    guidance: spec.guidance,
    labels: spec.labels,
    seeds: spec.seeds,
    output: spec.format,
    counts: { shards: metas.length, samples, seeds: spec.seedCount },
    timings: {
      launchedAt: spec.createdAt,
      firstShardStartedAt: new Date(first).toISOString(),
      lastShardFinishedAt: new Date(last).toISOString(),
      wallSeconds,
      samplesPerSecond: wallSeconds > 0 ? samples / wallSeconds : 0,
      phaseSeconds,
    },
    workers,
    engines: [...new Set(metas.map((m) => m.engine))].sort(),
    providers: [...new Set(providers.map((p) => p.denoiser))].sort(),
    decoderProviders: [...new Set(providers.flatMap((p) => p.decoder ?? []))].sort(),
    featureProviders: [...new Set(providers.flatMap((p) => p.features ?? []))].sort(),
    precisions: [...new Set(metas.map((m) => m.precision))].sort(),
    decoderPrecisions: [...new Set(metas.flatMap((m) => m.decoderPrecision ?? []))].sort(),
    labelCounts: labelled ? labelCounts : null,
    statistics,
    finalizedAt: now.toISOString(),
  };
}

/** Tiles a row of the class-conditional contact sheet. */
export const GRID_COLUMNS = 10;
/** The contact sheet reads at most this many samples' shards, however large the run. */
const GRID_READ_LIMIT = 2000;

/**
 * The contact sheet from the run's first shards: one row of GRID_COLUMNS per class for a labelled run
 * (the classes in order, so a reader sees at once whether each class looks like itself), else the
 * first GRID_SAMPLES samples; small images enlarged by whole pixels (tileScale).
 */
export async function gridOf(store: ObjectStore, spec: RunSpec, metas: readonly ShardMeta[]): Promise<RasterImage> {
  const ordered = [...metas].sort((a, b) => a.shardIndex - b.shardIndex);
  const classes = new Set(ordered.flatMap((m) => m.labels ?? []));
  const labelled = classes.size > 0;
  const tiles: RasterImage[] = [];
  const labels: number[] = [];
  const perClass = new Map<number, number>();
  const full = () => (labelled ? [...classes].every((c) => (perClass.get(c) ?? 0) >= GRID_COLUMNS) : tiles.length >= GRID_SAMPLES);
  let read = 0;
  for (const meta of ordered) {
    if (full() || read >= GRID_READ_LIMIT) break;
    const bytes = await store.get(keys.shardNpz(spec.runId, meta.shardIndex));
    if (!bytes) throw new Error(`shard ${meta.shardIndex} of run ${spec.runId} vanished while finalizing`);
    const { arr_0 } = decodeNpz(bytes);
    const [n, h, w, c] = arr_0.shape;
    read += n;
    for (let i = 0; i < n && !full(); i++) {
      const label = meta.labels?.[i];
      if (label !== undefined && (perClass.get(label) ?? 0) >= GRID_COLUMNS) continue;
      tiles.push(imageOf(arr_0.data as Uint8Array, i, h, w, c as 1 | 3 | 4));
      if (label !== undefined) {
        labels.push(label);
        perClass.set(label, (perClass.get(label) ?? 0) + 1);
      }
    }
  }
  const scale = tileScale(tiles[0]?.height ?? GRID_COLUMNS);
  return labelled ? contactSheet(classRows(tiles, labels, GRID_COLUMNS), { columns: GRID_COLUMNS, scale }) : contactSheet(tiles, { scale });
}

/** Writes grid.png and report.json, and removes what killed writers left in the run (sweepRun). */
export async function finalizeRun(store: ObjectStore, spec: RunSpec): Promise<{ report: RunReport; swept: string[] }> {
  const metas = await readAllShardMetas(store, spec);
  const evaluated = await evaluateRun(store, spec, metas);
  const report = buildReport(spec, metas, evaluated?.statistics ?? null);
  await store.put(keys.grid(spec.runId), encodePng(await gridOf(store, spec, metas)), { contentType: 'image/png' });
  if (evaluated) await writeRunStats(store, spec.runId, evaluated.stats);
  await putJson(store, keys.report(spec.runId), report);
  return { report, swept: await sweepRun(store, spec.runId) };
}

export async function processFinalizeJob(job: Job, runs: RunContexts): Promise<{ runId: string; samples: number; swept: number }> {
  let data: FinalizeJob;
  try {
    data = parseFinalizeJob(job.data);
  } catch (error) {
    throw new UnrecoverableError((error as Error).message);
  }
  try {
    const { spec } = await runs.run(data.storeUrl, data.runId);
    const { report, swept } = await finalizeRun(runs.store(data.storeUrl), spec);
    return { runId: data.runId, samples: report.counts.samples, swept: swept.length };
  } catch (error) {
    if (error instanceof ManifestMissing || error instanceof PermanentStoreError) throw new UnrecoverableError((error as Error).message);
    throw error;
  }
}
