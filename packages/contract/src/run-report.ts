/**
 * `<runId>/report.json`: what the finalizer writes once every shard is stored, and what
 * `diffq report` reads back.
 */
import type { RunSpec } from './run-spec.ts';

export const REPORT_FORMAT = 'diffq-report/1';

export interface RunReport {
  format: typeof REPORT_FORMAT;
  runId: string;
  model: RunSpec['model'];
  sampler: RunSpec['sampler'];
  guidance: RunSpec['guidance'];
  labels: RunSpec['labels'];
  seeds: string;
  /** npz, png or both. */
  output: RunSpec['format'];
  counts: { shards: number; samples: number; seeds: number };
  timings: {
    launchedAt: string;
    firstShardStartedAt: string;
    lastShardFinishedAt: string;
    /** From the first shard's start to the last shard's end. */
    wallSeconds: number;
    /** Samples per wall second over the whole run. */
    samplesPerSecond: number;
    /** Sums over shards of each phase (sample, encode, write…), in seconds. */
    phaseSeconds: Record<string, number>;
  };
  workers: Record<string, { shards: number; samples: number; sampleSeconds: number }>;
  engines: string[];
  /** Samples per class, for class-conditional runs. */
  labelCounts: Record<string, number> | null;
  finalizedAt: string;
}
