import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keys } from '@diffq/contract';
import { createProcess, generate, initBackend, parseDiffusionConfig, SeedNoiseSource } from '@diffq/diffusion';
import { loadUNet, readModelDirectory, TfjsEngine } from '@diffq/networks';
import { assertEverySeedOnce, assertExitClean, assertSameImages, readStoredRun, useTestEnv } from './harness.ts';

const SEEDS = 2000;

describe('a 2,000-seed run sampled by three worker processes', () => {
  const env = useTestEnv('pipeline');

  it('stores every seed exactly once, with the images a single process makes, bit for bit', { timeout: 480_000 }, async () => {
    const launched = await env.launch({ runId: 'fleet', seeds: `0-${SEEDS - 1}`, shardSize: 100 });
    assert.equal(launched.out.trim(), 'fleet');
    await assertExitClean(env.spawnWorkers(['w0', 'w1', 'w2'], { batchSize: 25, exitWhenIdle: true }));

    const store = env.store();
    const fleet = await readStoredRun(store, 'fleet');
    assert.equal(fleet.metas.length, 20);
    assert.equal(fleet.images.size, SEEDS);
    assertEverySeedOnce(fleet, SEEDS);
    const byWorker = new Set(fleet.metas.map((m) => m.worker.id));
    assert.ok(byWorker.size >= 2, `the shards were shared out: ${[...byWorker].join(', ')}`);
    const report = JSON.parse(Buffer.from((await store.get(keys.report('fleet'))) ?? '').toString());
    assert.equal(report.counts.samples, SEEDS);
    assert.ok(await store.exists(keys.grid('fleet')));

    // The same seeds in one in-process worker, other shard and micro-batch sizes.
    await env.launch({ runId: 'single', seeds: `0-${SEEDS - 1}`, shardSize: 500 });
    await env.sampleInProcess({ batchSize: 40 });
    const reference = await readStoredRun(store, 'single');
    assert.equal(reference.images.size, SEEDS);
    assertSameImages(reference, fleet, 'the fleet and the single process');
  });
});

/** uint8 HWC images of `seeds` from DPM-Solver++(2M), 10 time-uniform steps, on the model in `dir`. */
async function solverImages(dir: string, seeds: number[]): Promise<Uint8Array[]> {
  await initBackend();
  const model = await readModelDirectory(dir);
  if (model.architecture !== 'adm-unet') throw new Error(`${dir} is not a denoiser`);
  const engine = new TfjsEngine(loadUNet(model));
  try {
    const { unet } = model;
    const { images } = await generate({
      engine,
      process: createProcess(parseDiffusionConfig(model.diffusion)),
      noise: new SeedNoiseSource(seeds),
      shape: [seeds.length, unet.inChannels, unet.imageSize, unet.imageSize],
      // What the launch defaults to for a pixel model: x̂₀ clipped to [−1, 1].
      sampler: { kind: 'dpm-solver++', order: 2, steps: 10, skipType: 'time_uniform', denoiseToZero: false, clipDenoised: true },
    });
    const size = images.length / seeds.length;
    return seeds.map((_, i) => images.subarray(i * size, (i + 1) * size));
  } finally {
    engine.dispose();
  }
}

describe('a DPM-Solver++ run through the queue', () => {
  const env = useTestEnv('pipeline');

  it('gives each seed the same image whichever worker and micro-batch drew it', { timeout: 300_000 }, async () => {
    const seeds = 48;
    const solver = ['--sampler', 'dpm++2m'];
    await env.launch({ runId: 'solver-fleet', seeds: `0-${seeds - 1}`, shardSize: 8, steps: 10, flags: solver });
    await assertExitClean(env.spawnWorkers(['s0', 's1'], { batchSize: 3, exitWhenIdle: true }));
    const store = env.store();
    const fleet = await readStoredRun(store, 'solver-fleet');
    assertEverySeedOnce(fleet, seeds);
    const report = JSON.parse(Buffer.from((await store.get(keys.report('solver-fleet'))) ?? '').toString());
    // x̂₀ clipped: the launch's default for a pixel model, recorded in the report.
    assert.deepEqual(report.sampler, { kind: 'dpm++2m', clipDenoised: true, steps: 10, skipType: 'time_uniform', denoiseToZero: false });
    // What dpm++2m over 10 steps gives these seeds in this process (tfjs; the workers may run onnx).
    const reference = await solverImages(env.model, [0, 1, 2]);
    for (const [i, image] of reference.entries()) {
      const stored = fleet.images.get(i) ?? new Uint8Array();
      assert.equal(stored.length, image.length);
      const off = image.filter((v, k) => Math.abs(v - stored[k]) > 1).length;
      assert.equal(off, 0, `seed ${i}: ${off} pixels differ by more than 1 from dpm++2m sampled in process`);
    }

    await env.launch({ runId: 'solver-single', seeds: `0-${seeds - 1}`, shardSize: seeds, steps: 10, flags: solver });
    await env.sampleInProcess({ batchSize: 16 });
    const single = await readStoredRun(store, 'solver-single');
    assert.equal(single.metas.length, 1);
    assertSameImages(single, fleet, 'two workers with micro-batches of 3 and one worker with micro-batches of 16');
  });
});
