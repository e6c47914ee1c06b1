import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { decoderImageSize, readDecoderDirectory } from '@diffq/networks';
import { openDecoder } from '@diffq/onnx';
import { writeRandomLatentModel } from '../../../test/fixtures/random-latent-model.ts';
import { xorshiftUniform } from '../../../test/fixtures/xorshift.ts';
import type { LatentDecoder } from '../src/model-runtime.ts';
import { decodeShard } from '../src/shard-decode.ts';

describe('the decode phase', () => {
  const dir = mkdtempSync(join(tmpdir(), 'diffq-decode-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('gives the same images whatever the decode batch, in seed order', async () => {
    const { decoder: decoderDir } = await writeRandomLatentModel(dir);
    const directory = await readDecoderDirectory(decoderDir);
    const opened = await openDecoder(directory, { threads: 1 });
    const { config } = directory;
    const decoder: LatentDecoder = {
      uri: decoderDir,
      digest: opened.digest,
      description: opened.description,
      provider: opened.provider,
      precision: opened.precision,
      imageShape: (h, w) => [decoderImageSize(config, h), decoderImageSize(config, w), config.outChannels],
      decode: (z, n, h, w) => opened.decode(z, n, h, w),
      dispose: () => void opened.dispose(),
    };
    try {
      const n = 5;
      const random = xorshiftUniform(7);
      const latents = Float32Array.from({ length: n * 4 * 7 * 7 }, () => (random() - 0.5) * 4);
      const shard = { latents, latentShape: [n, 4, 7, 7] as [number, number, number, number], labels: null };
      const one = await decodeShard(decoder, shard, { decodeBatch: 1 });
      const three = await decodeShard(decoder, shard, { decodeBatch: 3 });
      const all = await decodeShard(decoder, shard, { decodeBatch: 8 });
      assert.deepEqual(one.imageShape, [n, 28, 28, 1]);
      assert.deepEqual(three.images, one.images);
      assert.deepEqual(all.images, one.images);
      // Image i is latent i's alone.
      const second = await opened.decode(latents.subarray(4 * 49, 8 * 49), 1, 7, 7);
      assert.deepEqual(one.images.subarray(784, 2 * 784), second);
    } finally {
      decoder.dispose();
    }
  });
});
