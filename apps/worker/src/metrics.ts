/**
 * The worker's Prometheus metrics (docs/metrics.md). Labels are low-cardinality only: model, engine,
 * queue, outcome, phase. A run id is never a label here; run progress comes from the exporter.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Job outcomes as the worker sees them (docs/metrics.md). */
export const JOB_OUTCOMES = ['completed', 'skipped', 'retried', 'failed', 'rejected'] as const;
export type JobOutcome = (typeof JOB_OUTCOMES)[number];

export interface WorkerMetrics {
  registry: Registry;
  samples: Counter<'model'>;
  jobs: Counter<'queue' | 'outcome'>;
  stepSeconds: Histogram<'model' | 'engine'>;
  microBatchSize: Histogram<'model'>;
  shardSeconds: Histogram<'phase'>;
  modelLoadSeconds: Gauge<'model' | 'engine'>;
  /** From a job's enqueueing to a worker taking it, first attempts only. */
  queueWaitSeconds: Histogram<'queue'>;
  /** The longest a denoiser step may hold the event loop under this worker's --lock-duration. */
  stepBudgetSeconds: Gauge;
  busy: BusyClock;
}

/**
 * Fraction of wall time spent inside jobs over a sliding window: busy/(busy + idle), the number an
 * autoscaler or a person wants ("is this GPU fed?"), without needing a rate() over a counter.
 */
export class BusyClock {
  private since: number | null = null;
  /** Closed busy intervals [start, end] in ms, pruned to the window. */
  private intervals: [number, number][] = [];
  private readonly startedAt: number;

  constructor(
    private readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {
    this.startedAt = now();
  }

  start(): void {
    if (this.since === null) this.since = this.now();
  }

  stop(): void {
    if (this.since === null) return;
    this.intervals.push([this.since, this.now()]);
    this.since = null;
  }

  /** Busy fraction of the last windowMs (or of the uptime, when shorter). */
  ratio(): number {
    const now = this.now();
    const from = Math.max(now - this.windowMs, this.startedAt);
    this.intervals = this.intervals.filter(([, end]) => end > from);
    let busy = 0;
    for (const [start, end] of this.intervals) busy += end - Math.max(start, from);
    if (this.since !== null) busy += now - Math.max(this.since, from);
    const span = now - from;
    return span > 0 ? Math.min(1, busy / span) : this.since === null ? 0 : 1;
  }
}

export interface WorkerMetricsOptions {
  /** Node's process metrics (RSS, heap, event-loop lag…) under diffq_worker_ (default true). */
  defaultMetrics?: boolean;
  /** Live tensors of the tfjs engine (tf.memory().numTensors): flat between shards, or a leak. */
  tensorCount?: () => number;
}

export function createWorkerMetrics(options: WorkerMetricsOptions = {}): WorkerMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'diffq_worker_' });
  const busy = new BusyClock();
  const metrics: WorkerMetrics = {
    registry,
    busy,
    samples: new Counter({
      name: 'diffq_samples_total',
      help: 'Samples (images) written to storage by this worker.',
      labelNames: ['model'],
      registers: [registry],
    }),
    jobs: new Counter({
      name: 'diffq_jobs_total',
      help: 'Jobs finished by this worker, by queue and outcome: completed, skipped (shard already stored), retried (transient failure, will retry), failed (attempts exhausted), rejected (invalid payload, wrong model or cancelled run; never retried).',
      labelNames: ['queue', 'outcome'],
      registers: [registry],
    }),
    stepSeconds: new Histogram({
      name: 'diffq_denoiser_step_seconds',
      help: 'Wall time of one denoiser forward pass over one micro-batch.',
      labelNames: ['model', 'engine'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    microBatchSize: new Histogram({
      name: 'diffq_micro_batch_size',
      help: 'Samples per micro-batch (the last micro-batch of a shard may be smaller than --batch-size).',
      labelNames: ['model'],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
      registers: [registry],
    }),
    shardSeconds: new Histogram({
      name: 'diffq_shard_phase_seconds',
      help: "Wall time of a shard job by phase: sample (all micro-batches), decode (a latent model's decoder), features (the feature network, runs with statistics), encode (npz and png), write (storage).",
      labelNames: ['phase'],
      buckets: [0.01, 0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800],
      registers: [registry],
    }),
    queueWaitSeconds: new Histogram({
      name: 'diffq_queue_wait_seconds',
      help: 'Seconds a job waited in its queue before a worker took it (first attempts; retries wait out their backoff).',
      labelNames: ['queue'],
      buckets: [0.1, 0.5, 1, 5, 15, 30, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600],
      registers: [registry],
    }),
    stepBudgetSeconds: new Gauge({
      name: 'diffq_step_budget_seconds',
      help: "The longest one denoiser step may take under this worker's --lock-duration (its lock budget); diffq_denoiser_step_seconds near it means shards are close to being taken away as stalled.",
      registers: [registry],
    }),
    modelLoadSeconds: new Gauge({
      name: 'diffq_model_load_seconds',
      help: 'Time this worker took to load its model and build its engine at start.',
      labelNames: ['model', 'engine'],
      registers: [registry],
    }),
  };
  new Gauge({
    name: 'diffq_busy_ratio',
    help: 'Fraction of the last 60 s this worker spent processing jobs (0 idle … 1 always busy).',
    registers: [registry],
    collect() {
      this.set(busy.ratio());
    },
  });
  if (options.tensorCount) {
    const count = options.tensorCount;
    new Gauge({
      name: 'diffq_worker_tensors',
      help: 'Live tfjs tensors in the worker; constant from one shard to the next unless something leaks.',
      registers: [registry],
      collect() {
        this.set(count());
      },
    });
  }
  return metrics;
}
