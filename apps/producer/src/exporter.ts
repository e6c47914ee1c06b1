/**
 * `diffq exporter --port <p>`: queue and run gauges for Prometheus, read from Redis and the stores
 * at scrape time (docs/metrics.md). Queue depth is what an autoscaler scales workers on (infra/). Run
 * ids appear as a label only here, on a handful of slow gauges per run, never on the workers'
 * high-rate series.
 */

import type { RunSpec } from '@diffq/contract';
import { FINALIZE_QUEUE_NAME, sampleQueueName } from '@diffq/contract';
import { type MetricsServer, serveMetrics } from '@diffq/queue';
import { doneShards, readManifest } from '@diffq/storage';
import { Gauge, Registry } from 'prom-client';
import type { Producer, RunEntry } from './producer.ts';
import { liveFid, shardLength } from './run-state.ts';
import { liveWorkers, workersPerModel } from './workers.ts';

export const QUEUE_STATES = ['waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed', 'waiting-children'] as const;

export interface ExporterOptions {
  /** Runs launched longer ago than this and complete are no longer exported. */
  maxRunAgeMs?: number;
}

export interface Exporter {
  registry: Registry;
  /** Reads Redis and the stores into the gauges; run before each scrape. */
  refresh(): Promise<void>;
}

export function createExporter(producer: Producer, options: ExporterOptions = {}): Exporter {
  const registry = new Registry();
  const maxRunAgeMs = options.maxRunAgeMs ?? 7 * 24 * 3600_000;
  const manifests = new Map<string, RunSpec>();
  const previous = new Map<string, { t: number; done: number }>();

  const queueJobs = new Gauge({
    name: 'diffq_queue_jobs',
    help: 'Jobs in a queue by state (sample.<model> queues and finalize).',
    labelNames: ['queue', 'state'],
    registers: [registry],
  });
  const queueWorkers = new Gauge({
    name: 'diffq_queue_workers',
    help: 'Workers connected to a queue.',
    labelNames: ['queue'],
    registers: [registry],
  });
  const runDone = new Gauge({
    name: 'diffq_run_samples_done',
    help: 'Samples of a run held by the store.',
    labelNames: ['run', 'model'],
    registers: [registry],
  });
  const runTotal = new Gauge({
    name: 'diffq_run_samples_total',
    help: 'Samples a run asks for (its seed count).',
    labelNames: ['run', 'model'],
    registers: [registry],
  });
  const runProgress = new Gauge({
    name: 'diffq_run_progress_ratio',
    help: 'samples done / samples total of a run.',
    labelNames: ['run', 'model'],
    registers: [registry],
  });
  const runThroughput = new Gauge({
    name: 'diffq_run_throughput_samples_per_second',
    help: 'Samples per second a run gained between the last two scrapes.',
    labelNames: ['run', 'model'],
    registers: [registry],
  });
  const workersLive = new Gauge({
    name: 'diffq_workers_live',
    help: 'Workers whose heartbeat has not expired, by the model they serve (0 for the model of a recent run that has none).',
    labelNames: ['model'],
    registers: [registry],
  });
  const runFid = new Gauge({
    name: 'diffq_run_fid',
    help: 'FID of the samples a run has stored so far against its reference (runs launched with --stats fid; recomputed at most every 5 s).',
    labelNames: ['run', 'model'],
    registers: [registry],
  });
  const scrapeErrors = new Gauge({
    name: 'diffq_exporter_scrape_errors',
    help: 'Errors during the last collection (Redis or store unreachable).',
    registers: [registry],
  });

  const runsOf = async (): Promise<RunEntry[]> => {
    const now = Date.now();
    return (await producer.runEntries()).filter((r) => now - Date.parse(r.launchedAt) <= maxRunAgeMs);
  };

  const scrapeSeconds = new Gauge({
    name: 'diffq_exporter_last_scrape_seconds',
    help: 'Time the last collection took.',
    registers: [registry],
  });

  // One pass over Redis and the stores fills every gauge, before the registry is serialized.
  const refresh = async (): Promise<void> => {
    const start = performance.now();
    let errors = 0;
    queueJobs.reset();
    queueWorkers.reset();
    runDone.reset();
    runTotal.reset();
    runProgress.reset();
    runThroughput.reset();
    workersLive.reset();
    let runs: RunEntry[] = [];
    try {
      runs = await runsOf();
    } catch {
      errors++;
    }
    const queueNames = [...new Set([...runs.map((r) => sampleQueueName(r.modelId)), FINALIZE_QUEUE_NAME])];
    for (const name of queueNames) {
      try {
        const queue = await producer.queue(name);
        const counts = await queue.getJobCounts(...QUEUE_STATES);
        for (const state of QUEUE_STATES) queueJobs.set({ queue: name, state }, counts[state] ?? 0);
        queueWorkers.set({ queue: name }, await queue.getWorkersCount());
      } catch {
        errors++;
      }
    }
    for (const run of runs) {
      try {
        const store = producer.store(run.storeUrl);
        let spec = manifests.get(run.runId);
        if (!spec) {
          spec = await readManifest(store, run.runId);
          if (!spec) continue;
          manifests.set(run.runId, spec);
        }
        const stored = await doneShards(store, spec);
        const done = [...stored.keys()].reduce((s, i) => s + shardLength(spec as RunSpec, i), 0);
        const labels = { run: run.runId, model: run.modelId };
        runDone.set(labels, done);
        runTotal.set(labels, spec.seedCount);
        runProgress.set(labels, spec.seedCount > 0 ? done / spec.seedCount : 0);
        const now = Date.now();
        const before = previous.get(run.runId);
        if (before && now > before.t) runThroughput.set(labels, ((done - before.done) * 1000) / (now - before.t));
        previous.set(run.runId, { t: now, done });
        const fid = await liveFid.update(store, spec, stored);
        if (fid) runFid.set(labels, fid.fid);
      } catch {
        errors++;
      }
    }
    try {
      const counts = workersPerModel((await liveWorkers(await producer.redis(), producer.prefix)).workers);
      for (const run of runs) if (!counts.has(run.modelId)) counts.set(run.modelId, 0);
      for (const [model, count] of counts) workersLive.set({ model }, count);
    } catch {
      errors++;
    }
    scrapeErrors.set(errors);
    scrapeSeconds.set((performance.now() - start) / 1000);
  };
  return { registry, refresh };
}

export async function startExporter(producer: Producer, port: number, host = '0.0.0.0'): Promise<MetricsServer> {
  const { registry, refresh } = createExporter(producer);
  return serveMetrics(
    port,
    registry,
    async () => {
      try {
        await (await producer.redis()).ping();
        return { ok: true };
      } catch (error) {
        return { ok: false, redis: (error as Error).message };
      }
    },
    { host, beforeScrape: refresh },
  );
}
