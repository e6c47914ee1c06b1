import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ONNX_CACHE_DIR, openFeatureNetwork } from '@diffq/onnx';
import { writeRandomDinov2 } from '../../../test/fixtures/random-feature-model.ts';
import { assertWebgpuOrItsFallback } from '../../../test/fixtures/webgpu-fallback.ts';

const root = mkdtempSync(join(tmpdir(), 'diffq-dinov2-'));
after(() => rmSync(root, { recursive: true, force: true }));
const dir = writeRandomDinov2(join(root, 'vitl14'), 5);
const regDir = writeRandomDinov2(join(root, 'vitl14-reg'), 5, 'dinov2_vitl14_reg');

/** n seeded uint8 images [n, h, w, c]. */
function images(n: number, h: number, w: number, c: number, seed: number): Uint8Array {
  const out = new Uint8Array(n * h * w * c);
  let s = seed >>> 0;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    worst = Math.max(worst, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return worst / scale;
}

describe('the dinov2-vit-l14 feature network on onnx', () => {
  it('gives one 32-d class-token row per image, the same whatever the batching', async () => {
    const net = await openFeatureNetwork(dir);
    try {
      assert.deepEqual(
        { ...net.info },
        {
          architecture: 'dinov2-vit-l14',
          featureDim: 32,
          logitDim: null,
          spatialDim: null,
          channels: [1, 3],
          imageSize: null,
          preprocess: 'edm2-torch',
          numClasses: null,
        },
      );
      // 18 images run as 16 + 2; each alone must give its own row.
      const all = images(18, 20, 20, 3, 1);
      const together = (await net.extract(all, [18, 20, 20, 3])).features;
      assert.equal(together.length, 18 * 32);
      for (const i of [0, 7, 17]) {
        const alone = (await net.extract(all.subarray(i * 1200, (i + 1) * 1200), [1, 20, 20, 3])).features;
        assert.ok(maxRelDiff(alone, together.subarray(i * 32, (i + 1) * 32)) < 1e-5, `image ${i}`);
      }
      // Another size in the same session: its own resize matrices.
      const other = (await net.extract(images(2, 37, 50, 3, 2), [2, 37, 50, 3])).features;
      assert.equal(other.length, 2 * 32);
      assert.ok(other.every(Number.isFinite));
    } finally {
      net.dispose();
    }
  });

  it('reads a grey image as the same image replicated to RGB (edm2 broadcasts the channel)', async () => {
    const net = await openFeatureNetwork(regDir);
    try {
      const grey = images(2, 24, 30, 1, 3);
      const rgb = Uint8Array.from({ length: grey.length * 3 }, (_, i) => grey[Math.floor(i / 3)]);
      const a = (await net.extract(grey, [2, 24, 30, 1])).features;
      const b = (await net.extract(rgb, [2, 24, 30, 3])).features;
      assert.ok(maxRelDiff(a, b) < 1e-6);
      // Not a constant: two different images give different features.
      assert.ok(maxRelDiff(a.subarray(0, 32), a.subarray(32)) > 1e-3);
    } finally {
      net.dispose();
    }
  });

  it('caches its graph in the directory and opens the cached file the second time', async () => {
    const first = await openFeatureNetwork(dir);
    first.dispose();
    assert.ok(existsSync(join(dir, ONNX_CACHE_DIR)));
    assert.ok(readdirSync(join(dir, ONNX_CACHE_DIR)).some((f) => f.startsWith('dinov2-vit-l14-') && f.endsWith('.onnx')));
    const second = await openFeatureNetwork(dir);
    second.dispose();
    assert.match(second.description, /graph from the cache/);
  });

  it('names the provider that loaded: cpu where webgpu was asked for and no adapter is found', async () => {
    const net = await openFeatureNetwork(dir, { provider: 'webgpu', threads: 1 });
    try {
      assertWebgpuOrItsFallback(net);
    } finally {
      net.dispose();
    }
  });

  it('refuses the tfjs engine and Inception-only options, saying what is accepted', async () => {
    await assert.rejects(openFeatureNetwork(dir, { engine: 'tfjs' }), /runs on the onnx engine only; accepted engines: auto, onnx/);
    await assert.rejects(openFeatureNetwork(dir, { preprocess: 'tf1' }), /preprocess and dims are for fid-inception-v3/);
  });
});
