/**
 * The `diffq` command line: launch, status, watch, cancel, resume, report, runs, workers, exporter,
 * dashboard, demo, bench-model.
 * Exit codes: 0 done, 1 failed (Redis, store, a run that did not finish), 2 invalid arguments.
 * Command modules are imported when their command runs: the model, tfjs and S3 libraries cost
 * seconds to load and `diffq status` needs none of them.
 */
import { createRequire } from 'node:module';
import { MAX_PRIORITY, SAMPLER_KINDS, UsageError } from '@diffq/contract';
// The provider choices alone: @diffq/onnx itself (tfjs, onnxruntime) loads only for bench-model.
import { PROVIDER_CHOICES, type ProviderChoice } from '@diffq/onnx/execution-provider';
import { checkRedisUrl, parseDuration, SettingSources, type Settings, settingsFrom, withSettings } from '@diffq/queue';
import type { Argv } from 'yargs';
import type { DemoOptions } from './demo.ts';
import { DEMO_SAMPLER } from './demo-sampler.ts';
import type { FeatureNetworkChoice } from './fid.ts';
import type { LaunchFlags } from './launch-flags.ts';
import { Producer } from './producer.ts';

// yargs' CommonJS build is a single file; its ESM build is some thirty modules, each a round trip
// through tsx's loader thread — about 0.1 s of every command's start.
const yargs = createRequire(import.meta.url)('yargs') as typeof import('yargs').default;

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Whether stdout is a terminal (progress bars redraw in place). */
  tty: boolean;
}

const processIo: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  tty: Boolean(process.stdout.isTTY),
};

type Handler = (producer: Producer, argv: Record<string, unknown>, io: Io) => Promise<number>;

function json(io: Io, value: unknown): void {
  io.out(`${JSON.stringify(value, null, 2)}\n`);
}

const launch: Handler = async (producer, argv, io) => {
  const flags: LaunchFlags = {
    model: argv.model as string,
    modelId: argv.modelId as string | undefined,
    seeds: argv.seeds === undefined ? undefined : String(argv.seeds),
    runId: argv.runId as string | undefined,
    sampler: argv.sampler as string | undefined,
    steps: argv.steps as number | undefined,
    respacing: argv.respacing === undefined ? undefined : String(argv.respacing),
    eta: argv.eta as number | undefined,
    skipType: argv.skipType as string | undefined,
    unipcVariant: argv.unipcVariant as string | undefined,
    unipcOrder: argv.unipcOrder as number | undefined,
    denoiseToZero: argv.denoiseToZero as boolean | undefined,
    dynamicThreshold: argv.dynamicThreshold as number | undefined,
    dynamicThresholdMax: argv.dynamicThresholdMax as number | undefined,
    clipDenoised: argv.clipDenoised as boolean | undefined,
    guidanceScale: argv.guidanceScale as number | undefined,
    guidedChannels: argv.guidedChannels === undefined ? undefined : String(argv.guidedChannels),
    classifier: argv.classifier as string | undefined,
    classifierScale: argv.classifierScale as number | undefined,
    labels: argv.labels === undefined ? undefined : String(argv.labels),
    shardSize: argv.shardSize as number | undefined,
    format: argv.format as string | undefined,
    store: producer.settings.store,
    priority: argv.priority as number | undefined,
    stats: argv.stats === undefined ? undefined : String(argv.stats),
    features: argv.features as string | undefined,
    ref: argv.ref === undefined ? undefined : String(argv.ref),
  };
  const { launchRun } = await import('./launch.ts');
  const result = await launchRun(producer, flags);
  for (const warning of result.warnings) io.err(`diffq launch: warning: ${warning}\n`);
  if (argv.json) json(io, result);
  else if (result.resumedEnqueue) {
    io.out(`${result.runId}\n`);
    io.err(
      `${result.runId} was launched before but its enqueueing did not finish: ${result.added} missing jobs added, run registered (${result.shards} shards on queue ${result.queue})\n`,
    );
  } else if (result.alreadyLaunched)
    io.out(
      `${result.runId}\n(already launched with these settings; nothing added — diffq resume ${result.runId} re-enqueues what the store lacks)\n`,
    );
  else {
    io.out(`${result.runId}\n`);
    io.err(
      `launched ${result.runId}: ${result.seeds} seeds in ${result.shards} shards on queue ${result.queue} (${result.added} jobs added in ${result.enqueueMs.toFixed(0)} ms), store ${result.storeUrl}\n`,
    );
  }
  return 0;
};

const status: Handler = async (producer, argv, io) => {
  const { formatStatus, locateRun, runPhase, runStatus } = await import('./run-state.ts');
  const s = await runStatus(producer, await locateRun(producer, argv.run as string));
  if (argv.json) json(io, { ...s, phase: runPhase(s) });
  else io.out(`${formatStatus(s)}\n`);
  return 0;
};

/** `--interval 2s`; a bare number is read as seconds, as before durations carried their unit. */
function watchInterval(value: string, io: Io): number {
  let interval: ReturnType<typeof parseDuration>;
  try {
    interval = parseDuration(value, { flag: 'interval', bareUnit: 's', minMs: 50, maxMs: 3_600_000 });
  } catch (error) {
    throw new UsageError([(error as Error).message]);
  }
  if (interval.deprecation) io.err(`diffq watch: warning: ${interval.deprecation}\n`);
  return interval.ms;
}

const watch: Handler = async (producer, argv, io) => {
  const { locateRun, runPhase } = await import('./run-state.ts');
  const { watchRun } = await import('./watch.ts');
  const intervalMs = watchInterval(argv.interval as string, io);
  const s = await watchRun(producer, await locateRun(producer, argv.run as string), { write: io.out, tty: io.tty, intervalMs });
  return runPhase(s) === 'complete' ? 0 : 1;
};

const cancel: Handler = async (producer, argv, io) => {
  const { locateRun } = await import('./run-state.ts');
  const { cancelRun } = await import('./cancel.ts');
  const result = await cancelRun(producer, await locateRun(producer, argv.run as string));
  if (argv.json) json(io, result);
  else
    io.out(
      `cancelled ${result.runId}: ${result.removed} queued jobs removed, ${result.stopping} running shards stopping; stored shards kept (diffq resume ${result.runId} continues)\n`,
    );
  return 0;
};

const resume: Handler = async (producer, argv, io) => {
  const { locateRun } = await import('./run-state.ts');
  const { resumeRun } = await import('./resume.ts');
  const result = await resumeRun(producer, await locateRun(producer, argv.run as string), { verify: argv.verify as boolean });
  if (argv.json) json(io, result);
  else {
    const swept = result.swept.length > 0 ? `; ${result.swept.length} abandoned temporary files removed` : '';
    if (result.complete)
      io.out(`run ${result.runId} is complete (${result.stored} shards stored, report written); nothing to resume${swept}\n`);
    else
      io.out(
        `resumed ${result.runId}: ${result.stored} shards stored (kept), ${result.missing} missing → ${result.added} enqueued, ${result.retried} failed retried, ${result.alreadyQueued} already queued${result.finalizeQueued ? '; finalize re-queued' : ''}${swept}\n`,
      );
  }
  return 0;
};

const report: Handler = async (producer, argv, io) => {
  const { locateRun } = await import('./run-state.ts');
  const { formatReport, readReport } = await import('./report.ts');
  const run = await locateRun(producer, argv.run as string);
  const r = await readReport(run);
  if (!r) {
    io.err(`run ${run.spec.runId} has no report yet (it is written when every shard is done); see diffq status ${run.spec.runId}\n`);
    return 1;
  }
  if (argv.json) json(io, r);
  else io.out(`${formatReport(r, run.store.url)}\n`);
  return 0;
};

const runs: Handler = async (producer, argv, io) => {
  const entries = await producer.runEntries();
  if (argv.json) {
    json(io, entries);
    return 0;
  }
  if (entries.length === 0) io.out('no runs (launch one with diffq launch)\n');
  for (const e of entries)
    io.out(`${e.runId}  ${e.launchedAt}  model ${e.modelId}  ${e.seedCount} seeds / ${e.shards} shards  ${e.storeUrl}\n`);
  return 0;
};

const exporter: Handler = async (producer, argv, io) => {
  const { startExporter } = await import('./exporter.ts');
  producer.keepConnected((line) => io.err(`diffq exporter: ${line}\n`));
  const server = await startExporter(producer, argv.port as number, argv.host as string);
  io.err(`diffq exporter: /metrics and /healthz on ${argv.host}:${server.port}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await server.close();
  return 0;
};

const workers: Handler = async (producer, argv, io) => {
  const { formatWorkers, liveWorkers } = await import('./workers.ts');
  const fleet = await liveWorkers(await producer.redis(), producer.prefix);
  if (argv.json) json(io, fleet);
  else io.out(`${formatWorkers(fleet)}\n`);
  return 0;
};

const dashboard: Handler = async (producer, argv, io) => {
  const { checkToken } = await import('./dashboard/action-guard.ts');
  const { startDashboard } = await import('./dashboard/server.ts');
  const { readFileSync } = await import('node:fs');
  const port = argv.port as number;
  if (!(Number.isInteger(port) && port >= 0 && port < 65536))
    throw new UsageError([`--port is ${port}; accepted: an integer from 0 to 65535`]);
  if (argv.token !== undefined && argv.tokenFile !== undefined)
    throw new UsageError([
      '--token and --token-file exclude each other; give the token once (better: --token-file or DIFFQ_DASHBOARD_TOKEN)',
    ]);
  let token: string | undefined;
  let intervalMs: number;
  try {
    let given = (argv.token as string | undefined) ?? process.env.DIFFQ_DASHBOARD_TOKEN;
    if (argv.tokenFile !== undefined) {
      try {
        given = readFileSync(argv.tokenFile as string, 'utf8').trim();
      } catch (error) {
        throw new Error(
          `--token-file ${argv.tokenFile}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
        );
      }
    }
    // Read here rather than as the flag's default, which --help would print.
    token = checkToken(given);
    intervalMs = parseDuration(argv.interval as string, { flag: 'interval', bareUnit: 's', minMs: 200, maxMs: 60_000 }).ms;
  } catch (error) {
    throw new UsageError([(error as Error).message]);
  }
  const host = argv.host as string;
  if (argv.token !== undefined)
    io.err(
      'diffq dashboard: warning: a token given as --token is visible to every user of this machine (ps); prefer DIFFQ_DASHBOARD_TOKEN or --token-file\n',
    );
  if (!token && !/^(127\.|::1$|localhost$|\[::1\]$)/.test(host))
    io.err(
      `diffq dashboard: warning: bound to ${host} without a token: whoever reaches this port reads every run, worker and queue (read-only); bind to 127.0.0.1 behind an authenticating proxy, or give a token\n`,
    );
  producer.keepConnected((line) => io.err(`diffq dashboard: ${line}\n`));
  const server = await startDashboard(producer, {
    port,
    host,
    token,
    intervalMs,
    allowedHosts: String(argv.allowedHost ?? '')
      .split(',')
      .map((h) => h.trim())
      .filter(Boolean),
  });
  io.err(
    `diffq dashboard: ${server.url}/ (also /queues, /metrics, /healthz); ${token ? 'actions need the token (sign in at /login)' : 'read-only: give DIFFQ_DASHBOARD_TOKEN or --token-file to enable actions'}\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await server.close();
  return 0;
};

const demo: Handler = async (producer, argv, io) => {
  const { runDemo, MAX_DEMO_WORKERS } = await import('./demo.ts');
  const workers = argv.workers as number;
  if (!(Number.isInteger(workers) && workers >= 1 && workers <= MAX_DEMO_WORKERS)) {
    throw new UsageError([`--workers is ${argv.workers}; accepted: an integer from 1 to ${MAX_DEMO_WORKERS}`]);
  }
  return runDemo(producer, {
    workers,
    model: argv.model as string | undefined,
    seeds: String(argv.seeds),
    sampler: argv.sampler as DemoOptions['sampler'],
    steps: argv.steps as number,
    guidanceScale: argv.guidanceScale as number,
    batchSize: argv.batchSize as number,
    engine: argv.engine as 'auto' | 'onnx' | 'tfjs',
    write: io.out,
    tty: io.tty,
    redisServer: argv.redisServer as string,
  });
};

const benchModel: Handler = async (_producer, argv, io) => {
  const problems = (['batch', 'repeat'] as const)
    .filter((flag) => !(Number.isInteger(argv[flag]) && (argv[flag] as number) >= 1))
    .map((flag) => `--${flag} is ${argv[flag]}; accepted: an integer ≥ 1`);
  if (problems.length > 0) throw new UsageError(problems);
  const { fetchModel } = await import('@diffq/storage');
  const local = await fetchModel(argv.model as string).catch((error: Error) => {
    throw new UsageError([error.message]);
  });
  const { benchModel } = await import('@diffq/onnx');
  const r = await benchModel({
    modelDir: local.dir,
    batch: argv.batch as number,
    engine: argv.engine as 'auto' | 'onnx' | 'tfjs',
    repeat: argv.repeat as number,
    provider: argv.onnxProvider as ProviderChoice,
  });
  if (argv.json) json(io, { model: argv.model, ...r });
  else
    io.out(
      `${argv.model}: ${r.medianMs.toFixed(1)} ms per forward of batch ${r.batch} (median of ${r.timesMs.length} after warm-up) on ${r.engine} (${r.provider})\n  ${r.why}\n`,
    );
  return 0;
};

const fid: Handler = async (producer, argv, io) => {
  const { fidBetween, formatFid } = await import('./fid.ts');
  const r = await fidBetween(argv.a as string, argv.b as string, {
    producer,
    features: argv.features as string | undefined,
    ...networkChoice(argv),
  });
  for (const warning of r.warnings) io.err(`diffq fid: warning: ${warning}\n`);
  if (argv.json) json(io, r);
  else io.out(`${formatFid(r)}\n`);
  return 0;
};

const refStats: Handler = async (_producer, argv, io) => {
  const { refStats } = await import('./ref-stats.ts');
  const r = await refStats({
    data: argv.data as string,
    features: argv.features as string,
    out: argv.out as string,
    sfid: argv.sfid as boolean,
    pr: argv.pr as boolean,
    ...networkChoice(argv),
  });
  for (const warning of r.warnings) io.err(`diffq ref-stats: warning: ${warning}\n`);
  if (argv.json) json(io, r);
  else
    io.out(
      `${[
        `wrote ${r.out}: mu [${r.dim}], sigma [${r.dim}, ${r.dim}]${r.spatialDim ? `, mu_s/sigma_s [${r.spatialDim}]` : ''}${r.featureRows ? `, ${r.featureRows} feature rows` : ''}, preprocess ${r.preprocess ?? 'not recorded'}`,
        r.statistics === 'kept'
          ? `  statistics kept as ${r.data} holds them${r.samples > 0 ? `; feature rows from its ${r.samples} images` : ''}`
          : `  statistics of ${r.samples} images of ${r.data}`,
        ...(r.rowsChosen ? [`  feature rows: ${r.rowsChosen}`] : []),
        `  feature network ${r.network}`,
      ].join('\n')}\n`,
    );
  return 0;
};

/** --preprocess and --dims as given; fid.ts checks them (it loads the networks package, which this file must not). */
function networkChoice(argv: Record<string, unknown>): FeatureNetworkChoice {
  return {
    ...(argv.preprocess === undefined ? {} : { preprocess: String(argv.preprocess) }),
    ...(argv.dims === undefined ? {} : { dims: argv.dims as number }),
  };
}

/** The flags that choose how `fid` and `ref-stats` open the feature network. */
function networkFlags<T>(y: Argv<T>) {
  return y
    .option('preprocess', {
      type: 'string',
      describe: "fid-inception-v3: tf1 (the TF graph of guided-diffusion's reference batches) or pytorch-fid (default: model.json)",
    })
    .option('dims', {
      type: 'number',
      describe: 'fid-inception-v3: features of block 64, 192, 768 or 2048 (pool3, the default), as pytorch-fid --dims',
    });
}

function runArg<T>(y: Argv<T>) {
  return y
    .positional('run', { type: 'string', demandOption: true, describe: 'run id' })
    .option('json', { type: 'boolean', default: false, describe: 'machine-readable output' });
}

export async function main(args: string[], io: Io = processIo): Promise<number> {
  let chosen: { handler: Handler; argv: Record<string, unknown> } | undefined;
  const pick = (handler: Handler) => (argv: Record<string, unknown>) => {
    chosen = { handler, argv };
  };
  let sources: SettingSources;
  try {
    sources = new SettingSources(args);
  } catch (error) {
    io.err(`diffq: ${(error as Error).message}\n`);
    return 2;
  }
  const parser = withSettings(yargs(args), sources)
    .scriptName('diffq')
    .usage('$0 <command> [options]\n\nLaunch diffusion sampling runs on a fleet of BullMQ workers and follow them.')
    .command(
      'launch',
      'validate a run, write its manifest, enqueue its shards; prints the run id',
      (y) =>
        y
          .option('model', {
            type: 'string',
            demandOption: true,
            describe: 'model directory (model.json + weights.safetensors): a path or s3:// URI',
          })
          .option('model-id', {
            type: 'string',
            describe: 'queue name suffix (default: model-<12 hex of the weights sha256>); workers must use the same',
          })
          .option('seeds', { type: 'string', describe: 'seeds as EDM writes them: 0-49999, 1,2,5-10' })
          .option('run-id', {
            type: 'string',
            describe: 'run id (default: run-<date>-<time>-<hex>); launching the same id again adds nothing',
          })
          .option('sampler', { type: 'string', describe: 'ddpm | ddim | dpm++2m | dpm++3m | unipc (default ddpm)' })
          .option('steps', {
            type: 'number',
            describe: 'ddpm/ddim: sampling steps, evenly spaced (same as --respacing N); ODE solvers: solver steps (default 20)',
          })
          .option('respacing', { type: 'string', describe: 'guided-diffusion timestep_respacing: "250", "10,15,20" or "ddim50"' })
          .option('eta', { type: 'number', describe: 'DDIM eta, 0 (deterministic) to 1; ddim only' })
          .option('skip-type', {
            type: 'string',
            describe: 'ODE solvers: time grid time_uniform | logSNR | time_quadratic (default time_uniform)',
          })
          .option('unipc-variant', { type: 'string', describe: 'unipc: B(h) variant bh1 | bh2 (default bh2)' })
          .option('unipc-order', { type: 'number', describe: 'unipc: multistep order 1, 2 or 3 (default 2)' })
          .option('denoise-to-zero', { type: 'boolean', describe: 'ODE solvers: one more evaluation at t_0, returning its x̂_0' })
          .option('dynamic-threshold', {
            type: 'number',
            describe: 'ODE solvers: dynamic thresholding of x̂_0 at this quantile, e.g. 0.995',
          })
          .option('dynamic-threshold-max', { type: 'number', describe: 'ODE solvers: the threshold floor (default 1)' })
          .option('clip-denoised', {
            type: 'boolean',
            describe:
              'clip every x̂₀ to [−1, 1], after any dynamic threshold (default: on for pixel models, off for latent ones; --no-clip-denoised turns it off)',
          })
          .option('guidance-scale', {
            type: 'number',
            describe: 'classifier-free guidance weight w ≥ 0 (class-conditional model with a null label)',
          })
          .option('guided-channels', {
            type: 'string',
            describe: "latent models: the ε channels classifier-free guidance combines, 3 (DiT's forward_with_cfg, the default) or all",
          })
          .option('classifier', { type: 'string', describe: 'noisy classifier directory for classifier guidance' })
          .option('classifier-scale', { type: 'number', describe: 'classifier guidance scale s > 0' })
          .option('labels', {
            type: 'string',
            describe: 'random | balanced | <class index k> (class-conditional or classifier-guided runs)',
          })
          .option('shard-size', { type: 'number', describe: 'seeds per shard job, 1 to 65536 (default 256)' })
          .option('format', { type: 'string', describe: 'npz | png | both: npz shards, plus one PNG per seed with png/both (default npz)' })
          .option('priority', { type: 'number', describe: `BullMQ priority, 0 (none) or 1 (first) to ${MAX_PRIORITY}` })
          .option('stats', {
            type: 'string',
            describe: 'evaluation statistics written to report.json: fid,sfid,is,pr,accuracy (comma-separated)',
          })
          .option('features', {
            type: 'string',
            describe: 'feature network directory or s3:// URI for --stats (default: the model.json evaluation block)',
          })
          .option('ref', {
            type: 'string',
            describe: 'reference statistics for fid/sfid/pr: a stats .npz (path or s3://) or the id of a finished run',
          })
          .option('json', { type: 'boolean', default: false, describe: 'machine-readable output' }),
      pick(launch),
    )
    .command('status <run>', 'shards done/active/waiting/failed, samples, throughput, ETA', (y) => runArg(y), pick(status))
    .command(
      'watch <run>',
      'progress bar with live throughput until the run ends',
      (y) => runArg(y).option('interval', { type: 'string', default: '1s', describe: 'time between updates, e.g. 1s or 500ms' }),
      pick(watch),
    )
    .command('cancel <run>', 'remove queued shards, stop running ones; stored shards are kept', (y) => runArg(y), pick(cancel))
    .command(
      'resume <run>',
      're-enqueue exactly the shards the store lacks (also after Redis lost everything)',
      (y) => runArg(y).option('verify', { type: 'boolean', default: false, describe: 'check every stored npz against its sha256 first' }),
      pick(resume),
    )
    .command('report <run>', 'the run report written by the finalizer', (y) => runArg(y), pick(report))
    .command(
      'fid <a> <b>',
      'Fréchet distance between two of: a run id, an npz of uint8 images, a folder of PNGs, a stats npz',
      (y) =>
        networkFlags(y)
          .positional('a', { type: 'string', demandOption: true, describe: 'run id, stats or images .npz (path or s3://), or PNG folder' })
          .positional('b', { type: 'string', demandOption: true, describe: 'the same kinds as a' })
          .option('features', {
            type: 'string',
            describe: 'feature network directory or s3:// URI, for images (and runs without features)',
          })
          .option('json', { type: 'boolean', default: false, describe: 'one JSON object; its fid field is the distance' }),
      pick(fid),
    )
    .command(
      'ref-stats',
      'reference statistics (mu, sigma as pytorch-fid stores them) of a data set through a feature network',
      (y) =>
        networkFlags(y)
          .option('data', {
            type: 'string',
            demandOption: true,
            describe: 'npz of uint8 images (arr_0 NHWC), a folder of PNGs, mnist-heldout or mnist-train',
          })
          .option('features', { type: 'string', demandOption: true, describe: 'feature network directory or s3:// URI' })
          .option('out', { type: 'string', demandOption: true, describe: 'stats .npz to write' })
          .option('sfid', { type: 'boolean', default: false, describe: 'also mu_s, sigma_s of the spatial features (sFID)' })
          .option('pr', {
            type: 'boolean',
            default: false,
            describe: 'also 10,000 feature rows (evenly spaced over larger sets), for precision/recall and KID',
          })
          .option('json', { type: 'boolean', default: false, describe: 'machine-readable output' }),
      pick(refStats),
    )
    .command('runs', 'runs launched on this Redis (prefix)', (y) => y.option('json', { type: 'boolean', default: false }), pick(runs))
    .command(
      'exporter',
      'serve queue depth and run progress for Prometheus',
      (y) =>
        y
          .option('port', { type: 'number', default: 9465, describe: 'port of /metrics and /healthz' })
          .option('host', { type: 'string', default: '0.0.0.0' }),
      pick(exporter),
    )
    .command(
      'workers',
      'live workers from their heartbeats: model, engine, batch size, samples/s, shard, last seen',
      (y) => y.option('json', { type: 'boolean', default: false, describe: 'machine-readable output' }),
      pick(workers),
    )
    .command(
      'dashboard',
      'web dashboard of runs and workers, with bull-board at /queues, /metrics and /healthz',
      (y) =>
        y
          .option('port', { type: 'number', default: 3000, describe: 'port of the dashboard (0 picks a free one)' })
          .option('host', { type: 'string', default: '127.0.0.1', describe: 'address to bind; 0.0.0.0 shows it to the network' })
          .option('token', {
            type: 'string',
            describe:
              'enables actions (retry, clean, delete, cancel) for requests that carry it, at least 16 characters; visible to other users in ps: prefer the environment variable DIFFQ_DASHBOARD_TOKEN or --token-file. Without a token the dashboard is read-only',
          })
          .option('token-file', {
            type: 'string',
            describe:
              'file holding the token (surrounding whitespace ignored; e.g. a mounted secret): the token stays out of ps and the shell history',
          })
          .option('allowed-host', {
            type: 'string',
            describe:
              'host names to answer for besides the bound address, comma-separated (the public name of a reverse proxy); other Host headers are refused (DNS rebinding)',
          })
          .option('interval', { type: 'string', default: '2s', describe: 'time between live updates, e.g. 2s or 500ms' }),
      pick(dashboard),
    )
    .command(
      'demo',
      'launch a small run of the shipped MNIST model, sample it in-process, print the report (npm start)',
      (y) =>
        y
          .option('model', { type: 'string', describe: 'model directory (default: models/mnist of this repository)' })
          .option('seeds', { type: 'string', default: '0-99' })
          .option('sampler', { choices: SAMPLER_KINDS, default: DEMO_SAMPLER.sampler })
          .option('steps', { type: 'number', default: DEMO_SAMPLER.steps })
          .option('guidance-scale', { type: 'number', default: 3, describe: 'classifier-free guidance w, for a model with a null label' })
          .option('batch-size', { type: 'number', default: 25 })
          .option('workers', { type: 'number', default: 2, describe: 'in-process workers sharing the run (one per GPU on a GPU machine)' })
          .option('engine', { choices: ['auto', 'onnx', 'tfjs'], default: 'auto' })
          .option('redis-server', {
            type: 'string',
            default: 'redis-server',
            describe: 'program started as a private Redis when nothing answers at a loopback --redis',
          }),
      pick(demo),
    )
    .command(
      'bench-model',
      'time one denoiser forward pass of a model directory: median ms after warm-up, engine and provider',
      (y) =>
        y
          .option('model', {
            type: 'string',
            demandOption: true,
            describe: 'model directory (model.json + weights.safetensors) or s3:// URI',
          })
          .option('batch', { type: 'number', default: 16, describe: 'samples per forward pass' })
          .option('engine', { choices: ['auto', 'onnx', 'tfjs'], default: 'auto', describe: 'denoiser engine' })
          .option('onnx-provider', {
            alias: 'provider',
            choices: PROVIDER_CHOICES,
            default: 'cpu',
            describe: 'onnx execution provider (auto: cuda, then webgpu, then cpu)',
          })
          .option('repeat', { type: 'number', default: 10, describe: 'timed forward passes (the median is reported)' })
          .option('json', { type: 'boolean', default: false, describe: 'machine-readable output' }),
      pick(benchModel),
    )
    .demandCommand(
      1,
      'give a command: launch, status, watch, cancel, resume, report, runs, workers, exporter, dashboard, demo or bench-model',
    )
    .strict()
    .help()
    .exitProcess(false)
    .fail((message, error) => {
      throw error ?? new UsageError([message]);
    });

  let settings: Settings;
  try {
    const argv = await parser.parseAsync();
    if (!chosen) return 0; // --help or --version printed
    sources.assertNoUnknownKeys();
    checkRedisUrl(argv.redis as string);
    settings = settingsFrom(argv as Parameters<typeof settingsFrom>[0]);
  } catch (error) {
    io.err(`diffq: ${(error as Error).message}\n`);
    return 2;
  }
  const producer = new Producer(settings);
  try {
    return await chosen.handler(producer, chosen.argv, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`diffq ${args[0]}: ${error.message}\n`);
      return 2;
    }
    io.err(`diffq ${args[0]}: ${(error as Error).message}\n`);
    return 1;
  } finally {
    await producer.close();
  }
}
