/**
 * A launch that dies while it enqueues (killed with SIGKILL between two chunks of shards) leaves a
 * manifest and part of the queue; the same command again finishes the enqueueing and registers the
 * run. Meanwhile the finalize parent cannot run early: shard 0 is held back until the queue is whole.
 * A launch of more shards than one launch may create is refused before anything is written.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FINALIZE_QUEUE_NAME, finalizeJobId, MAX_SHARDS_PER_RUN, sampleQueueName, shardJobId } from '@diffq/contract';
import { writeRandomModel } from '../../../test/fixtures/random-model.ts';
import { runDiffq } from '../../../test/fixtures/run-diffq.ts';
import { type PrivateRedis, startPrivateRedis } from '../src/private-redis.ts';
import { Producer } from '../src/producer.ts';

const DIFFQ_BIN = join(import.meta.dirname, '..', 'bin', 'diffq.js');
const SHARDS = 20_000;

describe('a launch that dies while it enqueues', () => {
  let redis: PrivateRedis;
  let dir: string;
  let model: string;
  let producer: Producer;
  let flags: string[];

  before(async () => {
    redis = await startPrivateRedis();
    dir = mkdtempSync(join(tmpdir(), 'diffq-interrupted-'));
    model = await writeRandomModel(join(dir, 'model'));
    const store = `file://${join(dir, 'runs')}`;
    producer = new Producer({ redis: { url: redis.url }, prefix: 'cut', store });
    flags = ['--redis', redis.url, '--prefix', 'cut', '--store', store, '--model', model, '--model-id', 'cut-model', '--steps', '4'];
  });
  after(async () => {
    await producer.close();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`refuses more than ${MAX_SHARDS_PER_RUN} shards, saying which --shard-size would do, with nothing written`, async () => {
    const result = await runDiffq(['launch', ...flags, '--run-id', 'huge', '--seeds', '0-9999999', '--shard-size', '1']);
    assert.equal(result.code, 2, result.err);
    assert.match(
      result.err,
      /--seeds "0-9999999" \(10000000 seeds\) in shards of 1 \(--shard-size\) make 10000000 shards; accepted: at most 100000 per launch: give --shard-size 100 or more/,
    );
    assert.equal(await (await producer.redis()).dbsize(), 0);
    assert.equal(existsSync(join(dir, 'runs', 'huge')), false);
  });

  it('finishes the enqueueing and registers the run when launched again', { timeout: 120_000 }, async () => {
    const args = ['launch', ...flags, '--run-id', 'cut', '--seeds', `0-${SHARDS - 1}`, '--shard-size', '1'];
    const queue = await producer.queue(sampleQueueName('cut-model'));
    const child = spawn(process.execPath, [DIFFQ_BIN, ...args], { stdio: 'ignore' });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    // Kill it once the first chunk is in, long before the last.
    let seen = 0;
    while (seen === 0) {
      seen = await queue.count();
      if (child.exitCode !== null) assert.fail('the launch ended before it could be interrupted');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    child.kill('SIGKILL');
    await exited;
    const queued = await queue.count();
    assert.ok(queued > 0 && queued < SHARDS, `${queued} of ${SHARDS} shards queued when the launch died`);
    assert.equal(await producer.runEntry('cut'), undefined, 'not registered');
    assert.equal(await queue.getJobState(shardJobId('cut', 0)), 'delayed', 'shard 0 holds the finalize parent back');
    assert.equal(await (await producer.queue(FINALIZE_QUEUE_NAME)).getJobState(finalizeJobId('cut')), 'waiting-children');

    const again = await runDiffq([...args, '--json']);
    assert.equal(again.code, 0, again.err);
    const result = JSON.parse(again.out) as { added: number; resumedEnqueue: boolean; shards: number };
    assert.equal(result.resumedEnqueue, true);
    assert.equal(result.added, SHARDS - queued);
    assert.equal(await queue.count(), SHARDS, 'every shard is queued');
    assert.notEqual(await queue.getJobState(shardJobId('cut', 0)), 'delayed', 'shard 0 is released');
    assert.equal((await producer.runEntry('cut'))?.shards, SHARDS, 'the run is registered');
    const listed = await runDiffq(['runs', '--redis', redis.url, '--prefix', 'cut']);
    assert.match(listed.out, /^cut {2}/m);

    const third = await runDiffq([...args, '--json']);
    assert.deepEqual(
      (({ added, alreadyLaunched, resumedEnqueue }) => ({ added, alreadyLaunched, resumedEnqueue }))(JSON.parse(third.out)),
      { added: 0, alreadyLaunched: true, resumedEnqueue: false },
    );
  });
});
