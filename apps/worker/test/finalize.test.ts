import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { decodePng, tileScale } from '@diffq/codecs';
import { keys, parseRunSpec, parseShardMeta, type RunSpec, SeedList, SHARD_META_FORMAT, shardSeeds } from '@diffq/contract';
import { ABANDONED_WRITE_MS, getJson, type ObjectStore, openStore, readShardMeta, TEMP_FILE_MARK, writeManifest } from '@diffq/storage';
import { testShardContext } from '../../../test/fixtures/shard-context.ts';
import { buildReport, finalizeRun, GRID_COLUMNS } from '../src/finalize-job.ts';
import { writeShard } from '../src/shard-output.ts';
import { providerOf, shardEngine } from '../src/shard-providers.ts';

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
      await writeShard(testShardContext({ store, spec, shardIndex, seeds }, { batchSize: 3 }), {
        images,
        imageShape: [3, 4, 4, 1],
        labels: null,
      });
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
    assert.deepEqual(report.precisions, ['float32'], 'the report says what the shards were computed in');
    assert.deepEqual(report.decoderPrecisions, [], 'a pixel model has no decoder');
    assert.deepEqual(
      [report.providers, report.decoderProviders, report.featureProviders],
      [['cpu'], [], []],
      'a pixel model without statistics ran its denoiser only',
    );
    assert.deepEqual(await getJson(store, keys.report('done')), report);
    // 6 tiles of 4×4 enlarged 21× to 84×84: 3 columns, 2 rows, 2 pixels of padding; tile k is filled with seed k.
    const grid = decodePng((await store.get(keys.grid('done'))) as Uint8Array, 1);
    const tile = 4 * tileScale(4);
    assert.equal(tile, 84);
    assert.deepEqual([grid.width, grid.height], [3 * (tile + 2) + 2, 2 * (tile + 2) + 2]);
    assert.equal(
      grid.pixels[(2 + tile + 2 + tile - 1) * grid.width + (2 + 2 * (tile + 2) + tile - 1)],
      5,
      'the last tile is the last seed',
    );
  });

  it('lays out a class-conditional run one row per class, in class order', async () => {
    const labelled = await writeManifest(store, { ...spec, runId: 'labelled', seeds: '0-5', seedCount: 6, shardSize: 6 });
    const seeds = shardSeeds(SeedList.parse('0-5'), 6, 0);
    const labels = [2, 0, 2, 1, 0, 2];
    await writeShard(testShardContext({ store, spec: labelled, shardIndex: 0, seeds }, { batchSize: 6 }), {
      images: new Uint8Array(seeds.flatMap((seed) => Array(16).fill(10 + seed))),
      imageShape: [6, 4, 4, 1],
      labels,
    });
    await finalizeRun(store, labelled);
    const grid = decodePng((await store.get(keys.grid('labelled'))) as Uint8Array, 1);
    const step = 4 * tileScale(4) + 2;
    assert.deepEqual([grid.width, grid.height], [GRID_COLUMNS * step + 2, 3 * step + 2], 'ten columns, three classes');
    const at = (row: number, col: number) => grid.pixels[(2 + row * step) * grid.width + 2 + col * step];
    // Class 0: seeds 1 and 4; class 1: seed 3; class 2: seeds 0, 2, 5 (pixel value 10 + seed).
    assert.deepEqual([at(0, 0), at(0, 1), at(0, 2)], [11, 14, 0]);
    assert.deepEqual([at(1, 0), at(1, 1)], [13, 0]);
    assert.deepEqual([at(2, 0), at(2, 1), at(2, 2)], [10, 12, 15]);
  });

  it("records a latent model's decoder precision and provider beside the denoiser's, in each shard and in the report", async () => {
    const decoded = await writeManifest(store, { ...spec, runId: 'decoded', seeds: '0-2', seedCount: 3, shardSize: 3 });
    const seeds = shardSeeds(SeedList.parse('0-2'), 3, 0);
    const context = {
      ...testShardContext({ store, spec: decoded, shardIndex: 0, seeds }, { batchSize: 3, timings: { sample: 1, decode: 1 } }),
      // The decoder's description ends with where its graph came from: no provider can be read off the end.
      engine: shardEngine('onnxruntime-node 1.30.0 cuda', 'onnxruntime-node 1.30.0 webgpu; float16 graph built from the weights'),
      providers: { denoiser: 'cuda', decoder: 'webgpu' },
      precision: 'float16' as const,
      decoderPrecision: 'float16' as const,
    };
    await writeShard(context, { images: new Uint8Array(3 * 16), imageShape: [3, 4, 4, 1], labels: null });
    const meta = await readShardMeta(store, 'decoded', 0);
    assert.deepEqual([meta?.decoderPrecision, meta?.providers], ['float16', { denoiser: 'cuda', decoder: 'webgpu' }]);
    const { report } = await finalizeRun(store, decoded);
    assert.deepEqual([report.precisions, report.decoderPrecisions], [['float16'], ['float16']]);
    assert.deepEqual([report.providers, report.decoderProviders, report.featureProviders], [['cuda'], ['webgpu'], []]);
  });
});

describe("the report's providers", () => {
  const spec = parseRunSpec({
    runId: 'providers',
    model: { uri: '/models/m', id: 'model-000000000000', digest: '0'.repeat(64) },
    sampler: { kind: 'ddim', respacing: '4' },
    seeds: '0-1',
    seedCount: 2,
    shardSize: 1,
    createdAt: '2025-01-31T12:00:00.000Z',
    codeVersion: 'test',
  });
  /** Shard `shardIndex` as its .json reads back, with `fields` replacing the defaults (no `providers`: an old shard). */
  const meta = (shardIndex: number, fields: Record<string, unknown>) =>
    parseShardMeta({
      format: SHARD_META_FORMAT,
      runId: spec.runId,
      shardIndex,
      seeds: [shardIndex],
      labels: null,
      npzSha256: '0f'.repeat(32),
      npzBytes: 100,
      worker: { id: `w${shardIndex}`, batchSize: 1 },
      precision: 'float32',
      startedAt: '2025-01-31T12:00:00.000Z',
      finishedAt: '2025-01-31T12:01:00.000Z',
      timings: { sample: 1 },
      ...fields,
    });
  const providersOf = (metas: ReturnType<typeof meta>[]) => {
    const r = buildReport(spec, metas);
    return { denoiser: r.providers, decoder: r.decoderProviders, features: r.featureProviders };
  };

  it("lists what ran each network, from the shards' providers", () => {
    const metas = [
      meta(0, { engine: 'tfjs wasm', providers: { denoiser: 'wasm', features: 'cpu' } }),
      meta(1, {
        engine: 'onnxruntime-node 1.30.0 cpu (webgpu fallback: no adapter)',
        providers: { denoiser: 'cpu', features: 'webgpu' },
      }),
    ];
    assert.deepEqual(providersOf(metas), { denoiser: ['cpu', 'wasm'], decoder: [], features: ['cpu', 'webgpu'] });
  });

  it("reads an old shard's providers from its engine text, the denoiser's before the decoder's description", () => {
    const cpuFallback = 'onnxruntime-node 1.30.0 cpu (auto fallback: cuda is not installed; the webgpu provider did not load: no adapter)';
    assert.deepEqual(
      providersOf([
        meta(0, {
          engine: shardEngine('onnxruntime-node 1.30.0 cuda', 'onnxruntime-node 1.30.0 cuda; float32 graph built from the weights'),
        }),
        meta(1, { engine: shardEngine('tfjs wasm', `${cpuFallback}; float32 graph read from the cache`) }),
      ]),
      { denoiser: ['cuda', 'wasm'], decoder: ['cpu', 'cuda'], features: [] },
    );
    assert.deepEqual(providersOf([meta(0, { engine: cpuFallback }), meta(1, { engine: 'tfjs tensorflow' })]), {
      denoiser: ['cpu', 'tensorflow'],
      decoder: [],
      features: [],
    });
  });

  it('names the provider an engine description ends with', () => {
    assert.equal(providerOf('onnxruntime-node 1.22.0 cuda'), 'cuda');
    assert.equal(providerOf('onnxruntime-node 1.22.0 cpu (cuda fallback)'), 'cpu');
    assert.equal(
      providerOf(
        'onnxruntime-node 1.30.0 cpu (webgpu fallback: the webgpu provider did not load: Failed to get a WebGPU adapter: No supported adapters)',
      ),
      'cpu',
    );
    assert.equal(providerOf('tfjs wasm'), 'wasm');
  });
});
