/**
 * diffq-worker: `diffq-worker --model <dir|s3://…> [--batch-size 16] [--metrics-port 9464]
 * [--exit-when-idle] …`. Loads the model, serves its queue, stops gracefully on SIGTERM/SIGINT
 * (finishes the running shard within --shutdown-grace, else releases it to the queue).
 */

import type { ProviderChoice } from '@diffq/onnx';
import {
  checkRedisUrl,
  DEFAULT_LOCKS,
  type DurationFlag,
  formatDuration,
  parseDuration,
  SettingSources,
  settingsFrom,
  withSettings,
} from '@diffq/queue';
import yargs from 'yargs';
import { ENGINES, type EngineChoice, PROVIDERS } from './model-runtime.ts';
import { DEFAULT_DECODE_BATCH } from './shard-job.ts';
import { startWorker } from './worker.ts';

/** Duration flags: a value with its unit; a bare number keeps the unit the flag had before (with a warning). */
const DURATIONS = {
  lockDuration: { flag: 'lock-duration', bareUnit: 'ms', minMs: 1, maxMs: 24 * 3_600_000 },
  stalledInterval: { flag: 'stalled-interval', bareUnit: 'ms', minMs: 1, maxMs: 24 * 3_600_000 },
  shutdownGrace: { flag: 'shutdown-grace', bareUnit: 's', minMs: 0, maxMs: 24 * 3_600_000 },
} as const satisfies Record<string, DurationFlag>;

/** The default grace a running shard gets after SIGTERM before it is released to the queue. */
const DEFAULT_SHUTDOWN_GRACE_MS = 20_000;

function positiveInt(name: string, value: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < 1 || value > max) throw new Error(`--${name} is ${value}; accepted: an integer from 1 to ${max}`);
  return value;
}

export async function main(args: string[]): Promise<number> {
  let sources: SettingSources;
  try {
    sources = new SettingSources(args);
  } catch (error) {
    process.stderr.write(`diffq-worker: ${(error as Error).message}\n`);
    return 2;
  }
  const env = <T extends string | number | boolean | undefined>(flag: string, variable: string, fallback: T) =>
    sources.value(flag, variable, fallback);
  const parser = withSettings(yargs(args), sources)
    .scriptName('diffq-worker')
    .usage(
      '$0 --model <dir|s3://bucket/prefix/model> [options]\n\nLoads one model and samples the shards of its queue (sample.<model id>).',
    )
    .option('model', {
      type: 'string',
      default: env('model', 'DIFFQ_MODEL', undefined as string | undefined),
      demandOption: true,
      describe: 'model directory (model.json + weights.safetensors), a path or s3:// URI (env DIFFQ_MODEL)',
    })
    .option('model-id', {
      type: 'string',
      default: env('model-id', 'DIFFQ_MODEL_ID', undefined as string | undefined),
      describe: 'queue name suffix; default model-<sha256 of the weights, 12 hex digits>, as diffq launch computes it',
    })
    .option('engine', {
      choices: ENGINES,
      default: env('engine', 'DIFFQ_ENGINE', 'auto') as EngineChoice,
      describe: 'denoiser engine: onnxruntime, tfjs, or auto (onnx when available)',
    })
    .option('onnx-provider', {
      alias: 'provider',
      choices: PROVIDERS,
      default: env('onnx-provider', 'DIFFQ_ONNX_PROVIDER', 'cpu') as ProviderChoice,
      describe:
        'onnx execution provider: cpu, cuda, webgpu (Vulkan, Metal or D3D12 GPUs), or auto (cuda, then webgpu, then cpu); one that cannot load falls back, saying why',
    })
    .option('threads', {
      type: 'number',
      default: env('threads', 'DIFFQ_THREADS', undefined as number | undefined),
      describe: 'onnx on cpu: threads per forward pass (default: all cores)',
    })
    .option('batch-size', {
      type: 'number',
      default: env('batch-size', 'DIFFQ_BATCH_SIZE', 16),
      describe: 'samples per micro-batch (what fits the accelerator; never changes an image)',
    })
    .option('decode-batch', {
      type: 'number',
      default: env('decode-batch', 'DIFFQ_DECODE_BATCH', DEFAULT_DECODE_BATCH),
      describe: "latent models: latents per decoder micro-batch (bounds the decoder's memory; never changes an image)",
    })
    .option('metrics-port', {
      type: 'number',
      default: env('metrics-port', 'DIFFQ_METRICS_PORT', undefined as number | undefined),
      describe: 'serve /metrics and /healthz on this port',
    })
    .option('exit-when-idle', {
      type: 'boolean',
      default: env('exit-when-idle', 'DIFFQ_EXIT_WHEN_IDLE', false),
      describe: 'exit once the queues have nothing waiting, delayed or running',
    })
    .option('lock-duration', {
      type: 'string',
      default: String(env('lock-duration', 'DIFFQ_LOCK_DURATION', formatDuration(DEFAULT_LOCKS.lockDuration))),
      describe: 'how long a shard lock lasts unrenewed, e.g. 60s (docs/operations.md: locks)',
    })
    .option('stalled-interval', {
      type: 'string',
      default: String(env('stalled-interval', 'DIFFQ_STALLED_INTERVAL', formatDuration(DEFAULT_LOCKS.stalledInterval))),
      describe: 'time between stalled-job checks, e.g. 30s',
    })
    .option('max-stalled-count', {
      type: 'number',
      default: env('max-stalled-count', 'DIFFQ_MAX_STALLED_COUNT', DEFAULT_LOCKS.maxStalledCount),
      describe: 'lost locks a shard survives before it fails',
    })
    .option('shutdown-grace', {
      type: 'string',
      default: String(env('shutdown-grace', 'DIFFQ_SHUTDOWN_GRACE', formatDuration(DEFAULT_SHUTDOWN_GRACE_MS))),
      describe: 'time a running shard may take to finish after SIGTERM before it is released, e.g. 20s',
    })
    .option('finalize', {
      type: 'boolean',
      default: env('finalize', 'DIFFQ_FINALIZE', true),
      describe: 'also run finalize jobs (--no-finalize to only sample)',
    })
    .option('worker-id', {
      type: 'string',
      default: env('worker-id', 'DIFFQ_WORKER_ID', undefined as string | undefined),
      describe: 'name in shard metadata and logs (default host:pid)',
    })
    .strict()
    .help()
    .exitProcess(false)
    .fail((message, error) => {
      throw error ?? new Error(message);
    });

  let argv: Awaited<ReturnType<typeof parser.parseAsync>>;
  let lockDuration: number;
  let stalledInterval: number;
  let shutdownGraceMs: number;
  try {
    argv = await parser.parseAsync();
    if (argv.help || argv.version) return 0;
    sources.assertNoUnknownKeys();
    checkRedisUrl(argv.redis);
    positiveInt('batch-size', argv.batchSize, 65536);
    positiveInt('decode-batch', argv.decodeBatch, 65536);
    if (argv.threads !== undefined) positiveInt('threads', argv.threads, 1024);
    const durations = {
      lockDuration: parseDuration(argv.lockDuration, DURATIONS.lockDuration),
      stalledInterval: parseDuration(argv.stalledInterval, DURATIONS.stalledInterval),
      shutdownGrace: parseDuration(argv.shutdownGrace, DURATIONS.shutdownGrace),
    };
    for (const d of Object.values(durations)) if (d.deprecation) process.stderr.write(`diffq-worker: warning: ${d.deprecation}\n`);
    lockDuration = durations.lockDuration.ms;
    stalledInterval = durations.stalledInterval.ms;
    shutdownGraceMs = durations.shutdownGrace.ms;
    positiveInt('max-stalled-count', argv.maxStalledCount, 1000);
    if (argv.metricsPort !== undefined && !(Number.isInteger(argv.metricsPort) && argv.metricsPort >= 0 && argv.metricsPort < 65536)) {
      throw new Error(`--metrics-port is ${argv.metricsPort}; accepted: an integer from 0 to 65535`);
    }
  } catch (error) {
    process.stderr.write(`diffq-worker: ${(error as Error).message}\n`);
    return 2;
  }

  try {
    const settings = settingsFrom(argv);
    const worker = await startWorker({
      ...settings,
      model: argv.model,
      modelId: argv.modelId,
      engine: argv.engine,
      provider: argv.onnxProvider,
      threads: argv.threads,
      batchSize: argv.batchSize,
      decodeBatch: argv.decodeBatch,
      metricsPort: argv.metricsPort,
      exitWhenIdle: argv.exitWhenIdle,
      locks: { lockDuration, stalledInterval, maxStalledCount: argv.maxStalledCount },
      shutdownGraceMs,
      finalize: argv.finalize,
      workerId: argv.workerId,
    });
    const stop = (signal: string) => {
      process.stderr.write(`diffq-worker: ${signal}, shutting down (a running shard has ${formatDuration(shutdownGraceMs)} to finish)\n`);
      void worker.close('shutdown');
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    await worker.done;
    return 0;
  } catch (error) {
    process.stderr.write(`diffq-worker: ${(error as Error).message}\n`);
    return 1;
  }
}
