/**
 * The noisy classifier's architecture, read from model.json's `model` object when the architecture
 * is `adm-classifier`. Field names are create_classifier's argument names (the classifier_* flags of
 * guided-diffusion's classifier scripts), plus the values create_classifier hard-codes
 * (channel_mult, out_channels, num_head_channels, in_channels), which a checkpoint may override.
 */
import { z } from 'zod';
import { formatZodError } from '../validation.ts';
import { CommaIntsSchema, defaultChannelMult, parseCommaInts } from './config.ts';

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
    classifier_use_fp16: z.boolean().optional(),
    channel_mult: CommaIntsSchema.default(''),
    out_channels: z.number().int().min(1).default(1000),
    num_head_channels: z.number().int().min(-1).default(64),
    in_channels: z.number().int().min(1).max(64).default(3),
    derived: z.unknown().optional(),
  })
  .strict();

export type ClassifierArgs = z.input<typeof ClassifierArgsSchema>;

/** EncoderUNetModel's arguments with every default resolved. */
export interface ClassifierConfig {
  imageSize: number;
  modelChannels: number;
  numResBlocks: number;
  channelMult: number[];
  /** Downsample rates (image_size / resolution) whose blocks get attention. */
  attentionDs: number[];
  /** Unused when numHeadChannels is set (create_classifier always sets it); EncoderUNetModel's default 1. */
  numHeads: number;
  numHeadChannels: number;
  useScaleShiftNorm: boolean;
  resblockUpdown: boolean;
  /** create_classifier keeps EncoderUNetModel's default: the legacy order in its attention blocks. */
  useNewAttentionOrder: boolean;
  pool: ClassifierPool;
  inChannels: number;
  /** Number of classes (logits). */
  outChannels: number;
}

/** Validates model.json's `model` object of a classifier and resolves create_classifier's defaults. */
export function parseClassifierConfig(raw: unknown, where = 'model'): ClassifierConfig {
  const parsed = ClassifierArgsSchema.safeParse(raw);
  if (!parsed.success) throw new Error(formatZodError(parsed.error, where));
  const a = parsed.data;
  const given = parseCommaInts(a.channel_mult);
  const channelMult = given.length > 0 ? given : defaultChannelMult(a.image_size);
  const attentionDs = parseCommaInts(a.classifier_attention_resolutions).map((res) => {
    if (a.image_size % res !== 0) {
      throw new Error(`${where}.classifier_attention_resolutions: ${res} does not divide image_size ${a.image_size}`);
    }
    return a.image_size / res;
  });
  if (a.num_head_channels === 0) throw new Error(`${where}.num_head_channels must be -1 or a positive channel count; got 0`);
  if (a.classifier_pool === 'attention' && a.num_head_channels === -1) {
    throw new Error(`${where}.num_head_channels must be a positive channel count with classifier_pool "attention"; got -1`);
  }
  const levels = channelMult.length;
  if (a.image_size % 2 ** (levels - 1) !== 0) {
    throw new Error(
      `${where}.channel_mult has ${levels} levels, so image_size must be divisible by ${2 ** (levels - 1)}; got ${a.image_size}`,
    );
  }
  for (const m of channelMult) {
    const ch = Math.trunc(m * a.classifier_width);
    if (ch % 32 !== 0)
      throw new Error(`${where}: level width ${ch} (classifier_width × channel_mult) must be a multiple of 32 for GroupNorm(32)`);
    if (a.num_head_channels > 0 && ch % a.num_head_channels !== 0) {
      throw new Error(`${where}.num_head_channels ${a.num_head_channels} must divide every level width; ${ch} is not a multiple`);
    }
  }
  return {
    imageSize: a.image_size,
    modelChannels: a.classifier_width,
    numResBlocks: a.classifier_depth,
    channelMult,
    attentionDs,
    numHeads: 1,
    numHeadChannels: a.num_head_channels,
    useScaleShiftNorm: a.classifier_use_scale_shift_norm,
    resblockUpdown: a.classifier_resblock_updown,
    useNewAttentionOrder: false,
    pool: a.classifier_pool,
    inChannels: a.in_channels,
    outChannels: a.out_channels,
  };
}
