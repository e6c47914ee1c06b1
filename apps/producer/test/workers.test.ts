import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HEARTBEAT_FORMAT } from '@diffq/contract';
import { workerKey, workersKey } from '@diffq/queue';
import { Heartbeat, type HeartbeatIdentity, RecentSpeed } from '@diffq/worker';
import { Redis } from 'ioredis';
import { runDiffq } from '../../../test/fixtures/run-diffq.ts';
import { testRedisUrl } from '../../../test/fixtures/test-redis.ts';
import { createExporter } from '../src/exporter.ts';
import { Producer } from '../src/producer.ts';
import { liveWorkers } from '../src/workers.ts';

const REDIS_URL = testRedisUrl(6);
const PREFIX = 'unit-workers';

function identity(id: string, model = 'model-aaaa'): HeartbeatIdentity {
  return { id, host: 'node-1', pid: 4242, model, engine: 'onnx', provider: 'cpu', precision: 'float32', batchSize: 16 };
}

describe('worker heartbeats', () => {
  let redis: Redis;
  const beats: Heartbeat[] = [];

  const clear = async () => {
    const stale = await redis.keys(`${PREFIX}:*`);
    if (stale.length > 0) await redis.del(...stale);
  };
  const heartbeat = (id: string, options: { model?: string; ttlSeconds?: number; now?: () => number; busy?: number } = {}) => {
    const beat = new Heartbeat({
      redis,
      prefix: PREFIX,
      identity: identity(id, options.model),
      busyRatio: () => options.busy ?? 1,
      ttlSeconds: options.ttlSeconds ?? 30,
      now: options.now,
    });
    beats.push(beat);
    return beat;
  };

  before(async () => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    await clear();
  });
  after(async () => {
    for (const beat of beats) await beat.stop();
    await clear();
    redis.disconnect();
  });

  it('records what the worker is, its speed and the shard it samples', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const beat = heartbeat('w-record', { now: () => now, busy: 0.5 });
    assert.equal(beat.record().samplesPerSecond, null, 'no speed before the first shard');
    beat.shardStarted('run-a', 3);
    now += 8000;
    assert.deepEqual(beat.record().currentShard, { runId: 'run-a', shardIndex: 3, startedAt: '2026-01-01T00:00:00.000Z' });
    beat.shardEnded(32);
    const record = beat.record();
    assert.equal(record.currentShard, null);
    assert.equal(record.samplesDone, 32);
    // 32 samples in 8 s while busy half of the last minute.
    assert.equal(record.samplesPerSecond, 2);
    assert.equal(record.format, HEARTBEAT_FORMAT);
    assert.equal(record.ttlSeconds, 30);
  });

  it('writes the record under its TTL, and a clean stop removes it at once', async () => {
    const beat = heartbeat('w-stop');
    await beat.start();
    const ttl = await redis.ttl(workerKey(PREFIX, 'w-stop'));
    assert.ok(ttl > 0 && ttl <= 30, `ttl ${ttl}`);
    assert.ok((await liveWorkers(redis, PREFIX)).workers.some((w) => w.id === 'w-stop'));
    await beat.stop();
    assert.equal(await redis.exists(workerKey(PREFIX, 'w-stop')), 0);
    assert.equal(await redis.sismember(workersKey(PREFIX), 'w-stop'), 0);
  });

  it('forgets a worker that stopped beating once its TTL runs out', async () => {
    const beat = heartbeat('w-dead', { ttlSeconds: 1 });
    await beat.beat(); // one beat, then silence: as after kill -9
    assert.deepEqual(
      (await liveWorkers(redis, PREFIX)).workers.map((w) => w.id),
      ['w-dead'],
    );
    await new Promise((resolve) => setTimeout(resolve, 1300));
    assert.deepEqual((await liveWorkers(redis, PREFIX)).workers, []);
    assert.equal(await redis.sismember(workersKey(PREFIX), 'w-dead'), 0, 'the reader drops the dead id from the index');
  });

  it('keeps a live worker listed past its TTL by rewriting the record', async () => {
    const beat = heartbeat('w-alive', { ttlSeconds: 1 });
    await beat.start();
    await new Promise((resolve) => setTimeout(resolve, 1600));
    const fleet = await liveWorkers(redis, PREFIX);
    const me = fleet.workers.find((w) => w.id === 'w-alive');
    assert.ok(me, 'still listed after 1.6 TTLs');
    assert.ok(me.lastSeenSeconds <= 1, `last seen ${me.lastSeenSeconds} s ago`);
    await beat.stop();
  });

  it('lists a record of another version as unreadable instead of failing', async () => {
    await redis.set(workerKey(PREFIX, 'w-odd'), JSON.stringify({ format: 'diffq-worker/0', id: 'w-odd' }), 'EX', 30);
    await redis.sadd(workersKey(PREFIX), 'w-odd');
    const fleet = await liveWorkers(redis, PREFIX);
    assert.equal(fleet.unreadable.length, 1);
    assert.equal(fleet.unreadable[0].id, 'w-odd');
    assert.match(fleet.unreadable[0].problem, /format/);
    await redis.del(workerKey(PREFIX, 'w-odd'));
  });

  it('`diffq workers` prints the fleet, and --json the records', async () => {
    const a = heartbeat('w-cli-1', { model: 'model-bbbb' });
    const b = heartbeat('w-cli-2', { model: 'model-bbbb' });
    await a.start();
    b.shardStarted('run-cli', 7);
    await b.start();
    const flags = ['--redis', REDIS_URL, '--prefix', PREFIX];
    const text = await runDiffq(['workers', ...flags]);
    assert.equal(text.code, 0, text.err);
    assert.match(text.out, /^WORKER\s+MODEL\s+ENGINE/m);
    assert.match(text.out, /w-cli-1\s+model-bbbb\s+onnx cpu float32\s+16\s+—\s+0\s+idle/);
    assert.match(text.out, /w-cli-2 .* run-cli #7/);
    const json = await runDiffq(['workers', '--json', ...flags]);
    const parsed = JSON.parse(json.out) as { workers: { id: string; currentShard: unknown }[] };
    assert.deepEqual(
      parsed.workers.map((w) => w.id),
      ['w-cli-1', 'w-cli-2'],
    );
    assert.deepEqual(parsed.workers[1].currentShard, { runId: 'run-cli', shardIndex: 7, startedAt: b.record().currentShard?.startedAt });
    await a.stop();
    await b.stop();
    const none = await runDiffq(['workers', ...flags]);
    assert.match(none.out, /no live workers/);
  });

  it('the exporter counts live workers per model, 0 for a recent run whose model has none', async () => {
    const beats3 = [
      heartbeat('w-exp-1', { model: 'model-cccc' }),
      heartbeat('w-exp-2', { model: 'model-cccc' }),
      heartbeat('w-exp-3', { model: 'model-dddd' }),
    ];
    for (const beat of beats3) await beat.start();
    const producer = new Producer({ redis: { url: REDIS_URL }, prefix: PREFIX, store: 'file:///nonexistent' });
    await producer.registerRun({
      runId: 'run-nobody',
      modelId: 'model-eeee',
      storeUrl: 'file:///nonexistent',
      seedCount: 1,
      shards: 1,
      launchedAt: new Date().toISOString(),
    });
    const exporter = createExporter(producer);
    await exporter.refresh();
    const text = await exporter.registry.metrics();
    assert.match(text, /diffq_workers_live\{model="model-cccc"\} 2/);
    assert.match(text, /diffq_workers_live\{model="model-dddd"\} 1/);
    assert.match(text, /diffq_workers_live\{model="model-eeee"\} 0/);
    await producer.close();
    for (const beat of beats3) await beat.stop();
  });
});

describe('a worker speed', () => {
  it('is its sampling speed over its last shards, times how busy it was', () => {
    const speed = new RecentSpeed();
    speed.add(64, 8);
    speed.add(64, 24);
    assert.equal(speed.samplesPerSecond(1), 4);
    assert.equal(speed.samplesPerSecond(0.25), 1);
    assert.equal(speed.samplesPerSecond(0), 0, 'an idle worker delivers nothing');
  });
});
