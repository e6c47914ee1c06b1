import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { FINALIZE_QUEUE_NAME } from '@diffq/contract';
import { ABANDONED_WRITE_MS, TEMP_FILE_MARK } from '@diffq/storage';
import { Redis } from 'ioredis';
import { writeRandomModel } from '../../../test/fixtures/random-model.ts';
import { testRedisUrl } from '../../../test/fixtures/test-redis.ts';
import { cancelRun } from '../src/cancel.ts';
import { createExporter } from '../src/exporter.ts';
import { launchRun } from '../src/launch.ts';
import { Producer } from '../src/producer.ts';
import { resumeRun } from '../src/resume.ts';
import { locateRun, runStatus } from '../src/run-state.ts';

const REDIS_URL = testRedisUrl(6);

describe('launching runs (Redis db 6)', () => {
  let redis: Redis;
  let dir: string;
  let model: string;
  let producer: Producer;

  before(async () => {
    redis = new Redis(REDIS_URL);
    await redis.flushdb();
    dir = mkdtempSync(join(tmpdir(), 'diffq-launch-'));
    model = await writeRandomModel(join(dir, 'model'));
    producer = new Producer({ redis: { url: REDIS_URL }, prefix: 'launch-test', store: `file://${join(dir, 'runs')}` });
  });
  after(async () => {
    await producer.close();
    await redis.flushdb();
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  const flags = (runId: string, seeds = '0-49999') => ({ model, seeds, runId, steps: 4, store: producer.settings.store });

  it('launches 50,000 seeds in well under 2 s', async () => {
    const start = performance.now();
    const result = await launchRun(producer, flags('big'));
    const seconds = (performance.now() - start) / 1000;
    assert.equal(result.shards, 196);
    assert.equal(result.added, 197, '196 shards and their finalize parent');
    assert.ok(seconds < 2, `launch took ${seconds.toFixed(2)} s`);
    const counts = await (await producer.queue(result.queue)).getJobCounts('waiting');
    assert.equal(counts.waiting, 196);
  });

  it('adds nothing when the same run is launched again', async () => {
    const keysBefore = await redis.dbsize();
    const again = await launchRun(producer, flags('big'));
    assert.equal(again.alreadyLaunched, true);
    assert.equal(again.added, 0);
    assert.equal(await redis.dbsize(), keysBefore);
    const counts = await (await producer.queue(again.queue)).getJobCounts('waiting');
    assert.equal(counts.waiting, 196);
  });

  it('refuses the same run id with other settings', async () => {
    await assert.rejects(launchRun(producer, flags('big', '0-9')), /--run-id big already exists .* with other settings/);
  });

  it('cancels a run and resumes exactly its shards', async () => {
    const launched = await launchRun(producer, flags('stop-go', '0-999'));
    const run = await locateRun(producer, 'stop-go');
    const cancelled = await cancelRun(producer, run);
    assert.equal(cancelled.removed, 4);
    let status = await runStatus(producer, run);
    assert.equal(status.cancelled, true);
    assert.equal(status.shards.lost, 4);
    assert.equal(await (await producer.finalizeQueue()).getJobState('stop-go.finalize'), 'unknown');

    const resumed = await resumeRun(producer, run);
    assert.deepEqual(
      { stored: resumed.stored, added: resumed.added, finalize: resumed.finalizeQueued },
      { stored: 0, added: 4, finalize: true },
    );
    status = await runStatus(producer, run);
    assert.equal(status.cancelled, false);
    assert.equal(status.shards.waiting, 4);
    assert.equal(await (await producer.queue(FINALIZE_QUEUE_NAME)).getJobState('stop-go.finalize'), 'waiting-children');
    assert.equal(launched.shards, 4);
  });

  it('exports queue depth and run progress', async () => {
    const { registry, refresh } = createExporter(producer);
    await refresh();
    const text = await registry.metrics();
    const modelId = (await locateRun(producer, 'big')).spec.model.id;
    assert.match(text, new RegExp(`diffq_queue_jobs\\{queue="sample\\.${modelId}",state="waiting"\\} 200`));
    assert.match(text, /diffq_run_samples_total\{run="big",model="[^"]+"\} 50000/);
    assert.match(text, /diffq_run_samples_done\{run="stop-go",model="[^"]+"\} 0/);
  });

  it('sweeps the temporary files killed workers left in the run when it resumes, and only those', async () => {
    await launchRun(producer, flags('swept', '0-9'));
    const temp = (run: string, name: string) => join(dir, 'runs', run, 'shards', `${TEMP_FILE_MARK}999-0123456789ab-${name}`);
    const abandoned = temp('swept', '0.npz');
    const live = temp('swept', '0.json');
    const otherRun = temp('big', '0.npz');
    for (const path of [abandoned, live, otherRun]) {
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(path, 'partial');
    }
    const longAgo = new Date(Date.now() - 2 * ABANDONED_WRITE_MS);
    for (const path of [abandoned, otherRun]) utimesSync(path, longAgo, longAgo);

    const resumed = await resumeRun(producer, await locateRun(producer, 'swept'));
    assert.deepEqual(resumed.swept, [pathToFileURL(abandoned).href]);
    assert.deepEqual([abandoned, live, otherRun].map(existsSync), [false, true, true]);
  });
});
