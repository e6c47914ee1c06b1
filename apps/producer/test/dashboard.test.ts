import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sampleQueueName, shardJobId } from '@diffq/contract';
import { cancelledKey } from '@diffq/queue';
import { type Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { type S3rverProcess, startS3rver } from '../../../packages/storage/test/s3rver-fixture.ts';
import { freePort } from '../../../test/fixtures/free-port.ts';
import { writeRandomModel } from '../../../test/fixtures/random-model.ts';
import { runDiffq } from '../../../test/fixtures/run-diffq.ts';
import { type Dashboard, startDashboard } from '../src/dashboard/server.ts';
import { Producer } from '../src/producer.ts';

/** A GET with exactly these headers (fetch would not let a test set Host). */
function rawRequest(base: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${base}${path}`, { headers }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('error', reject);
    request.end();
  });
}

const PASSWORD = 'redis-Pa55word-never-shown';
const ACCESS_KEY = 'S3RVER';
const TOKEN = 'dashboard-token-0123456789abcdef';
const PREFIX = 'unit-dashboard';
const RUN = 'run-dash';

async function waitForRedis(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const probe = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
    probe.on('error', () => {});
    try {
      await probe.connect();
      await probe.ping();
      probe.disconnect();
      return;
    } catch {
      probe.disconnect();
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`redis-server at ${url} did not answer`);
}

/** The first server-sent event of a stream, as text. */
async function firstEvent(url: string, headers: Record<string, string> = {}): Promise<string> {
  const controller = new AbortController();
  const response = await fetch(url, { signal: controller.signal, headers });
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  let text = '';
  while (!text.includes('\n\n')) {
    const { value, done } = await reader.read();
    if (done) break;
    text += Buffer.from(value).toString();
  }
  controller.abort();
  return text;
}

describe('diffq dashboard', () => {
  let dir: string;
  let redisServer: ChildProcess;
  let redisUrl: string;
  let redis: Redis;
  let s3: S3rverProcess;
  let queue: Queue;
  let producer: Producer;
  let failedJobId: string;
  let workerConnection: Redis;
  const saved = { ...process.env };
  const dashboards: Dashboard[] = [];

  const open = async (options: { token?: string; allowedHosts?: string[]; maxEventStreams?: number } = {}) => {
    const dashboard = await startDashboard(producer, { port: 0, intervalMs: 300, ...options });
    dashboards.push(dashboard);
    return dashboard;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'diffq-dashboard-'));
    // A Redis that wants a password, and an S3 store whose credentials are in the environment:
    // the two kinds of secret the dashboard must never show.
    const port = await freePort();
    redisServer = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--requirepass', PASSWORD, '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    );
    redisUrl = `redis://:${PASSWORD}@127.0.0.1:${port}/0`;
    await waitForRedis(redisUrl);
    redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
    s3 = await startS3rver(['dash']);
    Object.assign(process.env, {
      DIFFQ_S3_ENDPOINT: s3.endpoint,
      AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
      AWS_REGION: 'us-east-1',
    });
    const model = await writeRandomModel(join(dir, 'model'));
    const flags = ['--redis', redisUrl, '--prefix', PREFIX, '--store', 's3://dash/runs'];
    const launched = await runDiffq([
      'launch',
      ...flags,
      '--model',
      model,
      '--seeds',
      '0-15',
      '--shard-size',
      '4',
      '--steps',
      '2',
      '--run-id',
      RUN,
    ]);
    assert.equal(launched.code, 0, launched.err);
    producer = new Producer({ redis: { url: redisUrl }, prefix: PREFIX, store: 's3://dash/runs' });
    const modelId = (await producer.runEntry(RUN))?.modelId as string;
    queue = new Queue(sampleQueueName(modelId), { connection: redis, prefix: PREFIX });
    // One shard fails with a reason that quotes the Redis URL, password included: the scrub must catch it.
    workerConnection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    const failed = new Promise<Job>((resolve) => {
      const worker = new Worker(
        queue.name,
        async () => {
          throw new UnrecoverableError(`lost ${redisUrl} while sampling`);
        },
        { connection: workerConnection, prefix: PREFIX },
      );
      worker.once('failed', (job) => {
        void worker.close();
        resolve(job as Job);
      });
    });
    failedJobId = String((await failed).id);
  });

  after(async () => {
    for (const d of dashboards) await d.close();
    await queue?.close();
    await producer?.close();
    redis?.disconnect();
    workerConnection?.disconnect();
    await s3?.stop();
    redisServer?.kill('SIGTERM');
    process.env = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  it('binds to 127.0.0.1 unless told otherwise, and serves /, /queues, /metrics and /healthz', async () => {
    const d = await open();
    assert.equal(d.host, '127.0.0.1');
    assert.match(d.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const page = await fetch(`${d.url}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /follow\('\/api\/events'/);
    const queues = await fetch(`${d.url}/queues`);
    assert.equal(queues.status, 200);
    assert.match(await queues.text(), /diffq queues \(read-only\)/);
    const metrics = await (await fetch(`${d.url}/metrics`)).text();
    assert.match(metrics, new RegExp(`diffq_run_samples_total\\{run="${RUN}",model="model-[0-9a-f]+"\\} 16`));
    assert.match(metrics, /diffq_workers_live\{model="model-[0-9a-f]+"\} 0/);
    const health = await fetch(`${d.url}/healthz`);
    assert.deepEqual([health.status, await health.json()], [200, { ok: true, redis: 'ready' }]);
    const fleet = (await (await fetch(`${d.url}/api/fleet`)).json()) as {
      runs: { runId: string; samplesTotal: number; fid: number | null; shards: { failed: number } }[];
    };
    assert.deepEqual(
      fleet.runs.map((r) => [r.runId, r.samplesTotal]),
      [[RUN, 16]],
    );
    assert.ok(fleet.runs[0].shards.failed >= 1);
    assert.equal(fleet.runs[0].fid, null, 'a run without statistics has no live FID');
    const detail = (await (await fetch(`${d.url}/api/runs/${RUN}`)).json()) as { failed: { jobId: string; reason: string }[] };
    const failure = detail.failed.find((f) => f.jobId === failedJobId);
    assert.ok(failure, 'the run page lists the failed shard');
    assert.match(failure.reason, /^lost redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/0 while sampling$/);
  });

  it('never shows the Redis password or an S3 credential, on any page, API or metric', async () => {
    const d = await open({ token: TOKEN });
    const q = encodeURIComponent(queue.name);
    const paths = [
      '/',
      `/runs/${RUN}`,
      '/login',
      '/api/fleet',
      `/api/runs/${RUN}`,
      '/metrics',
      '/healthz',
      '/queues',
      `/queues/queue/${q}`,
      '/queues/api/queues',
      `/queues/api/queues?activeQueue=${q}&status=failed`,
      `/queues/api/queues?activeQueue=${q}&status=waiting`,
      '/queues/api/redis/stats',
      `/queues/api/queues/${q}/${encodeURIComponent(failedJobId)}`,
      `/queues/api/queues/${q}/${encodeURIComponent(failedJobId)}/logs`,
      `/queues/api/queues/${q}/workers`,
      `/queues/api/queues/${q}/metrics`,
      '/no-such-page',
    ];
    const bodies = await Promise.all(paths.map(async (p) => [p, await (await fetch(`${d.url}${p}`)).text()] as const));
    bodies.push(['/api/events', await firstEvent(`${d.url}/api/events`)]);
    bodies.push([`/api/runs/${RUN}/events`, await firstEvent(`${d.url}/api/runs/${RUN}/events`)]);
    const failedPage = bodies.find(([p]) => p.includes('status=failed'))?.[1] ?? '';
    assert.match(failedPage, /while sampling/, 'the failed job (whose reason quoted the URL) is among what was read');
    for (const [path, body] of bodies) {
      for (const secret of [PASSWORD, ACCESS_KEY, TOKEN]) assert.ok(!body.includes(secret), `${path} shows a secret`);
    }
  });

  it('refuses a token short enough to guess, without echoing it', async () => {
    const result = await runDiffq(['dashboard', '--redis', redisUrl, '--prefix', PREFIX, '--token', 'short-secret']);
    assert.equal(result.code, 2);
    assert.match(result.err, /--token \(or DIFFQ_DASHBOARD_TOKEN\) is 12 characters; accepted: at least 16/);
    assert.ok(!result.err.includes('short-secret'));
  });

  it('is read-only without a token: a request that changes state is refused and changes nothing', async () => {
    const d = await open();
    const q = encodeURIComponent(queue.name);
    const retry = await fetch(`${d.url}/queues/api/queues/${q}/${encodeURIComponent(failedJobId)}/retry`, { method: 'PUT' });
    assert.equal(retry.status, 403);
    assert.equal(await queue.getJobState(failedJobId), 'failed');
    const cancel = await fetch(`${d.url}/api/runs/${RUN}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(cancel.status, 403, 'no token was configured, so none is accepted');
    assert.equal(await redis.exists(cancelledKey(PREFIX, RUN)), 0);
    const board = (await (await fetch(`${d.url}/queues/api/queues`)).json()) as { queues: { readOnlyMode: boolean }[] };
    assert.ok(board.queues.length > 0 && board.queues.every((x) => x.readOnlyMode));
  });

  it('answers only for the names it was bound to (DNS rebinding), and for --allowed-host', async () => {
    const d = await open({ allowedHosts: ['dash.example.org'] });
    const port = new URL(d.url).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, 'dash.example.org'])
      assert.equal((await rawRequest(d.url, '/healthz', { host })).status, 200, host);
    const rebound = await rawRequest(d.url, '/api/fleet', { host: `attacker.example:${port}` });
    assert.equal(rebound.status, 403);
    assert.match(
      (JSON.parse(rebound.body) as { error: string }).error,
      /^Host "attacker\.example:\d+" is not a name this dashboard serves \(127\.0\.0\.1, ::1, dash\.example\.org, localhost\); .*--allowed-host/,
    );
  });

  it('refuses a state-changing request from another origin, even with the session cookie (403)', async () => {
    const d = await open({ token: TOKEN });
    const login = await fetch(`${d.url}/login`, { method: 'POST', body: new URLSearchParams({ token: TOKEN }), redirect: 'manual' });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
    const cancelUrl = `${d.url}/api/runs/${RUN}/cancel`;
    const port = Number(new URL(d.url).port);
    const attempts: Record<string, string>[] = [
      { cookie, origin: `http://127.0.0.1:${port + 1}` },
      { cookie, 'sec-fetch-site': 'same-site' },
      { cookie, 'sec-fetch-site': 'cross-site', origin: d.url },
      { cookie, origin: 'null' },
      { cookie },
      { authorization: `Bearer ${TOKEN}`, origin: 'http://attacker.example' },
    ];
    for (const headers of attempts) {
      const refused = await fetch(cancelUrl, { method: 'POST', headers });
      assert.equal(refused.status, 403, JSON.stringify(headers));
    }
    assert.equal(await redis.exists(cancelledKey(PREFIX, RUN)), 0, 'the run was not cancelled');
    const wrongOriginLogin = await fetch(`${d.url}/login`, {
      method: 'POST',
      headers: { origin: 'http://127.0.0.1:1' },
      body: new URLSearchParams({ token: TOKEN }),
      redirect: 'manual',
    });
    assert.equal(wrongOriginLogin.status, 403, 'no signing in from another page either');
  });

  it('answers 404 when cancelling a run that does not exist', async () => {
    const d = await open({ token: TOKEN });
    const response = await fetch(`${d.url}/api/runs/no-such-run/cancel`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(response.status, 404);
    assert.match(((await response.json()) as { error: string }).error, /run no-such-run: no manifest/);
  });

  it('answers 429 after 5 wrong tokens within a minute, to the right token too', async () => {
    const d = await open({ token: TOKEN });
    const login = (token: string) => fetch(`${d.url}/login`, { method: 'POST', body: new URLSearchParams({ token }), redirect: 'manual' });
    for (let i = 0; i < 5; i++) assert.equal((await login(`wrong-token-${i}-0123456789`)).status, 401);
    const limited = await login(TOKEN);
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get('retry-after')) > 0);
    assert.match(await limited.text(), /Too many wrong tokens: try again in \d+ s/);
  });

  it('serves bull-board without asking an outside host for fonts', async () => {
    const d = await open();
    const page = await (await fetch(`${d.url}/queues`)).text();
    assert.match(page, /static\/css\/main/, 'the board page itself');
    assert.doesNotMatch(page, /https?:\/\/(?!127\.0\.0\.1)[^"']*\.(css|woff2?)|fonts\.(googleapis|gstatic)/);
  });

  it('serves at most maxEventStreams event streams at once, and one more once one closes', async () => {
    const d = await open({ maxEventStreams: 2 });
    const streams = [new AbortController(), new AbortController()];
    const opened = await Promise.all(streams.map((c) => fetch(`${d.url}/api/runs/${RUN}/events`, { signal: c.signal })));
    assert.deepEqual(
      opened.map((r) => r.status),
      [200, 200],
    );
    const third = await fetch(`${d.url}/api/events`);
    assert.equal(third.status, 503);
    assert.match(await third.text(), /2 live pages are open/);
    streams[0].abort();
    await opened[0].body?.cancel().catch(() => {});
    let again: Response | undefined;
    for (let i = 0; i < 50 && again?.status !== 200; i++) {
      await again?.body?.cancel().catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, 100));
      again = await fetch(`${d.url}/api/events`);
    }
    assert.equal(again?.status, 200, 'a stream is free again once a page closes');
    await again?.body?.cancel().catch(() => {});
    streams[1].abort();
  });

  it('with a token: refuses a state-changing request without it (401, nothing changes), allows it with it', async () => {
    const d = await open({ token: TOKEN });
    const q = encodeURIComponent(queue.name);
    const retryUrl = `${d.url}/queues/api/queues/${q}/${encodeURIComponent(failedJobId)}/retry`;
    const attempts: Record<string, string>[] = [
      {},
      { authorization: 'Bearer wrong-token-0123456789abcdef' },
      { cookie: 'diffq_dashboard_session=forged' },
    ];
    for (const headers of attempts) {
      const refused = await fetch(retryUrl, { method: 'PUT', headers });
      assert.equal(refused.status, 401, JSON.stringify(headers));
    }
    assert.equal(await queue.getJobState(failedJobId), 'failed', 'the job was not retried');
    const cancel = await fetch(`${d.url}/api/runs/${RUN}/cancel`, { method: 'POST' });
    assert.equal(cancel.status, 401);
    assert.equal(await redis.exists(cancelledKey(PREFIX, RUN)), 0, 'the run was not cancelled');

    const wrongLogin = await fetch(`${d.url}/login`, {
      method: 'POST',
      body: new URLSearchParams({ token: 'not-the-token' }),
      redirect: 'manual',
    });
    assert.equal(wrongLogin.status, 401);
    const login = await fetch(`${d.url}/login`, { method: 'POST', body: new URLSearchParams({ token: TOKEN }), redirect: 'manual' });
    assert.equal(login.status, 303);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
    assert.match(cookie, /^diffq_dashboard_session=[0-9a-f]{64}$/);
    assert.ok(!cookie.includes(TOKEN), 'the cookie is derived from the token, not the token');
    // As a browser sends it from the dashboard's own page (a cookie alone is refused: see above).
    const retried = await fetch(retryUrl, { method: 'PUT', headers: { cookie, origin: d.url } });
    assert.ok(retried.ok, `retry with the session cookie: ${retried.status} ${await retried.text()}`);
    assert.notEqual(await queue.getJobState(failedJobId), 'failed');

    const cancelled = await fetch(`${d.url}/api/runs/${RUN}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(cancelled.status, 200);
    assert.equal(await redis.exists(cancelledKey(PREFIX, RUN)), 1);
    assert.equal(await queue.getJobState(shardJobId(RUN, 3)), 'unknown', 'cancel removed the queued shards');
  });
});
