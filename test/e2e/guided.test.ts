import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { keys } from '@diffq/contract';
import { getJson, openStore } from '@diffq/storage';
import { decodeNpz, decodePng, startWorker } from '@diffq/worker';
import { E2E_DB, readStoredRun, runDiffq, smallModel, type TestEnv, testEnv } from './harness.ts';
import { writeRandomClassifier } from '../fixtures/random-model.ts';

describe('class labels, guidance and PNG output', () => {
  let env: TestEnv;
  let storeUrl: string;

  before(async () => {
    env = await testEnv(E2E_DB.guided, 'guided');
    storeUrl = `file://${join(env.dir, 'runs')}`;
  });
  after(() => env.cleanup());

  const sample = async (model: string) => {
    const worker = await startWorker({
      redis: { url: env.redisUrl },
      prefix: env.prefix,
      model,
      batchSize: 8,
      threads: 1,
      exitWhenIdle: true,
      log: () => {},
    });
    await worker.done;
  };

  it('gives balanced labels below the null label under classifier-free guidance, and one PNG per seed equal to the npz', {
    timeout: 180_000,
  }, async () => {
    // 10 label indices, the last one (9) meaning "no class": samples are drawn from classes 0–8.
    const model = await smallModel(env.dir, { numClasses: 10 });
    const launched = await runDiffq([
      'launch',
      ...env.flags,
      '--store',
      storeUrl,
      '--model',
      model,
      '--seeds',
      '0-35',
      '--shard-size',
      '12',
      '--steps',
      '4',
      '--guidance-scale',
      '2',
      '--labels',
      'balanced',
      '--format',
      'both',
      '--run-id',
      'cfg',
    ]);
    assert.equal(launched.code, 0, launched.err);
    await sample(model);

    const store = openStore(storeUrl);
    for (const shard of [0, 1, 2]) {
      const { arr_0, arr_1, seeds } = decodeNpz((await store.get(keys.shardNpz('cfg', shard))) as Uint8Array);
      const seedList = Array.from(seeds.data as BigInt64Array, Number);
      assert.deepEqual(
        Array.from(arr_1.data as BigInt64Array, Number),
        seedList.map((s) => s % 9),
      );
      const [, h, w, c] = arr_0.shape;
      for (const [i, seed] of seedList.entries()) {
        const png = decodePng((await store.get(keys.png('cfg', seed))) as Uint8Array, 3);
        assert.deepEqual(
          png.pixels,
          (arr_0.data as Uint8Array).subarray(i * h * w * c, (i + 1) * h * w * c),
          `png/${String(seed).padStart(6, '0')}.png`,
        );
      }
    }
    const report = (await getJson(store, keys.report('cfg'))) as { labelCounts: Record<string, number>; output: string };
    assert.deepEqual(report.labelCounts, Object.fromEntries(Array.from({ length: 9 }, (_, k) => [String(k), 4])));
    assert.equal(report.output, 'both');
    store.close();
  });

  it('applies a noisy classifier to an unconditional model: every sample asks for the given class, and the samples change', {
    timeout: 180_000,
  }, async () => {
    const model = await smallModel(env.dir);
    const classifier = await writeRandomClassifier(join(env.dir, 'classifier'), { numClasses: 5 });
    const common = ['launch', ...env.flags, '--store', storeUrl, '--model', model, '--seeds', '0-7', '--steps', '4'];
    assert.equal((await runDiffq([...common, '--run-id', 'plain'])).code, 0);
    const guided = await runDiffq([
      ...common,
      '--classifier',
      classifier,
      '--classifier-scale',
      '20',
      '--labels',
      '3',
      '--run-id',
      'steered',
    ]);
    assert.equal(guided.code, 0, guided.err);
    await sample(model);

    const store = openStore(storeUrl);
    const plain = await readStoredRun(store, 'plain');
    const steered = await readStoredRun(store, 'steered');
    assert.deepEqual(steered.metas[0].labels, Array(8).fill(3));
    assert.equal(plain.metas[0].labels, null);
    const changed = [...steered.images].filter(([seed, image]) => Buffer.compare(image, plain.images.get(seed) as Uint8Array) !== 0).length;
    assert.ok(changed > 0, 'the classifier gradient changed the samples');
    store.close();
  });
});
