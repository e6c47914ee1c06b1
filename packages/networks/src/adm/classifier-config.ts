/**
 * The noisy classifier's architecture, read from model.json's `model` object when the architecture
 * is `adm-classifier`. Field names are create_classifier's argument names (the classifier_* flags of
 * guided-diffusion's classifier scripts), plus the values create_classifier hard-codes
 * (channel_mult, out_channels, num_head_channels, in_channels), which a checkpoint may override.
 */
import { parseWith } from '@diffq/contract';
import { z } from 'zod';
import type { TorsoOptions } from './plan.ts';
import { attentionRates, CommaIntsSchema, channelMultOrDefault, checkLevels } from './unet-config.ts';

export const CLASSIFIER_POOLS = ['adaptive', 'attention', 'spatial', 'spatial_v2'] as const;
export type ClassifierPool = (typeof CLASSIFIER_POOLS)[number];

/** model.json `model` for `adm-classifier`, as create_classifier takes it (snake_case). Unknown fields are rejected. */
export const ClassifierArgsSchema = z
  .object({
    image_size: z.number().int().min(4).max(1024),
    classifier_width: z.number().int().positive().max(4096).default(128),
    classifier_depth: z.number().int().min(1).max(16).default(2),
    classifier_attention_resolutions: CommaIntsSchema.default('32,16,8'),
    classifier_use_scale_shift_norm: z.boolean().default(true),
    classifier_resblock_updown: z.boolean().default(true),
    classifier_pool: z.enum(CLASSIFIER_POOLS).default('attention'),
    // Accepted as create_classifier takes it, and ignored (as use_fp16 in config.ts).
    classifier_use_fp16: z.boolean().optional(),
    channel_mult: CommaIntsSchema.default(''),
    out_channels: z.number().int().min(1).default(1000),
    num_head_channels: z.number().int().min(-1).default(64),
    in_channels: z.number().int().min(1).max(64).default(3),
    derived: z.unknown().optional(),
  })
  .strict();

export type ClassifierArgs = z.input<typeof ClassifierArgsSchema>;

/** EncoderUNetModel's arguments with every default resolved; the torso fields are shared with the UNet. */
export interface ClassifierConfig extends TorsoOptions {
  imageSize: number;
  pool: ClassifierPool;
  /** Number of classes (logits). */
  outChannels: number;
}

/** Validates model.json's `model` object of a classifier and resolves create_classifier's defaults. */
export function parseClassifierConfig(raw: unknown, where = 'model'): ClassifierConfig {
  const a = parseWith(ClassifierArgsSchema, raw, where);
  const channelMult = channelMultOrDefault(a.channel_mult, a.image_size);
  const attentionDs = attentionRates(a.classifier_attention_resolutions, a.image_size, `${where}.classifier_attention_resolutions`);
  if (a.num_head_channels === 0) throw new Error(`${where}.num_head_channels must be -1 or a positive channel count; got 0`);
  if (a.classifier_pool === 'attention' && a.num_head_channels === -1) {
    throw new Error(`${where}.num_head_channels must be a positive channel count with classifier_pool "attention"; got -1`);
  }
  checkLevels(where, {
    channelMult,
    imageSize: a.image_size,
    width: a.classifier_width,
    widthField: 'classifier_width',
    numHeadChannels: a.num_head_channels,
  });
  return {
    imageSize: a.image_size,
    modelChannels: a.classifier_width,
    numResBlocks: a.classifier_depth,
    channelMult,
    attentionDs,
    // EncoderUNetModel's default, used only with num_head_channels -1 (create_classifier sets 64).
    numHeads: 1,
    numHeadChannels: a.num_head_channels,
    useScaleShiftNorm: a.classifier_use_scale_shift_norm,
    resblockUpdown: a.classifier_resblock_updown,
    // create_classifier keeps EncoderUNetModel's default: the legacy order in its attention blocks.
    useNewAttentionOrder: false,
    pool: a.classifier_pool,
    inChannels: a.in_channels,
    outChannels: a.out_channels,
  };
}
