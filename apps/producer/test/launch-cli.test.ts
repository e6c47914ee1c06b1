import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { FORBIDDEN, forbidImports } from '../../../test/fixtures/forbid-imports.ts';
import { writeRandomModel } from '../../../test/fixtures/random-model.ts';
import { testRedisUrl } from '../../../test/fixtures/test-redis.ts';
import { buildCli } from '../scripts/build-cli.ts';

const REDIS_URL = testRedisUrl(6);
const BIN = join(import.meta.dirname, '..', 'bin', 'diffq.js');

/** `diffq <args>` as its own process, as a user runs it; resolves with its exit code and output. */
function diffq(
  args: string[],
  nodeFlags: string[] = [],
  from: 'sources' | 'bundle' = 'sources',
): Promise<{ code: number | null; out: string; err: string; ms: number }> {
  const start = performance.now();
  const child = spawn(process.execPath, [...nodeFlags, BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DIFFQ_FROM_SOURCE: from === 'sources' ? '1' : '0' },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, out, err, ms: performance.now() - start })));
}

describe('diffq launch as a fresh process (Redis db 6)', () => {
  let redis: Redis;
  let dir: string;
  let model: string;
  let global: string[];

  before(async () => {
    redis = new Redis(REDIS_URL);
    await redis.flushdb();
    dir = mkdtempSync(join(tmpdir(), 'diffq-launch-cli-'));
    model = await writeRandomModel(join(dir, 'model'));
    global = ['--redis', REDIS_URL, '--prefix', 'launch-cli', '--store', `file://${join(dir, 'runs')}`];
  });
  after(async () => {
    await redis.flushdb();
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  it('launches 50,000 seeds without loading tfjs, onnxruntime or the AWS SDK', async (t) => {
    const forbidden = forbidImports(dir, ['@tensorflow/', 'onnxruntime', '@aws-sdk/']);
    const run = await diffq(
      ['launch', ...global, '--model', model, '--seeds', '0-49999', '--steps', '50', '--run-id', 'big', '--json'],
      forbidden,
    );
    assert.equal(run.code, 0, run.err);
    const result = JSON.parse(run.out);
    assert.deepEqual({ shards: result.shards, added: result.added }, { shards: 196, added: 197 });
    assert.equal(await redis.hexists('launch-cli:runs', 'big'), 1);
    t.diagnostic(`diffq launch of 50,000 seeds: ${run.ms.toFixed(0)} ms wall, process start to exit`);
  });

  it('runs from the bundle of npm run build:cli, without the TypeScript loader or the heavy libraries', async () => {
    await buildCli();
    const forbidden = forbidImports(dir, ['tsx', '@tensorflow/', 'onnxruntime', '@aws-sdk/']);
    const run = await diffq(
      ['launch', ...global, '--model', model, '--seeds', '0-49999', '--steps', '50', '--run-id', 'bundled', '--json'],
      forbidden,
      'bundle',
    );
    assert.equal(run.code, 0, run.err);
    assert.deepEqual(JSON.parse(run.out).added, 197);
    assert.equal(await redis.hexists('launch-cli:runs', 'bundled'), 1);
    const fromSources = await diffq(['--help'], forbidden, 'sources');
    assert.equal(fromSources.code, 1, 'the sources need tsx, which is forbidden here');
    assert.match(fromSources.err, new RegExp(`${FORBIDDEN}: tsx`));
  });

  it('fails, naming the import, when a command does load a forbidden library', async () => {
    const forbidden = forbidImports(dir, ['@diffq/diffusion/config']);
    const run = await diffq(['launch', ...global, '--model', model, '--seeds', '0-9', '--run-id', 'small'], forbidden);
    assert.equal(run.code, 1);
    assert.match(run.err, new RegExp(`${FORBIDDEN}: @diffq/diffusion/config`));
  });
});
