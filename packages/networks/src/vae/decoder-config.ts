/**
 * The KL autoencoder's decoder (Stable Diffusion / LDM first stage), read from a decoder
 * directory's config.json in either of the two forms users have:
 * - diffusers' `AutoencoderKL` config, as `sd-vae-ft-ema` / `sd-vae-ft-mse` ship it
 *   (`block_out_channels`, `layers_per_block`, `latent_channels`, …);
 * - LDM's first-stage params, `{ "embed_dim": 4, "ddconfig": { "ch": 128, "ch_mult": [1, 2, 4, 4], … } }`
 *   (`first_stage_config.params` of an LDM / SD yaml, without its `lossconfig`).
 * Both describe the same decoder; the parsed form is one DecoderConfig whatever the source.
 */
import { parseWith } from '@diffq/contract';
import { z } from 'zod';

/** Stable Diffusion's latent scale (`scale_factor` of the LDM configs, diffusers' `scaling_factor` default). */
export const SD_SCALING_FACTOR = 0.18215;
/** Every GroupNorm of the decoder (ldm Normalize, diffusers resnet_eps / norm_out) uses this eps. */
export const DECODER_GROUPNORM_EPS = 1e-6;

/** Which state_dict key names the weights use (detected from the keys, see decoder-weights.ts). */
export type DecoderKeyLayout = 'diffusers' | 'ldm';

export interface DecoderConfig {
  /** Channels of the latent z (diffusers latent_channels, ldm embed_dim = z_channels). */
  latentChannels: number;
  /** Image channels (3: RGB). */
  outChannels: number;
  /** Width of each level, highest resolution first (ldm ch·ch_mult[i]); the decoder runs them in reverse. */
  blockOutChannels: number[];
  /** Resnets per level minus one: every up level has layersPerBlock + 1 (ldm num_res_blocks). */
  layersPerBlock: number;
  /** GroupNorm groups (32 in every released autoencoder). */
  normNumGroups: number;
  /** The decoder receives z / scalingFactor. */
  scalingFactor: number;
  keyLayout: DecoderKeyLayout;
}

/** What config.json fixes; the key layout comes from the weights. */
export type DecoderArchitecture = Omit<DecoderConfig, 'keyLayout'>;

const channels = z.number().int().min(1).max(4096);

/**
 * diffusers' AutoencoderKL config. Fields diffusers added over its versions are accepted and
 * ignored unless they change the decode; those that would (a shift, no post_quant_conv, no middle
 * attention, other block types) are refused rather than computed wrongly.
 */
const DiffusersSchema = z
  .object({
    _class_name: z.literal('AutoencoderKL').optional(),
    in_channels: channels.default(3),
    out_channels: z.number().int().min(1).max(4).default(3),
    latent_channels: z.number().int().min(1).max(64).default(4),
    block_out_channels: z.array(channels).min(1).max(8).default([64]),
    layers_per_block: z.number().int().min(0).max(16).default(1),
    norm_num_groups: z.number().int().min(1).max(1024).default(32),
    act_fn: z.literal('silu', { errorMap: () => ({ message: 'must be "silu" (the only activation of the KL decoder)' }) }).default('silu'),
    up_block_types: z.array(z.literal('UpDecoderBlock2D', { errorMap: () => ({ message: 'must be "UpDecoderBlock2D"' }) })).optional(),
    scaling_factor: z.number().positive().default(SD_SCALING_FACTOR),
    shift_factor: z
      .union([z.null(), z.literal(0)], {
        errorMap: () => ({ message: 'must be null or 0: a shifted latent (SD3/Flux VAEs) is not supported' }),
      })
      .optional(),
    latents_mean: z.null({ errorMap: () => ({ message: 'must be null: per-channel latent statistics are not supported' }) }).optional(),
    latents_std: z.null({ errorMap: () => ({ message: 'must be null: per-channel latent statistics are not supported' }) }).optional(),
    use_post_quant_conv: z
      .literal(true, { errorMap: () => ({ message: 'must be true: the decoder starts with post_quant_conv' }) })
      .optional(),
    mid_block_add_attention: z
      .literal(true, { errorMap: () => ({ message: 'must be true: the middle block has its attention' }) })
      .optional(),
  })
  .passthrough();

/** ldm's Decoder arguments (`ddconfig`); the decoder has attention in its middle block only. */
const DdconfigSchema = z
  .object({
    double_z: z.boolean().optional(),
    z_channels: z.number().int().min(1).max(64),
    resolution: z.number().int().positive().optional(),
    in_channels: channels.optional(),
    out_ch: z.number().int().min(1).max(4),
    ch: channels,
    ch_mult: z.array(z.number().int().min(1).max(64)).min(1).max(8),
    num_res_blocks: z.number().int().min(0).max(16),
    attn_resolutions: z
      .array(z.number().int())
      .max(0, 'must be [] (attention only in the middle block, as in the KL autoencoders of SD and DiT)')
      .default([]),
    dropout: z.number().min(0).max(1).optional(),
    attn_type: z.literal('vanilla', { errorMap: () => ({ message: 'must be "vanilla"' }) }).optional(),
    give_pre_end: z.literal(false, { errorMap: () => ({ message: 'must be false' }) }).optional(),
    tanh_out: z.literal(false, { errorMap: () => ({ message: 'must be false' }) }).optional(),
  })
  .strict();

/** LDM's first-stage params (`embed_dim`, `ddconfig`) plus the latent scale, SD's by default. */
const LdmSchema = z
  .object({
    embed_dim: z.number().int().min(1).max(64),
    ddconfig: DdconfigSchema,
    scaling_factor: z.number().positive().default(SD_SCALING_FACTOR),
  })
  .passthrough();

function checkGroups(a: DecoderArchitecture, where: string, field: string): DecoderArchitecture {
  const bad = a.blockOutChannels.find((c) => c % a.normNumGroups !== 0);
  if (bad !== undefined) {
    throw new Error(
      `${where}.${field}: level width ${bad} is not a multiple of the ${a.normNumGroups} GroupNorm groups; every width must be`,
    );
  }
  return a;
}

/** diffusers' AutoencoderKL config.json; errors name `where` and the field. */
export function parseDiffusersDecoderConfig(raw: unknown, where = 'config.json'): DecoderArchitecture {
  const a = parseWith(DiffusersSchema, raw, where);
  if (a.up_block_types && a.up_block_types.length !== a.block_out_channels.length) {
    throw new Error(
      `${where}.up_block_types has ${a.up_block_types.length} entries; accepted: one per block_out_channels entry (${a.block_out_channels.length})`,
    );
  }
  return checkGroups(
    {
      latentChannels: a.latent_channels,
      outChannels: a.out_channels,
      blockOutChannels: a.block_out_channels,
      layersPerBlock: a.layers_per_block,
      normNumGroups: a.norm_num_groups,
      scalingFactor: a.scaling_factor,
    },
    where,
    'block_out_channels',
  );
}

/** LDM's first-stage params `{ embed_dim, ddconfig, scaling_factor? }`; errors name `where` and the field. */
export function parseLdmDecoderConfig(raw: unknown, where = 'config.json'): DecoderArchitecture {
  const a = parseWith(LdmSchema, raw, where);
  const dd = a.ddconfig;
  if (dd.z_channels !== a.embed_dim) {
    throw new Error(
      `${where}.ddconfig.z_channels is ${dd.z_channels} but embed_dim is ${a.embed_dim}; accepted: equal (post_quant_conv maps embed_dim to z_channels)`,
    );
  }
  return checkGroups(
    {
      latentChannels: a.embed_dim,
      outChannels: dd.out_ch,
      blockOutChannels: dd.ch_mult.map((m) => dd.ch * m),
      layersPerBlock: dd.num_res_blocks,
      // ldm's Normalize is GroupNorm(num_groups=32) throughout.
      normNumGroups: 32,
      scalingFactor: a.scaling_factor,
    },
    where,
    'ddconfig.ch_mult',
  );
}

/** Either form of config.json, told apart by `block_out_channels` (diffusers) or `ddconfig` (LDM). */
export function parseDecoderConfig(raw: unknown, where = 'config.json'): DecoderArchitecture {
  const fields = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : undefined;
  if (!fields) throw new Error(`${where} must be a JSON object (diffusers' AutoencoderKL config or LDM's {embed_dim, ddconfig})`);
  const diffusers = 'block_out_channels' in fields;
  const ldm = 'ddconfig' in fields;
  if (diffusers === ldm) {
    throw new Error(
      `${where} has ${diffusers ? 'both' : 'neither'} block_out_channels (diffusers' AutoencoderKL config) ${diffusers ? 'and' : 'nor'} ddconfig (LDM's first-stage params); accepted: exactly one of them`,
    );
  }
  return diffusers ? parseDiffusersDecoderConfig(raw, where) : parseLdmDecoderConfig(raw, where);
}

/** The image side for a latent side: every level but the last doubles it. */
export function decoderImageSize(config: Pick<DecoderConfig, 'blockOutChannels'>, latentSize: number): number {
  return latentSize * 2 ** (config.blockOutChannels.length - 1);
}
