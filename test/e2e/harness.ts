/**
 * What the end-to-end tests share: an isolated Redis database per test file (FLUSHDB of that
 * database only, never FLUSHALL, so test files can run side by side on one Redis), a small model,
 * `diffq launch`, worker processes and in-process workers, and readers of what a run stored.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before } from 'node:test';
import { decodeNpz } from '@diffq/codecs';
import { keys, type ShardMeta, sampleQueueName } from '@diffq/contract';
import { defaultModelId, type RedisSettings } from '@diffq/queue';
import { fileDigest, type ObjectStore, openStore, readShardMeta, sha256Hex } from '@diffq/storage';
import { type RunningWorker, startWorker, type WorkerSettings } from '@diffq/worker';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { type S3rverProcess, startS3rver } from '../../packages/storage/test/s3rver-fixture.ts';
import { writeRandomModel } from '../fixtures/random-model.ts';
import { type CliResult, runDiffq } from '../fixtures/run-diffq.ts';
import { testRedisUrl } from '../fixtures/test-redis.ts';

export { type CliResult, runDiffq } from '../fixtures/run-diffq.ts';

export const REPO = resolve(import.meta.dirname, '..', '..');
const WORKER_BIN = join(REPO, 'apps', 'worker', 'bin', 'diffq-worker.js');

/**
 * Redis databases by test file. 0 is left to people and 6–7 to the apps' unit tests; each e2e file
 * owns one of 1–5 and 8–15, flushes it (FLUSHDB, never FLUSHALL) before and after, and uses its own
 * key prefix, so test files can run side by side on one Redis.
 */
export const E2E_DB = {
  budget: 1,
  precision: 2,
  statistics: 3,
  guided: 4,
  transient: 5,
  shutdown: 8,
  tls: 9,
  pipeline: 10,
  crash: 11,
  flush: 12,
  s3: 13,
  malformed: 14,
  memory: 15,
} as const;

/** Short locks, so a dead worker's shard comes back in seconds instead of ~90 s. */
export const FAST_LOCKS = ['--lock-duration', '3s', '--stalled-interval', '1s'];

/** The e2e model: 8×8 RGB, 32 channels, one res block, attention at 8, random weights. */
export async function smallModel(dir: string, options: { numClasses?: number | null } = {}): Promise<string> {
  return writeRandomModel(join(dir, options.numClasses ? `model-c${options.numClasses}` : 'model'), {
    numClasses: options.numClasses ?? null,
  });
}

export interface LaunchOptions {
  runId: string;
  seeds: string;
  shardSize?: number;
  /** Sampling steps (default 4). */
  steps?: number;
  /** Default: the env's small model. */
  model?: string;
  /** Default: the env's file store. */
  store?: string;
  /** Other launch flags, e.g. ['--guidance-scale', '2']. */
  flags?: string[];
  /** Redis and prefix flags (default: the env's). */
  global?: string[];
}

export interface WorkerOptions {
  batchSize: number;
  /** --worker-id */
  id?: string;
  exitWhenIdle?: boolean;
  /** FAST_LOCKS */
  fastLocks?: boolean;
  /** Other diffq-worker flags. */
  args?: string[];
  /** Added to the worker's environment. */
  env?: NodeJS.ProcessEnv;
  /** Default: the env's small model. */
  model?: string;
}

export interface WorkerProcess {
  child: ChildProcess;
  /** Everything it wrote to stderr so far. */
  log(): string;
  exited: Promise<number | null>;
}

/**
 * One test file's world: its Redis database and key prefix, a scratch directory with the small
 * model and a file store, and whatever queues, stores and servers its tests open (closed by
 * cleanup). Made by useTestEnv, which sets it up before the file's tests and cleans up after.
 */
export class TestEnv {
  readonly db: number;
  readonly prefix: string;
  readonly redisUrl: string;
  /** Global flags every diffq and diffq-worker call gets. */
  readonly flags: string[];
  redis!: Redis;
  /** A scratch directory, removed by cleanup(). */
  dir!: string;
  /** file://<dir>/runs */
  storeUrl!: string;
  /** The small unconditional model, in dir. */
  model!: string;
  private readonly closers: (() => unknown)[] = [];
  private readonly queues = new Map<string, Queue>();

  constructor(readonly name: keyof typeof E2E_DB) {
    this.db = E2E_DB[name];
    this.prefix = `e2e-${name}`;
    this.redisUrl = testRedisUrl(this.db);
    this.flags = ['--redis', this.redisUrl, '--prefix', this.prefix];
  }

  async setUp(): Promise<void> {
    this.redis = new Redis(this.redisUrl, { maxRetriesPerRequest: 1 });
    await this.redis.flushdb();
    this.dir = mkdtempSync(join(tmpdir(), `diffq-${this.name}-`));
    this.storeUrl = `file://${join(this.dir, 'runs')}`;
    this.model = await smallModel(this.dir);
  }

  /** Runs fn at cleanup (in reverse order), before the database is flushed. */
  onCleanup(fn: () => unknown): void {
    this.closers.push(fn);
  }

  async cleanup(): Promise<void> {
    for (const close of this.closers.reverse()) await close();
    await this.redis.flushdb();
    this.redis.disconnect();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** `diffq launch` of a run; the test fails unless it succeeds. */
  async launch(o: LaunchOptions): Promise<CliResult> {
    const result = await runDiffq([
      'launch',
      ...(o.global ?? this.flags),
      '--store',
      o.store ?? this.storeUrl,
      '--model',
      o.model ?? this.model,
      '--seeds',
      o.seeds,
      ...(o.shardSize === undefined ? [] : ['--shard-size', String(o.shardSize)]),
      '--steps',
      String(o.steps ?? 4),
      '--run-id',
      o.runId,
      ...(o.flags ?? []),
    ]);
    assert.equal(result.code, 0, result.err);
    return result;
  }

  /** A store, closed at cleanup (default: the env's file store). */
  store(url = this.storeUrl): ObjectStore {
    const store = openStore(url);
    this.onCleanup(() => store.close());
    return store;
  }

  /** A queue on the env's Redis and prefix, closed at cleanup. */
  queue(name: string): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      const opened = new Queue(name, { connection: this.redis, prefix: this.prefix });
      this.onCleanup(() => opened.close());
      this.queues.set(name, opened);
      queue = opened;
    }
    return queue;
  }

  /** The model's default id, as launch and the workers derive it from its weights. */
  async modelId(model = this.model): Promise<string> {
    return defaultModelId(await fileDigest(join(model, 'weights.safetensors')));
  }

  /** The queue `sample.<model id>` a model's shards go to. */
  async sampleQueue(model = this.model): Promise<Queue> {
    return this.queue(sampleQueueName(await this.modelId(model)));
  }

  /** Starts `diffq-worker` as its own process, one thread, with the env's flags. */
  spawnWorker(o: WorkerOptions): WorkerProcess {
    const args = [
      '--model',
      o.model ?? this.model,
      ...this.flags,
      '--batch-size',
      String(o.batchSize),
      '--threads',
      '1',
      ...(o.exitWhenIdle ? ['--exit-when-idle'] : []),
      ...(o.id === undefined ? [] : ['--worker-id', o.id]),
      ...(o.fastLocks ? FAST_LOCKS : []),
      ...(o.args ?? []),
    ];
    const child = spawn(process.execPath, [WORKER_BIN, ...args], {
      cwd: this.dir,
      env: { ...process.env, ...o.env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      log += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { child, log: () => log, exited };
  }

  /** One worker process per id, all with the same options. */
  spawnWorkers(ids: readonly string[], o: Omit<WorkerOptions, 'id'>): WorkerProcess[] {
    return ids.map((id) => this.spawnWorker({ ...o, id }));
  }

  /** A worker in this process, one thread, silent, on the env's Redis and prefix unless told otherwise. */
  startWorker(o: { batchSize: number } & Partial<WorkerSettings>): Promise<RunningWorker> {
    return startWorker({ redis: { url: this.redisUrl }, prefix: this.prefix, model: this.model, threads: 1, log: () => {}, ...o });
  }

  /** Samples what the queues hold with an in-process worker, until they are idle. */
  async sampleInProcess(o: { batchSize: number; model?: string; redis?: RedisSettings; prefix?: string }): Promise<void> {
    const worker = await this.startWorker({ ...o, exitWhenIdle: true });
    await worker.done;
  }

  /**
   * Starts s3rver with the bucket (stopped at cleanup) and points this process's S3 settings at
   * it; returns those settings, for worker processes.
   */
  async s3(bucket: string): Promise<{ server: S3rverProcess; env: NodeJS.ProcessEnv }> {
    const server = await startS3rver([bucket]);
    this.onCleanup(() => server.stop());
    const env = {
      DIFFQ_S3_ENDPOINT: server.endpoint,
      AWS_ACCESS_KEY_ID: server.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
      AWS_REGION: 'us-east-1',
    };
    Object.assign(process.env, env);
    return { server, env };
  }
}

/** The test file's TestEnv: set up before its tests, cleaned up after them. */
export function useTestEnv(name: keyof typeof E2E_DB): TestEnv {
  const env = new TestEnv(name);
  before(() => env.setUp());
  after(() => env.cleanup());
  return env;
}

/** Waits for the processes to exit; the test fails, showing their logs, unless every one exits 0. */
export async function assertExitClean(workers: readonly WorkerProcess[]): Promise<void> {
  const codes = await Promise.all(workers.map((w) => w.exited));
  assert.deepEqual(
    codes,
    workers.map(() => 0),
    workers.map((w) => w.log()).join('\n'),
  );
}

export async function waitFor(what: string, condition: () => Promise<boolean> | boolean, timeoutMs: number, pollMs = 250): Promise<void> {
  const start = Date.now();
  while (!(await condition())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

export interface StoredRun {
  metas: ShardMeta[];
  /** seed → its image bytes (uint8 HWC), from the npz shards. */
  images: Map<number, Uint8Array>;
  /** How many times each seed occurs across the stored shards. */
  occurrences: Map<number, number>;
}

/** Reads every stored shard of a run, checking each npz against its .json. */
export async function readStoredRun(store: ObjectStore, runId: string): Promise<StoredRun> {
  const listed = await store.list(keys.shards(runId));
  const indices = listed.filter((k) => k.endsWith('.json')).map((k) => Number(k.slice(keys.shards(runId).length, -'.json'.length)));
  const metas: ShardMeta[] = [];
  const images = new Map<number, Uint8Array>();
  const occurrences = new Map<number, number>();
  for (const index of indices.sort((a, b) => a - b)) {
    const meta = await readShardMeta(store, runId, index);
    if (!meta) throw new Error(`shard ${index}: .json vanished`);
    const npz = await store.get(keys.shardNpz(runId, index));
    if (!npz) throw new Error(`shard ${index}: .json without .npz`);
    if (sha256Hex(npz) !== meta.npzSha256) throw new Error(`shard ${index}: npz does not match its .json sha256`);
    const { arr_0, seeds } = decodeNpz(npz);
    const [n, h, w, c] = arr_0.shape;
    const size = h * w * c;
    const seedList = Array.from(seeds.data as BigInt64Array, Number);
    if (n !== seedList.length || seedList.some((s, i) => s !== meta.seeds[i]))
      throw new Error(`shard ${index}: npz seeds differ from its .json`);
    seedList.forEach((seed, i) => {
      images.set(seed, (arr_0.data as Uint8Array).slice(i * size, (i + 1) * size));
      occurrences.set(seed, (occurrences.get(seed) ?? 0) + 1);
    });
    metas.push(meta);
  }
  return { metas, images, occurrences };
}

/** Every seed from 0 to count − 1 is stored exactly once. */
export function assertEverySeedOnce(run: StoredRun, count: number): void {
  for (let seed = 0; seed < count; seed++)
    assert.equal(run.occurrences.get(seed), 1, `seed ${seed} occurs ${run.occurrences.get(seed) ?? 0} times`);
}

/** Every seed of the reference has the same image, byte for byte, in the other run. */
export function assertSameImages(reference: StoredRun, other: StoredRun, what: string): void {
  const differing = [...reference.images]
    .filter(([seed, image]) => Buffer.compare(image, other.images.get(seed) ?? new Uint8Array()) !== 0)
    .map(([seed]) => seed);
  assert.deepEqual(differing.slice(0, 10), [], `${differing.length} seeds differ between ${what}`);
}

/** Files whose names start with '.' (temporary files of interrupted writes) anywhere under dir. */
export function hiddenFiles(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.name.startsWith('.')) found.push(path);
      else if (entry.isDirectory()) walk(path);
    }
  };
  walk(dir);
  return found;
}
