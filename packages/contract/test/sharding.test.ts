import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  FINALIZE_QUEUE_NAME,
  finalizeJobId,
  InvalidPayload,
  keys,
  matchesSeedCheck,
  parseFinalizeJob,
  parseSeeds,
  parseShardJob,
  SeedList,
  sampleQueueName,
  shardCount,
  shardJobId,
  shardSeedCheck,
  shardSeeds,
} from '@diffq/contract';

describe('sharding', () => {
  it('cuts a run into shards that cover every seed exactly once, in order', () => {
    for (const [spec, shardSize] of [
      ['0-999', 256],
      ['1,2,5-10,40-1000,3000', 7],
      ['17', 256],
      ['0-511', 256],
    ] as const) {
      const seeds = parseSeeds(spec);
      const list = SeedList.parse(spec);
      const count = shardCount({ seedCount: seeds.length, shardSize });
      const cut = Array.from({ length: count }, (_, i) => shardSeeds(list, shardSize, i));
      assert.deepEqual(cut.flat(), seeds, `${spec} in shards of ${shardSize}`);
      for (const shard of cut.slice(0, -1)) assert.equal(shard.length, shardSize);
      assert.ok(cut.at(-1)!.length >= 1 && cut.at(-1)!.length <= shardSize);
    }
  });

  it('describes each shard by its first and last seed and count, matching the shard it was cut from', () => {
    const list = SeedList.parse('1,2,5-10,40-1000,3000');
    assert.deepEqual(shardSeedCheck(list, 7, 0), { first: 1, last: 9, count: 7 });
    assert.deepEqual(shardSeedCheck(list, 7, 138), { first: 998, last: 3000, count: 4 });
    for (let i = 0; i < shardCount({ seedCount: list.count, shardSize: 7 }); i++) {
      assert.ok(matchesSeedCheck(shardSeeds(list, 7, i), shardSeedCheck(list, 7, i)), `shard ${i}`);
    }
    assert.equal(matchesSeedCheck(shardSeeds(list, 7, 1), shardSeedCheck(list, 7, 0)), false);
    assert.equal(matchesSeedCheck(shardSeeds(list, 8, 0), shardSeedCheck(list, 7, 0)), false, 'another shard size');
  });

  it('refuses a shard index beyond the last shard', () => {
    assert.throws(
      () => shardSeeds(SeedList.parse('0-9'), 4, 3),
      /shardIndex must be an integer from 0 to 2 for 10 seeds in shards of 4 \(got 3\)/,
    );
  });

  it('derives stable job ids and queue names without ":"', () => {
    assert.equal(shardJobId('run-1', 12), 'run-1.shard.12');
    assert.equal(shardJobId('run-1', 12), shardJobId('run-1', 12));
    assert.notEqual(shardJobId('run-1', 1), shardJobId('run-11', 1));
    assert.equal(finalizeJobId('run-1'), 'run-1.finalize');
    assert.equal(sampleQueueName('cifar10-ddpm'), 'sample.cifar10-ddpm');
    for (const name of [shardJobId('a', 0), finalizeJobId('a'), sampleQueueName('m'), FINALIZE_QUEUE_NAME]) assert.ok(!name.includes(':'));
    assert.throws(() => sampleQueueName('Model:1'), InvalidPayload);
    assert.throws(() => shardJobId('run-1', -1), /shardIndex must be an integer ≥ 0 \(got -1\)/);
  });
});

describe('job payloads', () => {
  const job = {
    runId: 'run-1',
    modelId: 'cifar10',
    shardIndex: 2,
    seedCheck: { first: 512, last: 600, count: 3 },
    storeUrl: 's3://bucket/runs',
  };

  it('passes a well-formed shard job through unchanged', () => {
    assert.deepEqual(parseShardJob(job), job);
    assert.deepEqual(parseFinalizeJob({ runId: 'run-1', storeUrl: 'file://./runs' }), { runId: 'run-1', storeUrl: 'file://./runs' });
  });

  it('names the field of a malformed shard job', () => {
    assert.throws(() => parseShardJob({ ...job, shardIndex: '2' }), /shardIndex must be a number \(got "2"\)/);
    assert.throws(() => parseShardJob({ ...job, seeds: [512, 513, 600] }), /unknown field "seeds"/);
    assert.throws(() => parseShardJob({ ...job, seedCheck: { ...job.seedCheck, count: 0 } }), /seedCheck\.count must be an integer from 1/);
    assert.throws(
      () => parseShardJob({ ...job, seedCheck: { first: 5, last: 6, count: 3 } }),
      /seedCheck\.count must be at most last − first \+ 1 = 2/,
    );
    assert.throws(() => parseShardJob({ ...job, seedCheck: { first: -1, last: 6, count: 3 } }), /seedCheck\.first must be a seed from 0/);
    assert.throws(() => parseShardJob({ ...job, storeUrl: '/tmp/runs' }), /storeUrl must be a store URL/);
    assert.throws(() => parseShardJob({ ...job, modelId: undefined }), /modelId is required/);
    assert.throws(() => parseFinalizeJob({ runId: '../etc' }), /runId must be 1 to 63 characters[\s\S]*storeUrl is required/);
  });
});

describe('storage keys', () => {
  it('lays a run out as docs/design.md#storage-layout describes', () => {
    assert.equal(keys.manifest('r1'), 'r1/manifest.json');
    assert.equal(keys.shardNpz('r1', 3), 'r1/shards/3.npz');
    assert.equal(keys.shardMeta('r1', 3), 'r1/shards/3.json');
    assert.equal(keys.png('r1', 42), 'r1/png/000042.png');
    assert.equal(keys.png('r1', 12345678), 'r1/png/12345678.png');
    assert.equal(keys.features('r1', 3), 'r1/features/3.npz');
    assert.equal(keys.stats('r1'), 'r1/stats.npz');
    assert.equal(keys.report('r1'), 'r1/report.json');
    assert.equal(keys.grid('r1'), 'r1/grid.png');
  });

  it('cannot be steered out of the run folder', () => {
    assert.throws(() => keys.manifest('../other'), InvalidPayload);
    assert.throws(() => keys.manifest(''), InvalidPayload);
    assert.throws(() => keys.shardNpz('r1', 1.5), InvalidPayload);
    assert.throws(() => keys.png('r1', -1), InvalidPayload);
    assert.throws(() => keys.features('r1', -1), InvalidPayload);
    assert.throws(() => keys.stats('../r1'), InvalidPayload);
  });
});
