import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { decoderImageSize, readDecoderDirectory } from '@diffq/networks';
import { ONNX_CACHE_DIR, openDecoder } from '@diffq/onnx';
import { inKeyLayout, writeDecoderDirectory } from '../../../test/fixtures/decoder-directory.ts';
import { weightsFile } from '../../../test/fixtures/small-networks.ts';
import { xorshiftUniform } from '../../../test/fixtures/xorshift.ts';

const root = mkdtempSync(join(tmpdir(), 'diffq-decoder-'));
after(() => rmSync(root, { recursive: true, force: true }));
const dirOf = (name: string) => {
  const dir = join(root, name);
  mkdirSync(dir);
  return dir;
};

/** Latents as a sampler leaves them, uniform in ±1 (≈ ±5.5 once divided by the scaling factor). */
function latents(count: number, seed: number): Float32Array {
  const next = xorshiftUniform(seed);
  return Float32Array.from({ length: count }, () => next() * 2 - 1);
}

const diffusersDir = dirOf('diffusers');
await writeDecoderDirectory(diffusersDir, { layout: 'diffusers', seed: 3 });
const directory = await readDecoderDirectory(diffusersDir);

describe('the onnx KL decoder', () => {
  it('decodes n latents to n uint8 NHWC images of the decoder size, also for a non-square latent', async () => {
    const decoder = await openDecoder(directory, { cache: false });
    try {
      const [n, h, w] = [2, 8, 5];
      const out = await decoder.decode(latents(n * 4 * h * w, 1), n, h, w);
      assert.equal(out.length, n * decoderImageSize(directory.config, h) * decoderImageSize(directory.config, w) * 3);
      assert.ok(new Set(out).size > 50, 'the images are not constant');
      const { images, uint8 } = await decoder.decodeImages(latents(n * 4 * h * w, 1), n, h, w);
      assert.deepEqual(uint8, out);
      // uint8 is DiT's trunc(clamp(127.5·x + 128, 0, 255)) of the float images, NCHW → NHWC.
      const [H, W] = [16, 10];
      for (const [i, y, x, c] of [
        [0, 0, 0, 0],
        [1, 15, 9, 2],
        [1, 7, 3, 1],
      ]) {
        const v = images[((i * 3 + c) * H + y) * W + x];
        const level = Math.fround(Math.fround(127.5 * v) + 128);
        assert.equal(uint8[((i * H + y) * W + x) * 3 + c], Math.trunc(Math.min(255, Math.max(0, level))));
      }
    } finally {
      await decoder.dispose();
    }
  });

  it('gives every image the same bytes whether decoded in one batch of 3 or one by one', async () => {
    const decoder = await openDecoder(directory, { cache: false });
    try {
      const per = 4 * 8 * 8;
      const z = latents(3 * per, 7);
      const together = await decoder.decode(z, 3, 8, 8);
      const size = together.length / 3;
      for (let i = 0; i < 3; i++) {
        const alone = await decoder.decode(z.slice(i * per, (i + 1) * per), 1, 8, 8);
        assert.deepEqual(alone, together.subarray(i * size, (i + 1) * size), `image ${i}`);
      }
    } finally {
      await decoder.dispose();
    }
  });

  it('decodes the same weights under LDM keys (behind first_stage_model.) to the same images', async () => {
    const ldmDir = dirOf('ldm');
    await writeDecoderDirectory(ldmDir, { layout: 'ldm' });
    const asLdm = inKeyLayout(directory.config, directory.weights, 'ldm');
    writeFileSync(join(ldmDir, 'weights.safetensors'), weightsFile(new Map([...asLdm].map(([k, t]) => [`first_stage_model.${k}`, t]))));
    const ldm = await readDecoderDirectory(ldmDir);
    assert.equal(ldm.config.keyLayout, 'ldm');
    const z = latents(2 * 4 * 8 * 8, 5);
    const [a, b] = [await openDecoder(directory, { cache: false }), await openDecoder(ldm, { cache: false })];
    try {
      const [fromDiffusers, fromLdm] = [await a.decodeImages(z, 2, 8, 8), await b.decodeImages(z, 2, 8, 8)];
      assert.deepEqual(fromLdm.images, fromDiffusers.images);
    } finally {
      await a.dispose();
      await b.dispose();
    }
  });

  it('refuses latents that do not fill [n, latent_channels, h, w]', async () => {
    const decoder = await openDecoder(directory, { cache: false });
    try {
      await assert.rejects(
        decoder.decode(new Float32Array(100), 1, 8, 8),
        /decode: z has 100 values; \[n, latent_channels, h, w\] = \[1, 4, 8, 8\] needs 256/,
      );
      await assert.rejects(decoder.decode(new Float32Array(0), 0, 8, 8), /decode: n is 0; accepted: an integer ≥ 1/);
    } finally {
      await decoder.dispose();
    }
  });

  it('caches the built graph in the directory and opens it from there the next time', async () => {
    const first = await openDecoder(directory);
    await first.dispose();
    assert.match(first.description, new RegExp(`graph built in .* and cached as .*${ONNX_CACHE_DIR}/decoder-`));
    const second = await openDecoder(directory);
    try {
      assert.match(second.description, /graph from the cache/);
      assert.equal(second.digest, directory.digest);
      const z = latents(4 * 8 * 8, 9);
      const fresh = await openDecoder(directory, { cache: false });
      assert.deepEqual(await second.decode(z, 1, 8, 8), await fresh.decode(z, 1, 8, 8));
      await fresh.dispose();
    } finally {
      await second.dispose();
    }
  });
});
