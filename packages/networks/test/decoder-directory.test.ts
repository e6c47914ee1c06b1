import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  decoderImageSize,
  decoderParamSpecs,
  parseDecoderConfig,
  parseDiffusersDecoderConfig,
  parseLdmDecoderConfig,
  planDecoder,
  readDecoderDirectory,
  type StoredTensor,
} from '@diffq/networks';
import {
  DECODER_SMALL_DIFFUSERS,
  DECODER_SMALL_LDM,
  smallDecoderConfig,
  writeDecoderDirectory,
} from '../../../test/fixtures/decoder-directory.ts';
import { weightsFile } from '../../../test/fixtures/small-networks.ts';

const root = mkdtempSync(join(tmpdir(), 'diffq-decoder-dir-'));
after(() => rmSync(root, { recursive: true, force: true }));
let count = 0;
const fresh = () => {
  const dir = join(root, `d${count++}`);
  mkdirSync(dir);
  return dir;
};

/** stabilityai/sd-vae-ft-ema's config.json as downloaded (no scaling_factor: diffusers' default applies). */
const SD_VAE_FT_EMA = {
  _class_name: 'AutoencoderKL',
  _diffusers_version: '0.4.2',
  act_fn: 'silu',
  block_out_channels: [128, 256, 512, 512],
  down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D'],
  in_channels: 3,
  latent_channels: 4,
  layers_per_block: 2,
  norm_num_groups: 32,
  out_channels: 3,
  sample_size: 256,
  up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D'],
};

const tensor = (shape: number[]): StoredTensor => ({ dtype: 'F32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });

describe('the decoder config', () => {
  it("reads sd-vae-ft-ema's config.json as downloaded, with diffusers' scaling_factor default 0.18215", () => {
    assert.deepEqual(parseDiffusersDecoderConfig(SD_VAE_FT_EMA), {
      latentChannels: 4,
      outChannels: 3,
      blockOutChannels: [128, 256, 512, 512],
      layersPerBlock: 2,
      normNumGroups: 32,
      scalingFactor: 0.18215,
    });
  });

  it("fills diffusers' defaults for absent fields and keeps a given scaling_factor", () => {
    const a = parseDiffusersDecoderConfig({ block_out_channels: [64, 64], scaling_factor: 0.13025 });
    assert.deepEqual(a, {
      latentChannels: 4,
      outChannels: 3,
      blockOutChannels: [64, 64],
      layersPerBlock: 1,
      normNumGroups: 32,
      scalingFactor: 0.13025,
    });
  });

  it('reads LDM first-stage params as the same decoder', () => {
    assert.deepEqual(parseLdmDecoderConfig(DECODER_SMALL_LDM), parseDiffusersDecoderConfig(DECODER_SMALL_DIFFUSERS));
    assert.deepEqual(parseDecoderConfig(DECODER_SMALL_LDM), parseDecoderConfig(DECODER_SMALL_DIFFUSERS));
  });

  it('refuses a wrong field, naming it and what is accepted', () => {
    assert.throws(
      () => parseDiffusersDecoderConfig({ block_out_channels: [48] }, 'vae/config.json'),
      /vae\/config\.json\.block_out_channels: level width 48 is not a multiple of the 32 GroupNorm groups/,
    );
    assert.throws(
      () => parseDiffusersDecoderConfig({ block_out_channels: [64], layers_per_block: '2' }, 'vae/config.json'),
      /layers_per_block must be a number \(got "2"\)/,
    );
    assert.throws(() => parseDiffusersDecoderConfig({ block_out_channels: [64], shift_factor: 0.1159 }), /shift_factor must be null or 0/);
    assert.throws(
      () => parseDiffusersDecoderConfig({ block_out_channels: [64, 64], up_block_types: ['UpDecoderBlock2D'] }),
      /up_block_types has 1 entries; accepted: one per block_out_channels entry \(2\)/,
    );
    assert.throws(() => parseLdmDecoderConfig({ ...DECODER_SMALL_LDM, embed_dim: 8 }), /ddconfig.z_channels is 4 but embed_dim is 8/);
    assert.throws(
      () => parseLdmDecoderConfig({ ...DECODER_SMALL_LDM, ddconfig: { ...DECODER_SMALL_LDM.ddconfig, attn_resolutions: [8] } }),
      /ddconfig\.attn_resolutions must be \[\]/,
    );
    assert.throws(() => parseDecoderConfig({ latent_channels: 4 }, 'x.json'), /x\.json has neither block_out_channels .* nor ddconfig/);
  });

  it('gives the image side: the latent side doubled at every level but the last', () => {
    assert.equal(decoderImageSize(parseDiffusersDecoderConfig(SD_VAE_FT_EMA), 32), 256);
    assert.equal(decoderImageSize(parseDiffusersDecoderConfig(DECODER_SMALL_DIFFUSERS), 8), 16);
    assert.equal(decoderImageSize({ blockOutChannels: [32] }, 5), 5);
  });

  it('plans the same modules in both key layouts, ldm up.j running as diffusers up_blocks.(L−1−j)', () => {
    const ldm = decoderParamSpecs(planDecoder({ ...parseDiffusersDecoderConfig(SD_VAE_FT_EMA), keyLayout: 'ldm' }));
    const diffusers = decoderParamSpecs(planDecoder({ ...parseDiffusersDecoderConfig(SD_VAE_FT_EMA), keyLayout: 'diffusers' }));
    assert.equal(ldm.length, diffusers.length);
    const pairs = new Map(ldm.map((s, i) => [s.key, diffusers[i].key]));
    assert.equal(pairs.get('decoder.up.3.block.0.conv1.weight'), 'decoder.up_blocks.0.resnets.0.conv1.weight');
    assert.equal(pairs.get('decoder.up.1.block.0.nin_shortcut.weight'), 'decoder.up_blocks.2.resnets.0.conv_shortcut.weight');
    assert.equal(pairs.get('decoder.up.1.upsample.conv.weight'), 'decoder.up_blocks.2.upsamplers.0.conv.weight');
    assert.equal(pairs.get('decoder.mid.attn_1.proj_out.weight'), 'decoder.mid_block.attentions.0.to_out.0.weight');
    assert.equal(pairs.get('decoder.norm_out.bias'), 'decoder.conv_norm_out.bias');
    assert.ok(!ldm.some((s) => s.key.startsWith('decoder.up.0.upsample')), 'the last level has no upsampler');
    // The SD decoder's 49.49M decode-side parameters (decoder + post_quant_conv).
    assert.equal(
      ldm.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0),
      49_490_199,
    );
  });
});

describe('the decoder directory', () => {
  it('reads a diffusers directory as downloaded, ignoring the encoder, and pins its weights file by sha256', async () => {
    const dir = fresh();
    const extra = new Map([
      ['encoder.conv_in.weight', tensor([32, 3, 3, 3])],
      ['quant_conv.weight', tensor([8, 8, 1, 1])],
    ]);
    const written = await writeDecoderDirectory(dir, { layout: 'diffusers', extra });
    const d = await readDecoderDirectory(dir);
    assert.equal(d.config.keyLayout, 'diffusers');
    assert.deepEqual(d.config, smallDecoderConfig('diffusers'));
    assert.deepEqual([...d.weights.keys()].sort(), [...written.keys()].sort());
    assert.equal(d.weightsFile, 'diffusion_pytorch_model.safetensors');
    assert.equal(
      d.digest,
      createHash('sha256')
        .update(readFileSync(join(dir, d.weightsFile)))
        .digest('hex'),
    );
  });

  it('reads an LDM first stage behind first_stage_model., stripping the prefix and ignoring the rest of the checkpoint', async () => {
    const dir = fresh();
    const extra = new Map([['model.diffusion_model.input_blocks.0.0.weight', tensor([32, 4, 3, 3])]]);
    const written = await writeDecoderDirectory(dir, { layout: 'ldm', prefix: 'first_stage_model.', extra });
    const d = await readDecoderDirectory(dir);
    assert.equal(d.config.keyLayout, 'ldm');
    assert.equal(d.weightsFile, 'weights.safetensors');
    assert.deepEqual([...d.weights.keys()].sort(), [...written.keys()].sort());
    assert.ok(d.weights.has('decoder.mid.attn_1.q.weight'));
  });

  it('detects the layout from the keys, whichever form config.json has', async () => {
    const dir = fresh();
    await writeDecoderDirectory(dir, { layout: 'ldm', config: DECODER_SMALL_DIFFUSERS });
    assert.equal((await readDecoderDirectory(dir)).config.keyLayout, 'ldm');
  });

  it('renames the attention keys of diffusers files saved before 0.14 (query/key/value/proj_attn)', async () => {
    const dir = fresh();
    const weights = await writeDecoderDirectory(dir, { layout: 'diffusers' });
    const old = new Map(
      [...weights].map(([k, t]) => [
        k.replace('.to_q.', '.query.').replace('.to_k.', '.key.').replace('.to_v.', '.value.').replace('.to_out.0.', '.proj_attn.'),
        t,
      ]),
    );
    assert.ok(old.has('decoder.mid_block.attentions.0.proj_attn.weight'));
    writeFileSync(join(dir, 'diffusion_pytorch_model.safetensors'), weightsFile(old));
    const d = await readDecoderDirectory(dir);
    assert.deepEqual([...d.weights.keys()].sort(), [...weights.keys()].sort());
  });

  describe('refuses a malformed directory, naming the file and what is wrong', () => {
    it('without config.json', async () => {
      const dir = fresh();
      await writeDecoderDirectory(dir, { layout: 'diffusers' });
      rmSync(join(dir, 'config.json'));
      await assert.rejects(
        readDecoderDirectory(dir),
        /has no config\.json; a decoder directory holds config\.json and diffusion_pytorch_model\.safetensors or weights\.safetensors/,
      );
    });

    it('without a weights file, saying how to convert a .bin', async () => {
      const dir = fresh();
      await writeDecoderDirectory(dir, { layout: 'diffusers' });
      rmSync(join(dir, 'diffusion_pytorch_model.safetensors'));
      writeFileSync(join(dir, 'diffusion_pytorch_model.bin'), 'x');
      await assert.rejects(
        readDecoderDirectory(dir),
        /has no weights file; accepted: diffusion_pytorch_model\.safetensors or weights\.safetensors\. It holds diffusion_pytorch_model\.bin: convert it/,
      );
    });

    it('with config.json that is not JSON', async () => {
      const dir = fresh();
      await writeDecoderDirectory(dir, { layout: 'diffusers' });
      writeFileSync(join(dir, 'config.json'), '{"block_out_channels": [32, 64],');
      await assert.rejects(readDecoderDirectory(dir), (e: Error) => e.message.startsWith(`${join(dir, 'config.json')} is not valid JSON`));
    });

    it('with a config field out of range', async () => {
      const dir = fresh();
      await writeDecoderDirectory(dir, { layout: 'diffusers', config: { ...DECODER_SMALL_DIFFUSERS, act_fn: 'gelu' } });
      await assert.rejects(readDecoderDirectory(dir), /config\.json: act_fn must be "silu"/);
    });

    it('with a missing key', async () => {
      const dir = fresh();
      await writeDecoderDirectory(dir, { layout: 'ldm' });
      const file = join(dir, 'weights.safetensors');
      const d = await readDecoderDirectory(dir);
      const without = new Map([...d.weights].filter(([k]) => k !== 'decoder.up.1.upsample.conv.bias'));
      writeFileSync(file, weightsFile(without));
      await assert.rejects(readDecoderDirectory(dir), (e: Error) =>
        e.message.startsWith(`${file}: missing key "decoder.up.1.upsample.conv.bias" (expected shape [64])`),
      );
    });

    it('with a misshaped key, which the config would not read', async () => {
      const dir = fresh();
      await writeDecoderDirectory(dir, { layout: 'diffusers', config: { ...DECODER_SMALL_DIFFUSERS, latent_channels: 8 } });
      await assert.rejects(
        readDecoderDirectory(dir),
        /diffusion_pytorch_model\.safetensors: key "post_quant_conv\.weight" has shape \[4, 4, 1, 1\] but the model configuration implies \[8, 8, 1, 1\]/,
      );
    });

    it('with a weights file that holds no decoder', async () => {
      const dir = fresh();
      await writeDecoderDirectory(dir, { layout: 'diffusers' });
      writeFileSync(
        join(dir, 'diffusion_pytorch_model.safetensors'),
        weightsFile(new Map([['encoder.conv_in.weight', tensor([32, 3, 3, 3])]])),
      );
      await assert.rejects(
        readDecoderDirectory(dir),
        /diffusion_pytorch_model\.safetensors has no KL-decoder keys: .* its first keys are "encoder\.conv_in\.weight"/,
      );
    });

    it('with both weights files', async () => {
      const dir = fresh();
      await writeDecoderDirectory(dir, { layout: 'diffusers' });
      await writeDecoderDirectory(dir, { layout: 'ldm' });
      await assert.rejects(
        readDecoderDirectory(dir),
        /holds both diffusion_pytorch_model\.safetensors and weights\.safetensors; accepted: exactly one weights file/,
      );
    });
  });
});
