import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { keys } from '@diffq/contract';
import { openStore } from '@diffq/storage';
import { startWorker } from '@diffq/worker';
import { type S3rverProcess, startS3rver } from '../../packages/storage/test/s3rver-fixture.ts';
import { E2E_DB, readStoredRun, runDiffq, smallModel, spawnWorker, type TestEnv, testEnv } from './harness.ts';

const BUCKET = 'diffq-e2e';
const SEEDS = 2000;

describe('the 2,000-seed run against S3 (s3rver), with the model read from S3 too', () => {
  let env: TestEnv;
  let s3: S3rverProcess;
  let s3Env: NodeJS.ProcessEnv;

  before(async () => {
    env = await testEnv(E2E_DB.s3, 's3');
    s3 = await startS3rver([BUCKET]);
    s3Env = {
      DIFFQ_S3_ENDPOINT: s3.endpoint,
      AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
      AWS_REGION: 'us-east-1',
      // Downloaded models are cached per test run, not in the user's cache.
      DIFFQ_CACHE_DIR: join(env.dir, 'cache'),
    };
    Object.assign(process.env, s3Env);
  });
  after(async () => {
    await s3.stop();
    await env.cleanup();
  });

  it('stores every seed exactly once, the images equal to a single file-store process', { timeout: 480_000 }, async () => {
    const local = await smallModel(env.dir);
    const models = openStore(`s3://${BUCKET}/models/small`);
    for (const file of ['model.json', 'weights.safetensors']) await models.put(file, await readFile(join(local, file)));
    models.close();
    const model = `s3://${BUCKET}/models/small`;
    const storeUrl = `s3://${BUCKET}/runs`;

    const launched = await runDiffq([
      'launch',
      ...env.flags,
      '--store',
      storeUrl,
      '--model',
      model,
      '--seeds',
      `0-${SEEDS - 1}`,
      '--shard-size',
      '100',
      '--steps',
      '4',
      '--run-id',
      'on-s3',
    ]);
    assert.equal(launched.code, 0, launched.err);
    const workers = [0, 1, 2].map((i) =>
      spawnWorker(env, model, ['--batch-size', '25', '--threads', '1', '--exit-when-idle', '--worker-id', `s3w${i}`], s3Env),
    );
    assert.deepEqual(await Promise.all(workers.map((w) => w.exited)), [0, 0, 0], workers.map((w) => w.log()).join('\n'));

    const store = openStore(storeUrl);
    const run = await readStoredRun(store, 'on-s3');
    assert.equal(run.metas.length, 20);
    for (let seed = 0; seed < SEEDS; seed++) assert.equal(run.occurrences.get(seed), 1, `seed ${seed}`);
    assert.ok(await store.exists(keys.report('on-s3')));
    assert.ok(await store.exists(keys.grid('on-s3')));

    const fileStore = `file://${join(env.dir, 'runs')}`;
    const single = await runDiffq([
      'launch',
      ...env.flags,
      '--store',
      fileStore,
      '--model',
      local,
      '--seeds',
      `0-${SEEDS - 1}`,
      '--shard-size',
      '1000',
      '--steps',
      '4',
      '--run-id',
      'on-disk',
    ]);
    assert.equal(single.code, 0, single.err);
    const worker = await startWorker({
      redis: { url: env.redisUrl },
      prefix: env.prefix,
      model: local,
      batchSize: 50,
      threads: 1,
      exitWhenIdle: true,
      log: () => {},
    });
    await worker.done;
    const reference = await readStoredRun(openStore(fileStore), 'on-disk');
    const differing = [...reference.images].filter(
      ([seed, image]) => Buffer.compare(image, run.images.get(seed) as Uint8Array) !== 0,
    ).length;
    assert.equal(reference.images.size, SEEDS);
    assert.equal(differing, 0, `${differing} seeds differ between S3 and file runs`);
    store.close();
  });
});
