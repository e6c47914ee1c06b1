import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeStatsNpz } from '@diffq/codecs';
import type { RunSpec } from '@diffq/contract';
import { featureStats, frechetDistance } from '@diffq/metrics';
import { doneShards, type ObjectStore, openStore, sha256Hex, writeManifest } from '@diffq/storage';
import { writeShard } from '@diffq/worker';
import { xorshiftValues } from '../../../test/fixtures/xorshift.ts';
import { LiveFid } from '../src/live-fid.ts';
import { formatStatus, type RunStatus } from '../src/run-state.ts';
import { progressLine } from '../src/watch.ts';

const D = 4;
const SHARD = 6;

const features = xorshiftValues(3 * SHARD * D, 21);

describe('the live FID of diffq status, watch and the exporter', () => {
  let dir: string;
  let store: ObjectStore;
  let spec: RunSpec;
  const ref = featureStats(xorshiftValues(20 * D, 5), D);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'diffq-live-fid-'));
    store = openStore(`file://${join(dir, 'runs')}`);
    const refBytes = encodeStatsNpz(ref);
    writeFileSync(join(dir, 'ref.npz'), refBytes);
    spec = await writeManifest(store, {
      runId: 'live',
      model: { uri: '/models/m', id: 'model-000000000000', digest: '0'.repeat(64) },
      sampler: { kind: 'ddim', respacing: '4' },
      seeds: `0-${3 * SHARD - 1}`,
      seedCount: 3 * SHARD,
      shardSize: SHARD,
      statistics: {
        kinds: ['fid'],
        features: { uri: '/models/f', digest: '1'.repeat(64), architecture: 'test', preprocess: 'none', featureDim: D },
        reference: { uri: join(dir, 'ref.npz'), digest: sha256Hex(refBytes) },
      },
      createdAt: new Date().toISOString(),
      codeVersion: 'test',
    });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function store_(shardIndex: number): Promise<void> {
    const seeds = Array.from({ length: SHARD }, (_, k) => shardIndex * SHARD + k);
    await writeShard(
      {
        store,
        spec,
        shardIndex,
        seeds,
        worker: { id: 'w', batchSize: SHARD },
        engine: 'test',
        providers: { denoiser: 'cpu', features: 'cpu' },
        precision: 'float32',
        startedAt: new Date(),
        timings: { sample: 1 },
      },
      { images: new Uint8Array(SHARD), imageShape: [SHARD, 1, 1, 1], labels: null },
      { features: features.slice(shardIndex * SHARD * D, (shardIndex + 1) * SHARD * D), featureDim: D, seeds, labels: null },
    );
  }

  const fidOf = (rows: number) => frechetDistance(featureStats(features.subarray(0, rows * D), D), ref);

  it('is the FID of the shards stored so far, recomputed at most every interval', async () => {
    let clock = 1_000_000;
    const live = new LiveFid(5000, () => clock);
    assert.equal(await live.update(store, spec, await doneShards(store, spec)), null, 'nothing stored yet');
    await store_(2);
    const first = await live.update(store, spec, await doneShards(store, spec));
    assert.equal(first?.samples, SHARD);
    const shard2 = frechetDistance(featureStats(features.subarray(2 * SHARD * D), D), ref);
    assert.ok(Math.abs((first?.fid as number) - shard2) <= 1e-9 * shard2);

    await store_(0);
    clock += 1000;
    assert.equal((await live.update(store, spec, await doneShards(store, spec)))?.samples, SHARD, 'cached within the interval');
    clock += 5000;
    await store_(1);
    const all = await live.update(store, spec, await doneShards(store, spec));
    assert.equal(all?.samples, 3 * SHARD);
    assert.ok(Math.abs((all?.fid as number) - fidOf(3 * SHARD)) <= 1e-9 * fidOf(3 * SHARD), `${all?.fid} vs ${fidOf(3 * SHARD)}`);
  });

  it('is shown by status and watch when there is one', () => {
    const status = {
      runId: 'live',
      modelId: 'm',
      queue: 'sample.m',
      storeUrl: 'file:///runs',
      launchedAt: new Date().toISOString(),
      shards: { total: 3, done: 2, active: 1, waiting: 0, delayed: 0, failed: 0, lost: 0 },
      samples: { done: 12, total: 18 },
      throughput: 1,
      etaSeconds: 6,
      finalize: 'waiting-children',
      reportWritten: false,
      cancelled: false,
      failures: [],
      fid: { fid: 12.345678, samples: 12, at: 0 },
    } as RunStatus;
    assert.match(formatStatus(status), /FID {7}12\.3457 over the 12 samples stored so far/);
    assert.match(progressLine(status, null), /FID 12\.35/);
    assert.doesNotMatch(formatStatus({ ...status, fid: null }), /FID/);
  });
});
