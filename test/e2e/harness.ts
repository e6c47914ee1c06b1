/**
 * What the end-to-end tests share: an isolated Redis database per test file (FLUSHDB of that
 * database only, never FLUSHALL, so test files can run side by side on one Redis), a small model,
 * worker processes, the `diffq` CLI in-process, and readers of what a run stored.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { keys, type ShardMeta } from '@diffq/contract';
import { main as diffq, writeDemoModel } from '@diffq/producer';
import { type ObjectStore, readShardMeta, sha256Hex } from '@diffq/storage';
import { decodeNpz } from '@diffq/worker';
import { Redis } from 'ioredis';

export const REPO = resolve(import.meta.dirname, '..', '..');
const WORKER_BIN = join(REPO, 'apps', 'worker', 'bin', 'diffq-worker.js');

/**
 * Redis databases by test file. 0 is left to people and 6–7 to the apps' unit tests; each e2e file
 * owns one of 4–5 and 8–15, flushes it (FLUSHDB, never FLUSHALL) before and after, and uses its own
 * key prefix, so test files can run side by side on one Redis.
 */
export const E2E_DB = {
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

export interface TestEnv {
  db: number;
  prefix: string;
  redisUrl: string;
  redis: Redis;
  /** A scratch directory, removed by cleanup(). */
  dir: string;
  /** Global flags every diffq and diffq-worker call gets. */
  flags: string[];
  cleanup(): Promise<void>;
}

export async function testEnv(db: number, name: string): Promise<TestEnv> {
  const redisUrl = `redis://127.0.0.1:6379/${db}`;
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  await redis.flushdb();
  const dir = mkdtempSync(join(tmpdir(), `diffq-${name}-`));
  const prefix = `e2e-${name}`;
  return {
    db,
    prefix,
    redisUrl,
    redis,
    dir,
    flags: ['--redis', redisUrl, '--prefix', prefix],
    async cleanup() {
      await redis.flushdb();
      redis.disconnect();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The e2e model: 8×8 RGB, 32 channels, one res block, attention at 8, random weights. */
export async function smallModel(dir: string, options: { numClasses?: number | null } = {}): Promise<string> {
  return writeDemoModel(join(dir, options.numClasses ? `model-c${options.numClasses}` : 'model'), {
    numClasses: options.numClasses ?? null,
  });
}

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

/** Runs `diffq <args>` in this process (the same main() the bin calls). */
export async function runDiffq(args: string[]): Promise<CliResult> {
  let out = '';
  let err = '';
  const code = await diffq(args, { out: (t) => (out += t), err: (t) => (err += t), tty: false });
  return { code, out, err };
}

export interface WorkerProcess {
  child: ChildProcess;
  /** Everything it wrote to stderr so far. */
  log(): string;
  exited: Promise<number | null>;
}

/** Starts `diffq-worker` as its own process. */
export function spawnWorker(env: TestEnv, model: string, args: string[] = [], extraEnv: NodeJS.ProcessEnv = {}): WorkerProcess {
  const child = spawn(process.execPath, [WORKER_BIN, '--model', model, ...env.flags, ...args], {
    cwd: env.dir,
    env: { ...process.env, ...extraEnv },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    log += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, log: () => log, exited };
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
