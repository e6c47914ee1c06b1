import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { decodeNpz, decodePng } from '@diffq/codecs';
import { keys } from '@diffq/contract';
import { getJson } from '@diffq/storage';
import { writeRandomClassifier } from '../fixtures/random-model.ts';
import { readStoredRun, smallModel, useTestEnv } from './harness.ts';

describe('class labels, guidance and PNG output', () => {
  const env = useTestEnv('guided');

  it('gives balanced labels below the null label under classifier-free guidance, and one PNG per seed equal to the npz', {
    timeout: 180_000,
  }, async () => {
    // 10 label indices, the last one (9) meaning "no class": samples are drawn from classes 0–8.
    const model = await smallModel(env.dir, { numClasses: 10 });
    await env.launch({
      runId: 'cfg',
      model,
      seeds: '0-35',
      shardSize: 12,
      flags: ['--guidance-scale', '2', '--labels', 'balanced', '--format', 'both'],
    });
    await env.sampleInProcess({ model, batchSize: 8 });

    const store = env.store();
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
  });

  it('applies a noisy classifier to an unconditional model: every sample asks for the given class, and the samples change', {
    timeout: 180_000,
  }, async () => {
    const classifier = await writeRandomClassifier(join(env.dir, 'classifier'), { numClasses: 5 });
    await env.launch({ runId: 'plain', seeds: '0-7' });
    await env.launch({ runId: 'steered', seeds: '0-7', flags: ['--classifier', classifier, '--classifier-scale', '20', '--labels', '3'] });
    await env.sampleInProcess({ batchSize: 8 });

    const store = env.store();
    const plain = await readStoredRun(store, 'plain');
    const steered = await readStoredRun(store, 'steered');
    assert.deepEqual(steered.metas[0].labels, Array(8).fill(3));
    assert.equal(plain.metas[0].labels, null);
    const changed = [...steered.images].filter(([seed, image]) => Buffer.compare(image, plain.images.get(seed) as Uint8Array) !== 0).length;
    assert.ok(changed > 0, 'the classifier gradient changed the samples');
  });
});
