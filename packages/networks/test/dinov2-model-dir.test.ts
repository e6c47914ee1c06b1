import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dinov2ParamSpecs, parseDinov2Config, parseModelDirectory, randomDinov2Weights, type StoredTensor } from '@diffq/networks';
import { weightsFile } from '../../../test/fixtures/small-networks.ts';

const SMALL = { embed_dim: 32, depth: 2, num_heads: 2 };

function directory(model: Record<string, unknown>, edit: (w: Map<string, StoredTensor>) => void = () => {}, weightsModel = model) {
  const weights = randomDinov2Weights(parseDinov2Config(weightsModel), 3);
  edit(weights);
  const bytes = weightsFile(weights);
  return parseModelDirectory(JSON.stringify({ format: 'diffq-model/1', architecture: 'dinov2-vit-l14', model }), bytes);
}

describe('dinov2-vit-l14 model directories', () => {
  it('default to the real dinov2_vitl14: 1024 wide, 24 blocks, 16 heads, no registers, offset 0.1', () => {
    const c = parseDinov2Config(undefined);
    assert.deepEqual(c, {
      hubModel: 'dinov2_vitl14',
      embedDim: 1024,
      depth: 24,
      numHeads: 16,
      registers: 0,
      interpolateAntialias: false,
      interpolateOffset: 0.1,
    });
    // The official checkpoint: 5 + 24·14 + 2 tensors, 304.4 M values (the hub model's parameter count).
    const specs = dinov2ParamSpecs(c);
    assert.equal(specs.length, 5 + 24 * 14 + 2);
    assert.equal(
      specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0),
      304_368_640,
    );
    assert.deepEqual(
      specs.slice(0, 4).map((s) => s.key),
      ['cls_token', 'pos_embed', 'mask_token', 'patch_embed.proj.weight'],
    );
  });

  it('read the _reg variant with its 4 register tokens after pos_embed', () => {
    const dir = directory({ hub_model: 'dinov2_vitl14_reg', ...SMALL });
    assert.equal(dir.architecture, 'dinov2-vit-l14');
    assert.ok(dir.architecture === 'dinov2-vit-l14' && dir.dinov2.registers === 4 && dir.dinov2.interpolateAntialias);
    assert.deepEqual(dir.weights.get('register_tokens')?.shape, [1, 4, 32]);
  });

  it('name the key that a checkpoint of the other variant lacks or has in excess', () => {
    assert.throws(
      () => directory({ hub_model: 'dinov2_vitl14_reg', ...SMALL }, () => {}, { hub_model: 'dinov2_vitl14', ...SMALL }),
      /missing key "register_tokens" \(expected shape \[1, 4, 32\]\).*hub_model/,
    );
    assert.throws(
      () => directory({ hub_model: 'dinov2_vitl14', ...SMALL }, () => {}, { hub_model: 'dinov2_vitl14_reg', ...SMALL }),
      /unexpected key "register_tokens"/,
    );
    assert.throws(
      () => directory(SMALL, (w) => w.set('blocks.1.ls2.gamma', { dtype: 'F32', shape: [31], data: new Float32Array(31) })),
      /key "blocks.1.ls2.gamma" has shape \[31\] but the model configuration implies \[32\]/,
    );
  });

  it('refuse bad model fields naming the field and what is accepted', () => {
    assert.throws(
      () => directory({ ...SMALL, num_heads: 3 }, () => {}, SMALL),
      /model.json.model.num_heads is 3; it must divide embed_dim \(32\)/,
    );
    assert.throws(
      () => directory({ ...SMALL, hub_model: 'dinov2_vitb14' }, () => {}, SMALL),
      /hub_model.*"dinov2_vitl14", "dinov2_vitl14_reg"/,
    );
    assert.throws(() => directory({ ...SMALL, patch_size: 16 }, () => {}, SMALL), /unknown field "patch_size"/);
  });
});
