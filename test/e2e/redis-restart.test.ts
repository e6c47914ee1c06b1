/**
 * `diffq dashboard` and `diffq exporter` outlive a Redis restart: Redis is killed with SIGKILL and
 * started again on the same port; both servers answer 503 while it is gone (without hanging), and
 * within seconds of its return serve /healthz, /api/fleet and the run's series on /metrics again.
 * Each logs one line when the connection is lost and one when it is back, and no stack trace.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RestartableRedis } from '../fixtures/restartable-redis.ts';
import { REPO, runDiffq, smallModel, waitFor } from './harness.ts';

const DIFFQ_BIN = join(REPO, 'apps', 'producer', 'bin', 'diffq.js');

interface Server {
  child: ChildProcess;
  url: string;
  log(): string;
}

async function startServer(args: string[], announce: RegExp): Promise<Server> {
  const child = spawn(process.execPath, [DIFFQ_BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    log += chunk.toString();
  });
  let url: string | undefined;
  await waitFor(
    `${args[0]} to listen`,
    async () => {
      if (child.exitCode !== null) assert.fail(`${args[0]} exited: ${log}`);
      url = announce.exec(log)?.[1];
      return url !== undefined;
    },
    30_000,
    100,
  );
  return { child, url: url as string, log: () => log };
}

/** Status and body of a GET that may not take more than 3 s. */
async function get(url: string): Promise<{ status: number; body: string }> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(3000) });
    return { status: response.status, body: await response.text() };
  } catch (error) {
    return { status: 0, body: String(error) };
  }
}

describe('long-running servers across a Redis restart', () => {
  const redis = new RestartableRedis();
  let dir: string;
  let dashboard: Server;
  let exporter: Server;
  let flags: string[];

  before(async () => {
    await redis.start();
    dir = mkdtempSync(join(tmpdir(), 'diffq-redis-restart-'));
    flags = ['--redis', redis.url, '--prefix', 'restart', '--store', `file://${join(dir, 'runs')}`];
    const model = await smallModel(dir);
    const launched = await runDiffq([
      'launch',
      ...flags,
      '--model',
      model,
      '--model-id',
      'restart-model',
      '--run-id',
      'r1',
      '--seeds',
      '0-7',
      '--shard-size',
      '4',
    ]);
    assert.equal(launched.code, 0, launched.err);
    dashboard = await startServer(['dashboard', ...flags, '--port', '0', '--interval', '500ms'], /diffq dashboard: (http:\/\/\S+?)\/ /);
    exporter = await startServer(['exporter', ...flags, '--port', '0', '--host', '127.0.0.1'], /on (127\.0\.0\.1:\d+)/);
    exporter.url = `http://${exporter.url}`;
  });
  after(async () => {
    for (const s of [dashboard, exporter]) s?.child.kill('SIGKILL');
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const healthy = async (): Promise<boolean> => {
    const [a, b, fleet, metrics] = await Promise.all([
      get(`${dashboard.url}/healthz`),
      get(`${exporter.url}/healthz`),
      get(`${dashboard.url}/api/fleet`),
      get(`${exporter.url}/metrics`),
    ]);
    return (
      a.status === 200 &&
      b.status === 200 &&
      fleet.status === 200 &&
      fleet.body.includes('"r1"') &&
      /diffq_queue_jobs\{queue="sample\.restart-model",state="waiting"\} 2/.test(metrics.body) &&
      /diffq_exporter_scrape_errors 0/.test(metrics.body)
    );
  };

  it('answers 503 while Redis is gone and recovers by itself when it is back, twice, logging one line each way', {
    timeout: 120_000,
  }, async () => {
    await waitFor('both servers healthy', healthy, 20_000, 250);
    for (let outage = 1; outage <= 2; outage++) {
      await redis.kill();
      await waitFor(
        'both /healthz to answer 503',
        async () => (await get(`${dashboard.url}/healthz`)).status === 503 && (await get(`${exporter.url}/healthz`)).status === 503,
        20_000,
        250,
      );
      // Long enough for a client that gives up after a few retries to have given up.
      await new Promise((resolve) => setTimeout(resolve, 4000));
      await redis.start();
      await waitFor(`both servers healthy again after outage ${outage}`, healthy, 20_000, 250).catch(async () => {
        assert.fail(`not healthy after outage ${outage}\ndashboard: ${dashboard.log()}\nexporter: ${exporter.log()}`);
      });
    }
    for (const [name, s] of [
      ['dashboard', dashboard],
      ['exporter', exporter],
    ] as const) {
      const log = s.log();
      assert.equal((log.match(/Redis connection .* lost/g) ?? []).length, 2, `${name}: one line per outage\n${log}`);
      assert.equal((log.match(/Redis connection .* back after/g) ?? []).length, 2, `${name}: one line per return\n${log}`);
      assert.doesNotMatch(log, /\n\s+at /, `${name}: no stack trace\n${log}`);
    }
  });
});
