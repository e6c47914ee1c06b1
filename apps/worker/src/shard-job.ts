/**
 * One shard job, start to end: validate the payload against the contract and the worker's model,
 * skip a shard the store already holds, sample it, write it. Failures are sorted into the three
 * ways BullMQ can end a job:
 * - UnrecoverableError (fails at once, no retry): invalid payload, another model's job, a run
 *   without manifest or with other weights, a cancelled run, a permanent storage fault, a model
 *   that produced NaN or Inf (finite-samples.ts);
 * - a plain error (retried with backoff): a transient storage fault, anything unexpected;
 * - WaitingError after moveToWait (released, no attempt used): the worker is shutting down.
 */
import { matchesSeedCheck, parseShardJob, type RunSpec, type ShardJob, shardSeeds } from '@diffq/contract';
import { PermanentStoreError, shardDone } from '@diffq/storage';
import { type Job, UnrecoverableError, WaitingError } from 'bullmq';
import { NonFiniteSamples } from './finite-samples.ts';
import type { WorkerMetrics } from './metrics.ts';
import type { ModelRuntime } from './model-runtime.ts';
import { ManifestMissing, type RunContext, type RunContexts } from './run-context.ts';
import type { RunPrecision } from './run-precision.ts';
import { decodeShard } from './shard-decode.ts';
import { extractShardFeatures } from './shard-features.ts';
import { writeShard } from './shard-output.ts';
import { shardEngine } from './shard-providers.ts';
import { type SampledShard, SamplingAborted, type ShardSampler } from './shard-sampler.ts';

/** diffq-worker --decode-batch's default: latents per decoder micro-batch. */
export const DEFAULT_DECODE_BATCH = 4;

/** Why a job's signal fired; the reason decides what happens to the job. */
export const ABORT = { shutdown: 'shutdown', lockLost: 'lock lost', cancelled: 'cancelled' } as const;

export interface ShardJobDeps {
  model: ModelRuntime;
  sampler: ShardSampler;
  runs: RunContexts;
  worker: { id: string; batchSize: number };
  /** A latent model's decoder micro-batch (--decode-batch, fitted to the lock budget at start). */
  decodeBatch?: number;
  metrics?: WorkerMetrics;
  /** Refuses a run fixed to another precision than this worker's (run-precision.ts). */
  precision?: RunPrecision;
  /** Whether `diffq cancel` was called on the run. */
  isCancelled(runId: string): Promise<boolean>;
  /** ms between two checks of the cancel flag while a shard samples. */
  cancelPollMs?: number;
  /** Called with each admitted shard's run (the worker logs packing advice once per run). */
  onRun?(spec: RunSpec): void;
}

export interface ShardResult {
  runId: string;
  shardIndex: number;
  samples: number;
  /** True when the store already held the shard and nothing was sampled. */
  skipped: boolean;
}

function unrecoverable(error: unknown): never {
  throw new UnrecoverableError((error as Error).message);
}

interface Admitted {
  data: ShardJob;
  context: RunContext;
  /** The shard's seeds, cut from the manifest (their one source) and checked against the job's seedCheck. */
  seeds: number[];
}

/** Checks what the payload schema cannot: the model, the manifest and the seeds. */
async function admit(job: Job, deps: ShardJobDeps): Promise<Admitted> {
  let data: ShardJob;
  try {
    data = parseShardJob(job.data);
  } catch (error) {
    unrecoverable(error);
  }
  if (data.modelId !== deps.model.id) {
    unrecoverable(
      new Error(`shard job ${job.id} is for model ${data.modelId}; this worker serves ${deps.model.id} (queue ${job.queueName})`),
    );
  }
  let context: RunContext;
  try {
    context = await deps.runs.run(data.storeUrl, data.runId);
  } catch (error) {
    if (error instanceof ManifestMissing || error instanceof PermanentStoreError || (error as Error).name === 'InvalidPayload')
      unrecoverable(error);
    throw error;
  }
  const { spec } = context;
  const decoder = deps.model.decoder;
  if (spec.model.decoder?.digest !== decoder?.digest) {
    unrecoverable(
      new Error(
        `run ${spec.runId} was launched ${spec.model.decoder ? `with decoder ${spec.model.decoder.uri} (weights sha256 ${spec.model.decoder.digest})` : 'without a decoder'}; ` +
          `this worker ${decoder ? `loaded decoder ${decoder.uri} (${decoder.digest})` : 'has none'}`,
      ),
    );
  }
  if (spec.model.id !== deps.model.id || spec.model.digest !== deps.model.digest) {
    unrecoverable(
      new Error(
        `run ${spec.runId} was launched for model ${spec.model.id} (weights sha256 ${spec.model.digest}); this worker loaded ${deps.model.id} (${deps.model.digest})`,
      ),
    );
  }
  let seeds: number[];
  try {
    seeds = shardSeeds(context.seeds, spec.shardSize, data.shardIndex);
  } catch (error) {
    unrecoverable(error);
  }
  const check = data.seedCheck;
  if (!matchesSeedCheck(seeds, check)) {
    unrecoverable(
      new Error(
        `shard job ${job.id}: its seed check (${check.count} seeds, ${check.first} to ${check.last}) does not describe shard ${data.shardIndex} of run ${spec.runId} (${seeds.length} seeds, ${seeds[0]} to ${seeds.at(-1)})`,
      ),
    );
  }
  return { data, context, seeds };
}

export async function processShardJob(
  job: Job,
  token: string | undefined,
  signal: AbortSignal | undefined,
  deps: ShardJobDeps,
): Promise<ShardResult> {
  const startedAt = new Date();
  const { data, context, seeds } = await admit(job, deps);
  const { spec } = context;
  deps.onRun?.(spec);
  if (await deps.isCancelled(spec.runId)) unrecoverable(new Error(`run ${spec.runId} was cancelled`));
  const store = deps.runs.store(data.storeUrl);
  await deps.precision?.admit(store, spec.runId);

  const aborter = new AbortController();
  const onAbort = () => aborter.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort);
  const poll = setInterval(() => {
    deps.isCancelled(spec.runId).then(
      (cancelled) => cancelled && aborter.abort(ABORT.cancelled),
      () => {},
    );
  }, deps.cancelPollMs ?? 2000);
  try {
    if (await shardDone(store, spec, data.shardIndex, { verify: true, seeds })) {
      return { runId: spec.runId, shardIndex: data.shardIndex, samples: seeds.length, skipped: true };
    }
    // Opened before sampling, so a run whose feature network cannot be loaded fails before the work.
    const network = spec.statistics ? await deps.model.featureNetwork(spec.statistics.features) : undefined;
    const timings: Record<string, number> = {};
    const phase = async <T>(name: string, run: () => Promise<T>): Promise<T> => {
      const start = performance.now();
      const result = await run();
      timings[name] = (performance.now() - start) / 1000;
      deps.metrics?.shardSeconds.observe({ phase: name }, timings[name]);
      return result;
    };
    const decoder = deps.model.decoder;
    let shard: SampledShard;
    if (decoder) {
      const latents = await phase('sample', () => deps.sampler.sampleLatents(spec, seeds, aborter.signal));
      const decodeBatch = deps.decodeBatch ?? DEFAULT_DECODE_BATCH;
      shard = await phase('decode', () => decodeShard(decoder, latents, { decodeBatch, signal: aborter.signal }));
    } else {
      shard = await phase('sample', () => deps.sampler.sample(spec, seeds, aborter.signal));
    }
    const statistics = spec.statistics;
    const features =
      network && statistics
        ? await phase('features', () =>
            extractShardFeatures(network, shard, seeds, statistics, {
              batchSize: deps.worker.batchSize,
              signal: aborter.signal,
            }),
          )
        : undefined;
    const meta = await writeShard(
      {
        store,
        spec,
        shardIndex: data.shardIndex,
        seeds,
        worker: deps.worker,
        engine: shardEngine(deps.model.engine.description, decoder?.description),
        providers: {
          denoiser: deps.model.engine.provider,
          ...(decoder && { decoder: decoder.provider }),
          ...(features && network && { features: network.provider }),
        },
        precision: deps.model.precision,
        decoderPrecision: decoder?.precision,
        startedAt,
        timings,
      },
      shard,
      features,
    );
    deps.metrics?.shardSeconds.observe({ phase: 'encode' }, meta.timings.encode);
    deps.metrics?.shardSeconds.observe({ phase: 'write' }, meta.timings.write);
    deps.metrics?.samples.inc({ model: deps.model.id }, seeds.length);
    return { runId: spec.runId, shardIndex: data.shardIndex, samples: seeds.length, skipped: false };
  } catch (error) {
    if (error instanceof SamplingAborted) {
      const reason = aborter.signal.reason;
      if (reason === ABORT.cancelled) unrecoverable(new Error(`run ${spec.runId} was cancelled`));
      if (reason === ABORT.shutdown && token) {
        // Back to wait without using an attempt: another worker takes the whole shard.
        await job.moveToWait(token);
        throw new WaitingError();
      }
      throw new Error(`shard ${data.shardIndex} of run ${spec.runId} stopped: ${reason}`);
    }
    if (error instanceof PermanentStoreError) unrecoverable(error);
    if (error instanceof NonFiniteSamples) unrecoverable(new Error(`shard ${data.shardIndex} of run ${spec.runId}: ${error.message}`));
    // Transient store faults and anything unexpected: BullMQ retries with backoff.
    throw error;
  } finally {
    clearInterval(poll);
    signal?.removeEventListener('abort', onAbort);
  }
}
