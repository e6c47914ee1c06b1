import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { describeSampler } from '@diffq/contract';
import { Redis } from 'ioredis';
import { freePort } from '../../../test/fixtures/free-port.ts';
import { writeRandomModel } from '../../../test/fixtures/random-model.ts';
import { runDiffq } from '../../../test/fixtures/run-diffq.ts';
import { testRedisUrl } from '../../../test/fixtures/test-redis.ts';
import { DEFAULT_MODEL_DIR, demoLaunchFlags } from '../src/demo.ts';
import { DEMO_SAMPLER } from '../src/demo-sampler.ts';
import { Producer } from '../src/producer.ts';
import { samplerSpec } from '../src/sampler-flags.ts';

const REDIS_URL = testRedisUrl(6);
const PREFIX = 'demo-test';

describe('diffq demo (Redis db 6)', () => {
  let redis: Redis;
  let dir: string;
  let producer: Producer;
  const onTestRedis = ['demo', '--redis', REDIS_URL, '--prefix', PREFIX];
  const demoOptions = { seeds: '0-9', sampler: 'ddim', steps: 50, guidanceScale: 1, batchSize: 25, write: () => {}, tty: false } as const;

  before(async () => {
    redis = new Redis(REDIS_URL);
    await redis.flushdb();
    dir = mkdtempSync(join(tmpdir(), 'diffq-demo-'));
    producer = new Producer({ redis: { url: REDIS_URL }, prefix: PREFIX, store: `file://${join(dir, 'runs')}` });
  });
  after(async () => {
    await producer.close();
    await redis.flushdb();
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  it('samples the shipped MNIST model by default, guided, with balanced labels, and judges it', async () => {
    const flags = await demoLaunchFlags(producer, demoOptions);
    assert.equal(flags.model, resolve(import.meta.dirname, '..', '..', '..', 'models', 'mnist'));
    assert.equal(flags.model, DEFAULT_MODEL_DIR);
    assert.deepEqual({ guidance: flags.guidanceScale, labels: flags.labels }, { guidance: 1, labels: 'balanced' });
    assert.equal(flags.stats, 'fid,is,pr,accuracy', 'FID beside its floor, IS, precision/recall and class accuracy');
  });

  it('asks an unconditional model for neither guidance nor labels', async () => {
    const model = await writeRandomModel(join(dir, 'unconditional'));
    const flags = await demoLaunchFlags(producer, { ...demoOptions, model });
    assert.deepEqual(
      { guidance: flags.guidanceScale, labels: flags.labels, stats: flags.stats },
      { guidance: undefined, labels: undefined, stats: undefined },
    );
  });

  it('launches, samples in-process with the workers asked for and reports a run, then says where its contact sheet is', {
    timeout: 120_000,
  }, async () => {
    const model = await writeRandomModel(join(dir, 'conditional'), { numClasses: 5 });
    const store = `file://${join(dir, 'runs')}`;
    const run = await runDiffq([
      ...onTestRedis,
      '--store',
      store,
      '--model',
      model,
      '--seeds',
      '0-29',
      '--steps',
      '2',
      '--engine',
      'onnx',
      '--workers',
      '1',
    ]);
    assert.equal(run.code, 0, run.err);
    assert.match(run.out, /^workers: demo-worker-1@\S+; /m);
    // The demo's own sampler (DEMO_SAMPLER), printed as it launches and in the report, x̂₀ clipped on a pixel model.
    const used = describeSampler(samplerSpec({ sampler: DEMO_SAMPLER.sampler, steps: 2 }, {}));
    assert.match(used, /x̂₀ clipped$/);
    assert.ok(run.out.includes(`\nsampler: ${used}\n`), run.out);
    assert.ok(run.out.includes(`sampler   ${used}; guidance classifier_free 3`), run.out);
    const grid = run.out.match(/contact sheet of the first samples: (.*grid\.png)\n/)?.[1] ?? '';
    assert.ok(existsSync(grid), `the contact sheet ${grid} exists`);
    const report = JSON.parse(readFileSync(join(grid, '..', 'report.json'), 'utf8'));
    assert.equal(report.counts.samples, 30);
    assert.deepEqual(Object.keys(report.workers).length, 1, `one worker sampled: ${JSON.stringify(report.workers)}`);
    const counts = Object.entries(report.labelCounts as Record<string, number>);
    assert.deepEqual(counts.map(([label]) => label).sort(), ['0', '1', '2', '3'], 'every class but the null label 4');
    const sizes = counts.map(([, n]) => n);
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `balanced labels: ${JSON.stringify(report.labelCounts)}`);
  });

  it('refuses a number of workers outside 1 to 8, naming the flag and the range, before launching anything', async () => {
    const keysBefore = await redis.dbsize();
    for (const workers of ['0', '9', '1.5']) {
      const run = await runDiffq([...onTestRedis, '--store', `file://${join(dir, 'runs')}`, '--workers', workers]);
      assert.notEqual(run.code, 0);
      assert.match(run.err, new RegExp(`--workers is ${workers.replace('.', '\\.')}; accepted: an integer from 1 to 8`));
    }
    assert.equal(await redis.dbsize(), keysBefore, 'nothing was enqueued');
  });

  it('says it needs Redis, and how to get one, when none answers and redis-server is not installed', async () => {
    const run = await runDiffq([
      'demo',
      '--redis',
      'redis://127.0.0.1:1',
      '--redis-server',
      join(dir, 'no-such-redis-server'),
      '--store',
      `file://${join(dir, 'runs')}`,
    ]);
    assert.equal(run.code, 1);
    assert.match(run.err, /diffq demo: needs a Redis server: cannot reach Redis at redis:\/\/127\.0\.0\.1:1: connect ECONNREFUSED/);
    assert.match(run.err, /apt-get install redis-server/);
  });

  it('runs the shipped model on its own private Redis when none answers, with two workers, judged by the classifier, and stops the Redis', {
    timeout: 180_000,
  }, async () => {
    const port = await freePort();
    const run = await runDiffq([
      'demo',
      '--redis',
      `redis://127.0.0.1:${port}`,
      '--store',
      `file://${join(dir, 'runs')}`,
      '--seeds',
      '0-99',
      '--steps',
      '2',
      '--engine',
      'onnx',
    ]);
    assert.equal(run.code, 0, run.err);
    // The statistics of npm start: FID beside its floor, IS, precision/recall and class accuracy.
    assert.match(run.out, /FID {7}\d+\.\d+ \(floor 4\.66\d+: training data against the reference\)/);
    assert.match(run.out, /IS {8}\d+\.\d+/);
    assert.match(run.out, /precision \d\.\d+, recall \d\.\d+/);
    assert.match(run.out, /accuracy {2}\d+\.\d+% of 100 samples are classified as the class asked/);
    const started = run.out.match(/started a private redis-server on redis:\/\/127\.0\.0\.1:(\d+)/);
    assert.ok(started, run.out);
    const grid = run.out.match(/contact sheet of the first samples: (.*grid\.png)\n/)?.[1] ?? '';
    const report = JSON.parse(readFileSync(join(grid, '..', 'report.json'), 'utf8'));
    assert.equal(report.counts.samples, 100);
    assert.deepEqual(Object.keys(report.workers).length, 2, `both workers sampled: ${JSON.stringify(report.workers)}`);
    const refused = await new Promise<string>((resolve) => {
      const socket = connect(Number(started[1]), '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    });
    assert.equal(refused, 'ECONNREFUSED', 'the private Redis is stopped at the end');
  });
});
