/**
 * The DiT denoiser's architecture (facebookresearch/DiT, models.py), read from model.json's `model`
 * object. The fields are DiT's constructor arguments under their own names, so a user copies the
 * arguments of the DiT_* function their checkpoint was trained with; unlike the UNet's config the
 * parsed form keeps those names, because every one of them is already resolved by DiT's defaults.
 */
import { parseWith } from '@diffq/contract';
import { z } from 'zod';

export interface DiTConfig {
  /** Side of the (latent) input, e.g. 32 for a 256² image through the SD autoencoder. */
  input_size: number;
  patch_size: number;
  in_channels: number;
  hidden_size: number;
  depth: number;
  num_heads: number;
  mlp_ratio: number;
  /** > 0 gives the label table its null row `num_classes`, the label classifier-free guidance uses. */
  class_dropout_prob: number;
  num_classes: number;
  /** The output holds in_channels variance values after the ε channels. */
  learn_sigma: boolean;
}

/**
 * model.json `model` for `architecture: "dit"`. The shape of the network must be given; the rest
 * default to DiT's constructor defaults (DiT-XL/2's). `derived` is what a golden case.json adds.
 */
export const DiTArgsSchema = z
  .object({
    input_size: z.number().int().min(1).max(1024),
    patch_size: z.number().int().min(1).max(64),
    in_channels: z.number().int().min(1).max(64).default(4),
    hidden_size: z.number().int().min(4).max(16384),
    depth: z.number().int().min(1).max(256),
    num_heads: z.number().int().min(1).max(256),
    mlp_ratio: z.number().positive().max(64).default(4),
    class_dropout_prob: z.number().min(0).max(1).default(0.1),
    num_classes: z.number().int().min(1).max(1_000_000).default(1000),
    learn_sigma: z.boolean().default(true),
    derived: z.unknown().optional(),
  })
  .strict();

export type DiTArgs = z.input<typeof DiTArgsSchema>;

/** Validates model.json's `model` object for a DiT and resolves DiT's defaults. Errors name the field. */
export function parseDiTConfig(raw: unknown, where = 'model'): DiTConfig {
  const a = parseWith(DiTArgsSchema, raw, where);
  if (a.input_size % a.patch_size !== 0) {
    throw new Error(`${where}.patch_size ${a.patch_size} must divide input_size ${a.input_size} (the patches tile the input)`);
  }
  // get_2d_sincos_pos_embed splits hidden_size in halves (rows, columns), each in sin and cos halves.
  if (a.hidden_size % 4 !== 0) {
    throw new Error(`${where}.hidden_size ${a.hidden_size} must be a multiple of 4 (the 2-D sin-cos position embedding)`);
  }
  if (a.hidden_size % a.num_heads !== 0) {
    throw new Error(`${where}.num_heads ${a.num_heads} must divide hidden_size ${a.hidden_size}`);
  }
  if (Math.trunc(a.hidden_size * a.mlp_ratio) < 1) {
    throw new Error(
      `${where}.mlp_ratio ${a.mlp_ratio} gives an MLP of int(hidden_size · mlp_ratio) = 0 units; accepted: a ratio giving ≥ 1`,
    );
  }
  return {
    input_size: a.input_size,
    patch_size: a.patch_size,
    in_channels: a.in_channels,
    hidden_size: a.hidden_size,
    depth: a.depth,
    num_heads: a.num_heads,
    mlp_ratio: a.mlp_ratio,
    class_dropout_prob: a.class_dropout_prob,
    num_classes: a.num_classes,
    learn_sigma: a.learn_sigma,
  };
}

/** DiT's out_channels: the ε channels, and as many variance channels with learn_sigma. */
export function ditOutChannels(c: DiTConfig): number {
  return c.learn_sigma ? 2 * c.in_channels : c.in_channels;
}

/** The label that means "no class" (the label table's extra row), or null when the table has none. */
export function ditNullLabel(c: DiTConfig): number | null {
  return c.class_dropout_prob > 0 ? c.num_classes : null;
}
