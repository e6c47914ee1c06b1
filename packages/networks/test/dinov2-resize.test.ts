import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PYTHON, skipUnlessPython } from '../../../test/fixtures/reference-python.ts';
import { relativeL2 } from '../../../test/fixtures/small-networks.ts';
import { antialiasedBicubicMatrix, bicubicMatrix } from '../src/dinov2/bicubic-resize.ts';
import { DINOV2_MEAN, DINOV2_STD, parseDinov2Config } from '../src/dinov2/dinov2-config.ts';
import { interpolatePositionEmbedding, positionEmbeddingResize } from '../src/dinov2/dinov2-position-embedding.ts';
import { readSafetensors, type StoredTensor } from '../src/weights/safetensors.ts';

const CASES = join(import.meta.dirname, '../../../test/golden/cases');
const needTorch = skipUnlessPython(['torch']);

function loadCase(name: string) {
  const json = JSON.parse(readFileSync(join(CASES, name, 'case.json'), 'utf8'));
  const { tensors } = readSafetensors(new Uint8Array(readFileSync(join(CASES, name, 'tensors.safetensors'))));
  return { json, tensor: (key: string) => tensors.get(key) as StoredTensor };
}

/**
 * torch.nn.functional.interpolate's weight matrices along one axis, in float64: the resize of the
 * identity [n, n] along its rows only (the columns n → n are left as they are). One Python run for all.
 */
function torchMatrices(calls: Record<string, [number, string]>): Record<string, Float64Array> {
  const script = `
import json, sys, torch
import torch.nn.functional as F
out = {}
for name, (n, args) in json.loads(sys.argv[1]).items():
    x = torch.eye(n, dtype=torch.float64)[None, None]
    out[name] = eval(f"F.interpolate(x, mode='bicubic', align_corners=False, {args})")[0, 0].flatten().tolist()
sys.stdout.write(json.dumps(out))
`;
  const run = spawnSync(PYTHON, ['-c', script, JSON.stringify(calls)], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(run.stderr);
  const parsed = JSON.parse(run.stdout) as Record<string, number[]>;
  return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, Float64Array.from(v)]));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

describe('DINOv2 resampling matrices', () => {
  it('are torch’s bicubic resizes: antialiased by size (up, down, 224, the _reg grid) and plain by dinov2_vitl14’s scale factor', {
    skip: needTorch,
  }, () => {
    const sizes = [32, 184, 232, 224];
    const torch = torchMatrices({
      ...Object.fromEntries(sizes.map((n) => [`aa${n}`, [n, `size=(224, ${n}), antialias=True`]])),
      grid_reg: [37, 'size=(16, 37), antialias=True'],
      grid_offset: [37, 'scale_factor=(16.1 / 37, 1.0), antialias=False'],
    });
    for (const n of sizes) assert.ok(maxAbsDiff(antialiasedBicubicMatrix(n, 224), torch[`aa${n}`]) < 1e-12, `${n} → 224`);
    assert.ok(maxAbsDiff(bicubicMatrix(37, 16, 37 / 16.1), torch.grid_offset) < 1e-12);
    assert.ok(maxAbsDiff(positionEmbeddingResize(parseDinov2Config({ hub_model: 'dinov2_vitl14' })), torch.grid_offset) < 1e-12);
    assert.ok(maxAbsDiff(positionEmbeddingResize(parseDinov2Config({ hub_model: 'dinov2_vitl14_reg' })), torch.grid_reg) < 1e-12);
    // A step of 37/16 instead of 37/16.1 is a different matrix, which the comparison would catch.
    assert.ok(maxAbsDiff(bicubicMatrix(37, 16), torch.grid_offset) > 1e-3);
  });

  it('resize and normalise the golden images as edm2 did', () => {
    for (const name of ['dinov2_features_32px_n4', 'dinov2_features_64px_n3', 'dinov2_features_grey_232x184_n1']) {
      const c = loadCase(name);
      const images = c.tensor('images');
      const [, h, w, ch] = images.shape;
      const rh = antialiasedBicubicMatrix(h, 224);
      const rw = antialiasedBicubicMatrix(w, 224);
      const out = new Float64Array(3 * 224 * 224);
      for (let k = 0; k < 3; k++) {
        // Image 0, channel k (a grey image's one channel serves all three).
        const src = (y: number, x: number) => Number(images.data[(y * w + x) * ch + (ch === 1 ? 0 : k)]);
        const rows = new Float64Array(224 * w);
        for (let i = 0; i < 224; i++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) rows[i * w + x] += rh[i * h + y] * src(y, x);
        for (let i = 0; i < 224; i++) {
          for (let j = 0; j < 224; j++) {
            let v = 0;
            for (let x = 0; x < w; x++) v += rows[i * w + x] * rw[j * w + x];
            out[(k * 224 + i) * 224 + j] = (v / 255 - DINOV2_MEAN[k]) / DINOV2_STD[k];
          }
        }
      }
      // The README: exact float64 weights differ from torch's float32 ones by up to 7e-6 relative.
      const err = relativeL2(out, c.tensor('preprocessed').data as Float32Array);
      assert.ok(err < 1e-5, `${name}: preprocessed rel_l2 ${err}`);
    }
  });

  it('interpolates the golden position embedding for a 224×224 input', () => {
    for (const name of ['dinov2_features_32px_n4', 'dinov2_features_64px_n3', 'dinov2_features_grey_232x184_n1']) {
      const c = loadCase(name);
      const config = parseDinov2Config({ hub_model: c.json.model.hub_model });
      const pos = interpolatePositionEmbedding(c.tensor('model.pos_embed').data as Float32Array, c.json.model.embed_dim, config);
      const err = relativeL2(pos, c.tensor('pos_embed_interpolated').data as Float32Array);
      assert.ok(err < 5e-6, `${name}: pos_embed_interpolated rel_l2 ${err}`);
      // The same grid resampled with 37/16 (the offset ignored) is measurably another embedding.
      const wrong = interpolatePositionEmbedding(c.tensor('model.pos_embed').data as Float32Array, c.json.model.embed_dim, {
        ...config,
        interpolateOffset: 0,
      });
      assert.ok(relativeL2(wrong, c.tensor('pos_embed_interpolated').data as Float32Array) > 1e-3);
    }
  });
});
