import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { decoderImageSize, readDecoderDirectory } from '@diffq/networks';
import { buildDecoderOnnx, ONNX_CACHE_DIR, openDecoder, openOrtSession } from '@diffq/onnx';
import { inKeyLayout, writeDecoderDirectory } from '../../../test/fixtures/decoder-directory.ts';
import { relativeL2, weightsFile } from '../../../test/fixtures/small-networks.ts';
import { xorshiftUniform } from '../../../test/fixtures/xorshift.ts';
import { loadCase } from '../../../test/golden/case.ts';
import { caseDecoderDirectory } from '../../../test/golden/kinds/vae_decode.ts';

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

const GOLDEN = join(import.meta.dirname, '../../../test/golden/cases');
const goldenCases = readdirSync(GOLDEN).filter((d) => d.startsWith('vae_decode_'));

describe('the float16 KL decoder graph', () => {
  it('finds the golden vae_decode cases', () => {
    assert.ok(goldenCases.length >= 2, `no vae_decode_* cases under ${GOLDEN}`);
  });

  for (const name of goldenCases) {
    it(`stays within 2e-3 relative of the reference on ${name}, its bytes within one level`, async () => {
      // The cpu provider runs a float16 graph by casting around the kernels it lacks, so every weight
      // and body activation is rounded to half precision as on cuda; the figures are in docs/deployment.md, "float16".
      const c = loadCase(join(GOLDEN, name));
      const directory = caseDecoderDirectory(c);
      const latents = c.tensor('latents');
      const { ort, session } = await openOrtSession(buildDecoderOnnx(directory.config, directory.weights, { dtype: 'float16' }), {
        provider: 'cpu',
      });
      try {
        const z = new ort.Tensor('float32', Float32Array.from(latents.data as Float32Array), latents.shape);
        const out = await session.run({ z });
        assert.equal(out.images.type, 'float32');
        const rel = relativeL2(out.images.data as Float32Array, c.tensor('images').data as Float32Array);
        const bytes = out.uint8.data as Uint8Array;
        const reference = Array.from(c.tensor('uint8').data as BigInt64Array, Number);
        const levels = bytes.map((v, i) => Math.abs(v - reference[i]));
        const differing = levels.filter((d) => d > 0).length / levels.length;
        console.log(
          `${name}: float16 relative L2 error ${rel.toExponential(2)}, uint8 at most ${Math.max(...levels)} level apart, ${(100 * differing).toFixed(2)} % differ`,
        );
        assert.ok(rel > 1e-5 && rel < 2e-3, `relative L2 error ${rel}: float16 should round (> 1e-5) yet stay close (< 2e-3)`);
        assert.ok(Math.max(...levels) <= 1, 'a uint8 byte is more than one level from the reference');
        assert.ok(differing < 0.05, `${(100 * differing).toFixed(2)} % of the bytes differ from the reference (bound 5 %)`);
      } finally {
        await session.release();
      }
    });
  }

  it('is opened in float32 on the cpu provider when float16 is asked for, and says so', async () => {
    const [asked, full] = [
      await openDecoder(directory, { cache: false, provider: 'cpu', dtype: 'float16' }),
      await openDecoder(directory, { cache: false, provider: 'cpu', dtype: 'float32' }),
    ];
    try {
      assert.equal(asked.precision, 'float32', 'the precision a run records is the one that runs');
      assert.match(
        asked.description,
        /float32 graph built from the weights; float16 is for the cuda and webgpu providers, so the cpu provider runs float32$/,
      );
      const z = latents(4 * 8 * 8, 11);
      assert.deepEqual(await asked.decodeImages(z, 1, 8, 8), await full.decodeImages(z, 1, 8, 8));
    } finally {
      await asked.dispose();
      await full.dispose();
    }
  });

  it('caches one graph per precision, and runs float32 where cuda falls back to cpu', async () => {
    const dir = dirOf('per-precision');
    await writeDecoderDirectory(dir, { layout: 'diffusers', seed: 4 });
    const decoder = await openDecoder(await readDecoderDirectory(dir), { provider: 'cuda', dtype: 'float16' });
    try {
      const cached = readdirSync(join(dir, ONNX_CACHE_DIR)).filter((f) => f.endsWith('.onnx'));
      if (decoder.precision === 'float16') {
        assert.match(decoder.description, /onnxruntime-node \S+ cuda; float16 graph built in/);
        assert.deepEqual(
          cached.map((f) => f.split('-').slice(0, 2).join('-')),
          ['decoder-float16'],
        );
      } else {
        assert.match(decoder.description, /float16 needs the cuda or webgpu provider, so the cpu fallback runs float32$/);
        // The float16 graph was built for cuda before the fallback showed; both stay, under their own keys.
        assert.deepEqual(cached.map((f) => f.split('-').slice(0, 2).join('-')).sort(), ['decoder-float16', 'decoder-float32']);
      }
    } finally {
      await decoder.dispose();
    }
  });
});
