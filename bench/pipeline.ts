/**
 * The whole path against the bare sampling loop of the same model, batch size and steps, in one
 * process: `pipeline efficiency` = bare samples/s ÷ pipeline samples/s' inverse, i.e. bare time ÷
 * pipeline time for the same seeds. The pipeline is launch (manifest, flow in Redis) → a worker
 * (startWorker, onnx, already warmed up) takes each shard → sampling loop → npz and PNGs →
 * features → file store → finalize (report.json with its statistics); it is timed from the launch
 * call to report.json on disk. The bare loop is generate() over the same seeds in micro-batches of
 * the same size, without features: what the fleet adds, features included, is what is measured.
 * The MNIST run asks for the statistics its model.json names (FID, IS and accuracy by the shipped
 * classifier); the CIFAR-size model has random weights and no feature network but Inception,
 * whose CPU cost (bench features) would measure Inception, not the pipeline.
 *
 * Each model's time per micro-batch step is then split into the network (onnxruntime's
 * session.run alone), the onnx engine's tensor copies around it (engine.forward − session.run),
 * the sampling loop's tfjs work between forwards (bare step − engine.forward: posterior, noise,
 * update; packages/diffusion/src/sampling), the feature network on the micro-batch's images (timed
 * alone, per step of the run) and the rest of the worker's path (pipeline − bare − features).
 *
 * Options: --rounds 2 (bare/pipeline pairs per model)  --models cifar,mnist  --format both|npz
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { drawableClasses, type RunReport } from '@diffq/contract';
import { createProcess, type DenoiserEngine, generate, labelsFor, parseDiffusionConfig, SeedNoiseSource } from '@diffq/diffusion';
import { readModelDirectory } from '@diffq/networks';
import { buildUNetOnnx, loadOrt, openFeatureNetwork, openModelEngine } from '@diffq/onnx';
import { startWorker } from '@diffq/worker';
import type * as tf from '@tensorflow/tfjs';
import { Redis } from 'ioredis';
import { launchRun } from '../apps/producer/src/launch.ts';
import { denoiserFacts } from '../apps/producer/src/model-facts.ts';
import { Producer } from '../apps/producer/src/producer.ts';
import { MNIST_MODEL, writeCifarSizeModel } from './bench-models.ts';
import { benchRedisUrl } from './bench-redis.ts';
import { loadLine, numberOption, QUICK, stringOption } from './options.ts';

const TARGET = 0.95;

interface Case {
  name: string;
  modelDir: string;
  batch: number;
  steps: number;
  samples: number;
  shardSize: number;
  /** --stats of the run (its feature network from the model's evaluation defaults), or none. */
  stats?: string;
  /** The feature network those statistics use, timed alone. */
  featuresDir?: string;
}

/** Times every forward of an engine. */
class TimedForwards implements DenoiserEngine {
  readonly name: string;
  readonly description: string;
  readonly provider: string;
  ms = 0;
  count = 0;
  constructor(private readonly inner: DenoiserEngine) {
    this.name = inner.name;
    this.description = inner.description;
    this.provider = inner.provider;
  }
  async forward(x: tf.Tensor4D, t: tf.Tensor1D, y?: tf.Tensor1D): Promise<tf.Tensor4D> {
    const start = performance.now();
    try {
      return await this.inner.forward(x, t, y);
    } finally {
      this.ms += performance.now() - start;
      this.count++;
    }
  }
  dispose(): void {
    this.inner.dispose();
  }
}

/** generate() over the seeds in micro-batches, as the worker's ShardSampler cuts them; returns ms. */
async function bareLoop(c: Case, engine: DenoiserEngine, seeds: number[]): Promise<number> {
  const directory = await readModelDirectory(c.modelDir);
  if (directory.architecture !== 'adm-unet') throw new Error(`${c.modelDir} is not a denoiser`);
  const { unet } = directory;
  const process = createProcess({ ...parseDiffusionConfig(directory.diffusion), timestepRespacing: String(c.steps) });
  const classes = drawableClasses({ numClasses: unet.numClasses, nullLabel: directory.nullLabel });
  const start = performance.now();
  for (let i = 0; i < seeds.length; i += c.batch) {
    const batch = seeds.slice(i, i + c.batch);
    await generate({
      engine,
      process,
      noise: new SeedNoiseSource(batch),
      shape: [batch.length, unet.inChannels, unet.imageSize, unet.imageSize],
      labels: classes === null ? undefined : labelsFor({ kind: 'random' }, batch, classes),
      sampler: { kind: 'ddpm', clipDenoised: true },
    });
  }
  return performance.now() - start;
}

/** Median ms of onnxruntime's session.run alone at the batch size, on the same graph and settings as the engine. */
async function sessionRunMs(c: Case, rounds: number): Promise<number> {
  const directory = await readModelDirectory(c.modelDir);
  if (directory.architecture !== 'adm-unet') throw new Error(`${c.modelDir} is not a denoiser`);
  const { unet } = directory;
  const ort = await loadOrt();
  const session = await ort.InferenceSession.create(buildUNetOnnx(unet, directory.weights), {
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    interOpNumThreads: 1,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
  const n = c.batch;
  const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {
    x: new ort.Tensor('float32', new Float32Array(n * unet.inChannels * unet.imageSize ** 2), [
      n,
      unet.inChannels,
      unet.imageSize,
      unet.imageSize,
    ]),
    t: new ort.Tensor('float32', new Float32Array(n).fill(500), [n]),
  };
  if (unet.numClasses !== null) feeds.y = new ort.Tensor('int64', new BigInt64Array(n), [n]);
  const times: number[] = [];
  try {
    await session.run(feeds);
    for (let r = 0; r < rounds; r++) {
      const start = performance.now();
      await session.run(feeds);
      times.push(performance.now() - start);
    }
  } finally {
    await session.release();
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}

/** Median ms of the feature network on one micro-batch of images, or 0 when the case asks no statistics. */
async function featuresMs(c: Case, rounds: number): Promise<number> {
  if (!c.featuresDir) return 0;
  const directory = await readModelDirectory(c.modelDir);
  if (directory.architecture !== 'adm-unet') throw new Error(`${c.modelDir} is not a denoiser`);
  const { unet } = directory;
  const network = await openFeatureNetwork(c.featuresDir);
  const shape = [c.batch, unet.imageSize, unet.imageSize, unet.inChannels] as const;
  const images = new Uint8Array(shape.reduce((a, b) => a * b, 1)).map((_, i) => (i * 37) % 256);
  const times: number[] = [];
  try {
    await network.extract(images, shape);
    for (let r = 0; r < rounds; r++) {
      const start = performance.now();
      await network.extract(images, shape);
      times.push(performance.now() - start);
    }
  } finally {
    network.dispose();
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}

/** Where one pipeline run's time went, in ms, from its report.json. */
interface RunParts {
  total: number;
  /** launchRun called → the first shard started sampling: manifest, flow, queue hand-out. */
  toFirstShard: number;
  /** The worker's phases, summed over shards (report.json timings.phaseSeconds). */
  phases: Record<string, number>;
  /** The last shard finished → report.json on disk: finalize (statistics, grid, report). */
  finalize: number;
}

async function pipelineRun(c: Case, producer: Producer, runId: string, storeDir: string, format: string, log: string[]): Promise<RunParts> {
  const start = performance.now();
  const launchedAt = Date.now();
  await launchRun(producer, {
    model: c.modelDir,
    seeds: `0-${c.samples - 1}`,
    runId,
    steps: c.steps,
    shardSize: c.shardSize,
    format,
    store: producer.settings.store,
    ...(c.stats ? { stats: c.stats } : {}),
  });
  const report = join(storeDir, runId, 'report.json');
  while (!existsSync(report)) {
    if (performance.now() - start > 900_000)
      throw new Error(`${runId}: no report.json after 15 min; the worker said: ${log.slice(-20).join(' | ')}`);
    await sleep(5);
  }
  const total = performance.now() - start;
  const finishedAt = Date.now();
  const { timings } = JSON.parse(readFileSync(report, 'utf8')) as RunReport;
  const phases = Object.fromEntries(Object.entries(timings.phaseSeconds).map(([k, v]) => [k, v * 1000]));
  return {
    total,
    toFirstShard: Date.parse(timings.firstShardStartedAt) - launchedAt,
    phases,
    finalize: finishedAt - Date.parse(timings.lastShardFinishedAt),
  };
}

async function benchCase(c: Case, rounds: number, format: string, dir: string): Promise<number> {
  const redisUrl = benchRedisUrl('pipeline');
  const redis = new Redis(redisUrl);
  await redis.flushdb();
  const prefix = `bench-pipeline-${c.name}`;
  const storeDir = join(dir, `runs-${c.name}`);
  const log: string[] = [];
  const worker = await startWorker({
    redis: { url: redisUrl },
    prefix,
    model: c.modelDir,
    engine: 'onnx',
    batchSize: c.batch,
    log: (line) => log.push(line),
  });
  const producer = new Producer({ redis: { url: redisUrl }, prefix, store: `file://${storeDir}` });
  const opened = await openModelEngine({ modelDir: c.modelDir, engine: 'onnx' });
  const engine = new TimedForwards(opened.engine);
  const seeds = Array.from({ length: c.samples }, (_, i) => i);
  if (c.shardSize % c.batch !== 0 || c.samples % c.shardSize !== 0) throw new Error(`${c.name}: shards must hold whole micro-batches`);
  const steps = (c.samples / c.batch) * c.steps;
  let bareMs = 0;
  let pipeMs = 0;
  const parts: RunParts[] = [];
  try {
    await bareLoop({ ...c, samples: c.batch }, engine, seeds.slice(0, c.batch)); // warm-up of the bench's own engine
    engine.ms = 0;
    engine.count = 0;
    for (let r = 0; r < rounds; r++) {
      bareMs += await bareLoop(c, engine, seeds);
      const run = await pipelineRun(c, producer, `${c.name}-${r}`, storeDir, format, log);
      parts.push(run);
      pipeMs += run.total;
    }
    const forwardMs = engine.ms / engine.count;
    const sessionMs = await sessionRunMs(c, QUICK ? 5 : 15);
    // The feature network runs once per micro-batch; spread over that micro-batch's steps.
    const featuresPerStep = (await featuresMs(c, QUICK ? 5 : 15)) / c.steps;
    const efficiency = bareMs / pipeMs;
    const perStep = (ms: number) => ms / rounds / steps;
    const withFeatures = c.stats ? `, statistics ${c.stats}` : ', no statistics';
    console.log(
      `pipeline: ${c.name}: ${c.samples} samples, batch ${c.batch}, ${c.steps} steps, shards of ${c.shardSize}, format ${format}${withFeatures}, ${rounds} round(s): bare ${((c.samples * rounds) / (bareMs / 1000)).toFixed(1)} samples/s, pipeline ${((c.samples * rounds) / (pipeMs / 1000)).toFixed(1)} samples/s`,
    );
    console.log(
      `pipeline: ${c.name}: per micro-batch step: network (session.run) ${sessionMs.toFixed(1)} ms, onnx engine copies ${(forwardMs - sessionMs).toFixed(1)} ms, sampling-loop tfjs work ${(perStep(bareMs) - forwardMs).toFixed(1)} ms, features ${featuresPerStep.toFixed(1)} ms, rest of the worker path ${(perStep(pipeMs) - perStep(bareMs) - featuresPerStep).toFixed(1)} ms; total ${perStep(pipeMs).toFixed(1)} ms`,
    );
    const mean = (pick: (p: RunParts) => number) => parts.reduce((sum, p) => sum + pick(p), 0) / parts.length;
    const phase = (name: string) => mean((p) => p.phases[name] ?? 0);
    console.log(
      `pipeline: ${c.name}: one run of ${(mean((p) => p.total) / 1000).toFixed(2)} s against the bare loop's ${(bareMs / rounds / 1000).toFixed(2)} s: ` +
        `launch → first shard sampling ${mean((p) => p.toFirstShard).toFixed(0)} ms, worker sampling ${phase('sample').toFixed(0)} ms ` +
        `(${(phase('sample') - bareMs / rounds).toFixed(0)} beyond the bare loop), features ${phase('features').toFixed(0)} ms, encode ${phase('encode').toFixed(0)} ms, ` +
        `write ${phase('write').toFixed(0)} ms, last shard → report.json ${mean((p) => p.finalize).toFixed(0)} ms`,
    );
    console.log(
      `pipeline efficiency: ${efficiency.toFixed(3)} (${c.name}; target ≥ ${TARGET}: ${efficiency >= TARGET ? 'met' : 'NOT met'}); network share of the pipeline's time ${((sessionMs * steps * rounds) / pipeMs).toFixed(3)}`,
    );
    return efficiency;
  } finally {
    engine.dispose();
    await producer.close();
    await worker.close('now');
    await redis.flushdb();
    redis.disconnect();
  }
}

export async function benchPipeline(): Promise<void> {
  const rounds = numberOption('rounds', 2, 1);
  const format = stringOption('format', 'both');
  const names = stringOption('models', 'cifar,mnist').split(',');
  const dir = mkdtempSync(join(tmpdir(), 'diffq-bench-pipeline-'));
  try {
    const cases: Case[] = [];
    if (names.includes('cifar'))
      cases.push({
        name: 'cifar-size',
        modelDir: await writeCifarSizeModel(join(dir, 'cifar-size')),
        batch: 32,
        steps: QUICK ? 5 : 10,
        samples: QUICK ? 64 : 128,
        shardSize: 64,
      });
    if (names.includes('mnist'))
      cases.push({
        name: 'mnist',
        modelDir: MNIST_MODEL,
        batch: 64,
        steps: QUICK ? 20 : 50,
        samples: QUICK ? 256 : 512,
        shardSize: 256,
        stats: 'fid,is,accuracy',
        featuresDir: (await denoiserFacts(MNIST_MODEL)).evaluation?.features,
      });
    for (const c of cases) await benchCase(c, rounds, format, dir);
    console.log(`pipeline: ${loadLine()}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
