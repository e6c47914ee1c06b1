import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  checkDiTStateDict,
  ditOutChannels,
  ditParameterCount,
  ditPosEmbed,
  parseDiTConfig,
  parseModelDirectory,
  randomDiTWeights,
  readModelDirectory,
  readSafetensors,
  type StoredTensor,
} from '@diffq/networks';
import { parseDiTConfig as parseDiTConfigTfjsFree } from '@diffq/networks/config';
import { DIT_8, weightsFile, writeModelDirectory } from '../../../test/fixtures/small-networks.ts';

const config = parseDiTConfig(DIT_8);
const weights = randomDiTWeights(config, 3);
const DIFFUSION = { steps: 1000, noise_schedule: 'linear', learn_sigma: true };
const modelJson = (extra: Record<string, unknown> = {}) => ({
  format: 'diffq-model/1',
  architecture: 'dit',
  model: DIT_8,
  diffusion: DIFFUSION,
  ...extra,
});
const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

describe('parseDiTConfig', () => {
  it("resolves DiT's constructor defaults and counts DiT-XL/2's 675M parameters", () => {
    const xl = parseDiTConfig({ input_size: 32, patch_size: 2, hidden_size: 1152, depth: 28, num_heads: 16 });
    assert.deepEqual(xl, {
      input_size: 32,
      patch_size: 2,
      in_channels: 4,
      hidden_size: 1152,
      depth: 28,
      num_heads: 16,
      mlp_ratio: 4,
      class_dropout_prob: 0.1,
      num_classes: 1000,
      learn_sigma: true,
    });
    assert.equal(ditOutChannels(xl), 8);
    // DiT's README: DiT-XL/2 has 675M parameters (pos_embed, frozen, is not counted there).
    assert.equal(Math.round((ditParameterCount(xl) - 256 * 1152) / 1e6), 675);
  });

  it('names the field and the accepted range of a bad value', () => {
    assert.throws(() => parseDiTConfig({ ...DIT_8, depth: 0 }), /Invalid model: depth must be at least 1 \(got 0\)/);
    assert.throws(
      () => parseDiTConfig({ ...DIT_8, class_dropout_prob: 1.5 }),
      /Invalid model: class_dropout_prob must be at most 1 \(got 1\.5\)/,
    );
    assert.throws(() => parseDiTConfig({ ...DIT_8, learn_sigma: 'yes' }), /learn_sigma must be a boolean/);
    assert.throws(() => parseDiTConfig({ ...DIT_8, hidden_sise: 32 }), /unknown field "hidden_sise"/);
    const { hidden_size: _, ...noHidden } = DIT_8;
    assert.throws(() => parseDiTConfig(noHidden), /hidden_size is required/);
  });

  it('refuses sizes the network cannot be built with, saying which fields disagree', () => {
    assert.throws(() => parseDiTConfig({ ...DIT_8, patch_size: 3 }), /model\.patch_size 3 must divide input_size 8/);
    assert.throws(() => parseDiTConfig({ ...DIT_8, num_heads: 3 }), /model\.num_heads 3 must divide hidden_size 32/);
    assert.throws(() => parseDiTConfig({ ...DIT_8, hidden_size: 30, num_heads: 1 }), /model\.hidden_size 30 must be a multiple of 4/);
  });

  it('is exported by the tfjs-free config entry point', () => {
    assert.deepEqual(parseDiTConfigTfjsFree(DIT_8), config);
  });
});

describe('the DiT state_dict check', () => {
  it('accepts exactly the keys the plan names', () => {
    checkDiTStateDict(config, weights, 'weights');
  });

  it('names a missing key with its shape', () => {
    const missing = new Map(weights);
    missing.delete('blocks.1.mlp.fc2.weight');
    assert.throws(
      () => checkDiTStateDict(config, missing, 'weights'),
      /missing key "blocks\.1\.mlp\.fc2\.weight" \(expected shape \[32, 128\]\)/,
    );
  });

  it('names a key of the wrong shape, e.g. a label table without the null row', () => {
    const noNullRow = new Map(weights);
    noNullRow.set('y_embedder.embedding_table.weight', { dtype: 'F32', shape: [5, 32], data: new Float32Array(5 * 32) });
    assert.throws(
      () => checkDiTStateDict(config, noNullRow, 'weights'),
      /key "y_embedder\.embedding_table\.weight" has shape \[5, 32\] but the model configuration implies \[6, 32\]/,
    );
  });

  it('says a training checkpoint must be unwrapped to its ema weights', () => {
    const training = new Map([...weights].map(([k, v]) => [`ema.${k}`, v] as [string, StoredTensor]));
    assert.throws(() => checkDiTStateDict(config, training, 'weights'), /"ema\." prefix.*state_dict\["ema"\]/);
  });
});

describe('ditPosEmbed', () => {
  it("equals the pos_embed DiT's get_2d_sincos_pos_embed stored in the golden case", () => {
    const dir = join(import.meta.dirname, '../../../test/golden/cases/dit_forward_in8_p2_h64_d2_heads4_ls_cfg4');
    const { tensors } = readSafetensors(new Uint8Array(readFileSync(join(dir, 'tensors.safetensors'))));
    const stored = tensors.get('model.pos_embed')?.data as Float32Array;
    const ours = ditPosEmbed(64, 4);
    assert.equal(ours.length, stored.length);
    assert.ok(
      ours.every((v, i) => Math.abs(v - stored[i]) <= 1e-6),
      'sin-cos table differs from the stored one',
    );
  });
});

describe('DiT model directories', () => {
  it('parses architecture "dit" with its decoder, and the null label defaults to the null row', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'diffq-dit-dir-'));
    dirs.push(dir);
    await writeModelDirectory(dir, modelJson({ decoder: '../sd-vae-ft-ema' }), weights);
    const model = await readModelDirectory(dir);
    assert.equal(model.architecture, 'dit');
    if (model.architecture !== 'dit') return;
    assert.deepEqual(model.dit, config);
    assert.equal(model.decoder, '../sd-vae-ft-ema');
    assert.equal(model.nullLabel, 5);
    assert.deepEqual(model.diffusion, DIFFUSION);
  });

  it('has no null label without class dropout, and refuses a null label past the table', () => {
    const noDropout = { ...DIT_8, class_dropout_prob: 0 };
    const w = weightsFile(randomDiTWeights(parseDiTConfig(noDropout), 1));
    const model = parseModelDirectory(JSON.stringify(modelJson({ model: noDropout })), w);
    assert.equal(model.architecture === 'dit' && model.nullLabel, null);
    assert.throws(
      () => parseModelDirectory(JSON.stringify(modelJson({ model: noDropout, guidance: { null_label: 5 } })), w),
      /model\.json\.guidance\.null_label is 5; accepted: null or a label in 0\.\.4/,
    );
  });

  it('names model.json fields: the model arguments, and a decoder that is not a path', () => {
    const w = weightsFile(weights);
    assert.throws(
      () => parseModelDirectory(JSON.stringify(modelJson({ model: { ...DIT_8, depth: -2 } })), w),
      /Invalid model\.json\.model: depth must be at least 1/,
    );
    assert.throws(() => parseModelDirectory(JSON.stringify(modelJson({ decoder: 4 })), w), /Invalid model\.json: decoder must be a string/);
  });

  it('names the weight that does not match model.json', () => {
    const w = weightsFile(randomDiTWeights(parseDiTConfig({ ...DIT_8, depth: 1 }), 1));
    assert.throws(
      () => parseModelDirectory(JSON.stringify(modelJson()), w),
      /weights\.safetensors: missing key "blocks\.1\.attn\.qkv\.weight"/,
    );
  });
});
