/**
 * The full-size latent networks the benchmarks and the device check time: one home, so that the
 * CPU benches (latent-dit.ts, latent-decoder.ts) and the GPU check (device/device-check.ts) measure
 * the same networks.
 */
import { type DiTConfig, parseDiTConfig } from '@diffq/networks';

/** DiT_XL_2 of models.py with DiT's constructor defaults (675M parameters, ~119 GFLOP per forward). */
export const DIT_XL_2: DiTConfig = parseDiTConfig({ input_size: 32, patch_size: 2, hidden_size: 1152, depth: 28, num_heads: 16 });

/** stabilityai/sd-vae-ft-ema's config.json (the decoder DiT's published FIDs were decoded with). */
export const SD_VAE_CONFIG = {
  _class_name: 'AutoencoderKL',
  act_fn: 'silu',
  block_out_channels: [128, 256, 512, 512],
  in_channels: 3,
  latent_channels: 4,
  layers_per_block: 2,
  norm_num_groups: 32,
  out_channels: 3,
  sample_size: 256,
  up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D'],
};
