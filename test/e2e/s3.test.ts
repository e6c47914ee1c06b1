import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { keys } from '@diffq/contract';
import { assertEverySeedOnce, assertExitClean, assertSameImages, readStoredRun, useTestEnv } from './harness.ts';

const BUCKET = 'diffq-e2e';
const SEEDS = 2000;

describe('the 2,000-seed run against S3 (s3rver), with the model read from S3 too', () => {
  const env = useTestEnv('s3');
  let s3Env: NodeJS.ProcessEnv;

  before(async () => {
    // Downloaded models are cached per test run, not in the user's cache.
    s3Env = { ...(await env.s3(BUCKET)).env, DIFFQ_CACHE_DIR: join(env.dir, 'cache') };
    Object.assign(process.env, s3Env);
  });

  it('stores every seed exactly once, the images equal to a single file-store process', { timeout: 480_000 }, async () => {
    const model = `s3://${BUCKET}/models/small`;
    const models = env.store(model);
    for (const file of ['model.json', 'weights.safetensors']) await models.put(file, await readFile(join(env.model, file)));
    const storeUrl = `s3://${BUCKET}/runs`;

    await env.launch({ runId: 'on-s3', model, store: storeUrl, seeds: `0-${SEEDS - 1}`, shardSize: 100 });
    await assertExitClean(env.spawnWorkers(['s3w0', 's3w1', 's3w2'], { model, batchSize: 25, exitWhenIdle: true, env: s3Env }));

    const store = env.store(storeUrl);
    const run = await readStoredRun(store, 'on-s3');
    assert.equal(run.metas.length, 20);
    assertEverySeedOnce(run, SEEDS);
    assert.ok(await store.exists(keys.report('on-s3')));
    assert.ok(await store.exists(keys.grid('on-s3')));

    await env.launch({ runId: 'on-disk', seeds: `0-${SEEDS - 1}`, shardSize: 1000 });
    await env.sampleInProcess({ batchSize: 50 });
    const reference = await readStoredRun(env.store(), 'on-disk');
    assert.equal(reference.images.size, SEEDS);
    assertSameImages(reference, run, 'S3 and file runs');
  });
});
