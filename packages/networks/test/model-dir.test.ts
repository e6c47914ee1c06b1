import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { initBackend } from '@diffq/diffusion';
import {
  createUNet,
  loadClassifier,
  loadUNet,
  parseClassifierConfig,
  parseModelDirectory,
  parseUNetConfig,
  randomClassifierWeights,
  randomUNetWeights,
  readModelDirectory,
  type StoredTensor,
  TfjsEngine,
  writeSafetensors,
} from '@diffq/networks';
import * as tf from '@tensorflow/tfjs';
import { CLASSIFIER_8, UNET_8, weightsFile, writeModelDirectory } from '../../../test/fixtures/small-networks.ts';

await initBackend();

/** UNET_8 with create_model's optional flags spelled out, as a user's model.json may have them. */
const MODEL = {
  ...UNET_8,
  num_head_channels: -1,
  num_heads_upsample: -1,
  resblock_updown: false,
  use_new_attention_order: false,
  in_channels: 3,
  dropout: 0.1,
};

const MODEL_JSON = {
  format: 'diffq-model/1',
  architecture: 'adm-unet',
  model: MODEL,
  diffusion: { steps: 1000, noise_schedule: 'cosine', learn_sigma: true },
  guidance: { null_label: 3 },
};

const unetConfig = parseUNetConfig(MODEL);

/** parseModelDirectory of a model.json (object or raw text) and a state dict edited by `edit`. */
function parse(json: unknown, edit: (d: Map<string, StoredTensor>) => void = () => {}) {
  const dict = randomUNetWeights(unetConfig, 1);
  edit(dict);
  return parseModelDirectory(typeof json === 'string' ? json : JSON.stringify(json), weightsFile(dict));
}

describe('model directory', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'diffq-model-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads model.json and weights.safetensors and runs the network they describe', async () => {
    const dict = randomUNetWeights(unetConfig, 1);
    await writeModelDirectory(dir, MODEL_JSON, dict);
    const model = await readModelDirectory(dir);
    assert.equal(model.architecture, 'adm-unet');
    assert.ok(model.architecture === 'adm-unet' && model.nullLabel === 3);
    assert.deepEqual(model.diffusion, MODEL_JSON.diffusion);
    const fromDir = new TfjsEngine(loadUNet(model));
    const direct = new TfjsEngine(createUNet(unetConfig, dict));
    const x = tf.randomNormal([2, 3, 8, 8], 0, 1, 'float32', 1) as tf.Tensor4D;
    const t = tf.tensor1d([0, 999]);
    const y = tf.tensor1d([1, 3], 'int32');
    const a = await fromDir.forward(x, t, y);
    const b = await direct.forward(x, t, y);
    assert.deepEqual(a.dataSync(), b.dataSync());
    tf.dispose([x, t, y, a, b]);
    fromDir.dispose();
    direct.dispose();
  });

  it('says which file is missing', async () => {
    await assert.rejects(
      readModelDirectory(join(dir, 'nowhere')),
      /nowhere\/model\.json does not exist; a model directory holds model\.json and weights\.safetensors/,
    );
  });

  it('names the first missing weight and its expected shape', () => {
    assert.throws(
      () => parse(MODEL_JSON, (d) => d.delete('input_blocks.1.0.in_layers.2.weight')),
      /weights\.safetensors: missing key "input_blocks\.1\.0\.in_layers\.2\.weight" \(expected shape \[32, 32, 3, 3\]\); 1 of \d+ expected keys are missing/,
    );
  });

  it('points at the "module." prefix of a DataParallel checkpoint', () => {
    assert.throws(
      () =>
        parse(MODEL_JSON, (d) => {
          for (const [k, v] of [...d]) {
            d.delete(k);
            d.set(`module.${k}`, v);
          }
        }),
      /missing key "time_embed\.0\.weight".*"module\." prefix/,
    );
  });

  it('names an unexpected weight', () => {
    assert.throws(
      () => parse(MODEL_JSON, (d) => d.set('input_blocks.9.0.op.weight', { dtype: 'F32', shape: [2], data: new Float32Array(2) })),
      /weights\.safetensors: unexpected key "input_blocks\.9\.0\.op\.weight" \(shape \[2\]\)/,
    );
  });

  it('names a weight of the wrong shape and the shape model.json implies', () => {
    assert.throws(
      () => parse(MODEL_JSON, (d) => d.set('label_emb.weight', { dtype: 'F32', shape: [10, 128], data: new Float32Array(1280) })),
      /key "label_emb\.weight" has shape \[10, 128\] but the model configuration implies \[4, 128\]/,
    );
  });

  const badJson: [string, unknown, RegExp][] = [
    ['text that is not JSON', '{"format": ', /model\.json is not valid JSON/],
    [
      'an unknown format',
      { ...MODEL_JSON, format: 'diffq-model/2' },
      /Invalid model\.json: format must be one of "diffq-model\/1" \(got "diffq-model\/2"\)/,
    ],
    [
      'an unknown architecture',
      { ...MODEL_JSON, architecture: 'unet' },
      /Invalid model\.json: architecture must be one of "adm-unet", "adm-classifier", .* \(got "unet"\)/,
    ],
    ['a denoiser without diffusion', { ...MODEL_JSON, diffusion: undefined }, /Invalid model\.json: diffusion is required \(an object\)/],
    [
      'an unknown top-level field',
      { ...MODEL_JSON, extra: 1 },
      /Invalid model\.json: model\.json has unknown field "extra"; check the spelling/,
    ],
    [
      'a mistyped model field',
      { ...MODEL_JSON, model: { ...MODEL, num_channels: '32' } },
      /Invalid model\.json\.model: num_channels must be a number \(got "32"\)/,
    ],
    [
      'an unknown model field',
      { ...MODEL_JSON, model: { ...MODEL, num_channel: 32 } },
      /Invalid model\.json\.model: model\.json\.model has unknown field "num_channel"; check the spelling/,
    ],
    [
      'a null label outside the classes',
      { ...MODEL_JSON, guidance: { null_label: 4 } },
      /model\.json\.guidance\.null_label is 4; accepted: null or a label in 0\.\.3/,
    ],
    [
      'a negative null label',
      { ...MODEL_JSON, guidance: { null_label: -1 } },
      /Invalid model\.json: guidance\.null_label must be at least 0 \(got -1\)/,
    ],
  ];
  for (const [what, json, message] of badJson) {
    it(`rejects ${what}, naming the field`, () => {
      assert.throws(() => parse(json), message);
    });
  }

  it('loads a classifier directory and keeps it apart from denoisers', () => {
    const config = parseClassifierConfig(CLASSIFIER_8);
    const json = { format: 'diffq-model/1', architecture: 'adm-classifier', model: CLASSIFIER_8 };
    const model = parseModelDirectory(JSON.stringify(json), weightsFile(randomClassifierWeights(config, 2)));
    assert.equal(model.architecture, 'adm-classifier');
    assert.throws(() => loadUNet(model), /model\.json\.architecture is "adm-classifier"; a denoiser needs "adm-unet"/);
    const classifier = loadClassifier(model);
    assert.deepEqual(classifier.config, config);
    classifier.dispose();
    assert.throws(
      () => parseModelDirectory(JSON.stringify({ ...json, model: { ...CLASSIFIER_8, classifier_pool: 'max' } }), new Uint8Array(8)),
      /Invalid model\.json\.model: classifier_pool must be one of "adaptive", "attention", "spatial", "spatial_v2" \(got "max"\)/,
    );
  });

  it('accepts the DDPM-IP CIFAR-10 model.json of docs/models.md', () => {
    const json = {
      format: 'diffq-model/1',
      architecture: 'adm-unet',
      model: {
        image_size: 32,
        num_channels: 128,
        num_res_blocks: 3,
        channel_mult: '1,2,2,2',
        attention_resolutions: '16,8',
        num_heads: 4,
        num_head_channels: 32,
        num_heads_upsample: -1,
        use_scale_shift_norm: true,
        resblock_updown: true,
        use_new_attention_order: true,
        learn_sigma: true,
        class_cond: false,
        num_classes: null,
        in_channels: 3,
        dropout: 0.3,
      },
      diffusion: { steps: 1000, noise_schedule: 'cosine', learn_sigma: true, rescale_learned_sigmas: true },
      guidance: { null_label: null },
    };
    // The weights are the only thing missing: the error names the first key of the model.
    assert.throws(
      () => parseModelDirectory(JSON.stringify(json), writeSafetensors({})),
      /missing key "time_embed\.0\.weight" \(expected shape \[512, 128\]\)/,
    );
  });
});
