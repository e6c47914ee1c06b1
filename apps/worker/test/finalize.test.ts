import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { decodePng } from '@diffq/codecs';
import { keys, type RunSpec, SeedList, shardSeeds } from '@diffq/contract';
import { ABANDONED_WRITE_MS, getJson, type ObjectStore, openStore, TEMP_FILE_MARK, writeManifest } from '@diffq/storage';
import { finalizeRun } from '../src/finalize-job.ts';
import { writeShard } from '../src/shard-output.ts';

describe('the finalizer', () => {
  let dir: string;
  let store: ObjectStore;
  let spec: RunSpec;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'diffq-finalize-'));
    store = openStore(`file://${join(dir, 'runs')}`);
    spec = await writeManifest(store, {
      runId: 'done',
      model: { uri: '/models/m', id: 'model-000000000000', digest: '0'.repeat(64) },
      sampler: { kind: 'ddim', respacing: '4' },
      seeds: '0-5',
      seedCount: 6,
      shardSize: 3,
      createdAt: new Date().toISOString(),
      codeVersion: 'test',
    });
    // Two stored shards of 3 gray 4×4 images each, pixel value = seed.
    for (const shardIndex of [0, 1]) {
      const seeds = shardSeeds(SeedList.parse('0-5'), 3, shardIndex);
      const images = new Uint8Array(seeds.flatMap((seed) => Array(16).fill(seed)));
      const worker = { id: 'w', batchSize: 3 };
      const context = { store, spec, shardIndex, seeds, worker, engine: 'test', precision: 'float32' as const, startedAt: new Date(), timings: { sample: 1 } };
      await writeShard(context, { images, imageShape: [3, 4, 4, 1], labels: null });
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the report and the contact sheet, and sweeps what killed writers left in the run', async () => {
    const temp = (name: string) => join(dir, 'runs', 'done', 'shards', `${TEMP_FILE_MARK}999-0123456789ab-${name}`);
    const abandoned = temp('2.npz');
    const live = temp('0.npz');
    for (const path of [abandoned, live]) writeFileSync(path, 'partial');
    const longAgo = new Date(Date.now() - 2 * ABANDONED_WRITE_MS);
    utimesSync(abandoned, longAgo, longAgo);

    const { report, swept } = await finalizeRun(store, spec);
    assert.deepEqual(swept, [pathToFileURL(abandoned).href]);
    assert.deepEqual([existsSync(abandoned), existsSync(live)], [false, true], 'a temporary file still being written is kept');
    assert.deepEqual(report.counts, { shards: 2, samples: 6, seeds: 6 });
    assert.deepEqual(await getJson(store, keys.report('done')), report);
    // 6 tiles of 4×4: 3 columns, 2 rows, 2 pixels of padding; tile k is filled with seed k.
    const grid = decodePng((await store.get(keys.grid('done'))) as Uint8Array, 1);
    assert.deepEqual([grid.width, grid.height], [3 * 6 + 2, 2 * 6 + 2]);
    assert.equal(grid.pixels[(2 + 6) * grid.width + (2 + 2 * 6)], 5, 'the last tile is the last seed');
  });
});
