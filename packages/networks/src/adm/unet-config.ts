/**
 * The denoiser's architecture, read from model.json's `model` object. Field names on disk are
 * guided-diffusion's create_model argument names, so a user copies the flags of their training
 * command; inside diffq the parsed form is camelCase with every default resolved.
 */
import { parseWith } from '@diffq/contract';
import { z } from 'zod';
import type { TorsoOptions } from './plan.ts';

/** A list of integers as create_model's flags spell it ("1,2,2,2") or as a JSON list. */
export const CommaIntsSchema = z.union([
  z.string().regex(/^\s*(\d+\s*(,\s*\d+\s*)*)?$/, 'must be a comma-separated list of positive integers, e.g. "1,2,2,2"'),
  z.array(z.number().int().positive()),
]);

/** model.json `model`, as create_model takes it (snake_case). Unknown fields are rejected. */
export const UNetArgsSchema = z
  .object({
    image_size: z.number().int().min(4).max(1024),
    num_channels: z.number().int().positive().max(4096),
    num_res_blocks: z.number().int().min(1).max(16),
    channel_mult: CommaIntsSchema.default(''),
    attention_resolutions: CommaIntsSchema.default('16,8'),
    num_heads: z.number().int().min(1).default(1),
    num_head_channels: z.number().int().min(-1).default(-1),
    num_heads_upsample: z.number().int().min(-1).default(-1),
    use_scale_shift_norm: z.boolean().default(false),
    resblock_updown: z.boolean().default(false),
    use_new_attention_order: z.boolean().default(false),
    learn_sigma: z.boolean().default(false),
    class_cond: z.boolean().default(false),
    num_classes: z.number().int().min(1).nullable().default(null),
    in_channels: z.number().int().min(1).max(64).default(3),
    dropout: z.number().min(0).max(1).default(0),
    // Accepted so guided-diffusion's create_model flags load as they are, and ignored: they change how
    // PyTorch computes (memory, half precision), not the function. diffq's precision is a worker
    // setting (DIFFQ_ONNX_DTYPE) that a run records (docs/design.md#one-precision-per-run).
    use_checkpoint: z.boolean().optional(),
    use_fp16: z.boolean().optional(),
    derived: z.unknown().optional(),
  })
  .strict();

export type UNetArgs = z.input<typeof UNetArgsSchema>;

/** UNetModel's arguments with every default resolved; the torso fields are shared with the classifier. */
export interface UNetConfig extends TorsoOptions {
  imageSize: number;
  numHeadsUpsample: number;
  learnSigma: boolean;
  /** Number of label embeddings; null for an unconditional model. */
  numClasses: number | null;
  outChannels: number;
  dropout: number;
}

export function parseCommaInts(v: string | number[]): number[] {
  if (Array.isArray(v)) return v;
  return v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
}

/** create_model's channel_mult defaults by image size. */
export function defaultChannelMult(imageSize: number): number[] {
  const byImageSize: Record<number, number[]> = {
    512: [0.5, 1, 1, 2, 2, 4, 4],
    256: [1, 1, 2, 2, 4, 4],
    128: [1, 1, 2, 3, 4],
    64: [1, 2, 3, 4],
    32: [1, 2, 2, 2],
  };
  const mult = byImageSize[imageSize];
  if (!mult)
    throw new Error(`model.channel_mult is empty and image_size ${imageSize} has no default; give channel_mult explicitly, e.g. "1,2,2,2"`);
  return mult;
}

/** channel_mult as given, or create_model's default for the image size when it is empty. */
export function channelMultOrDefault(channelMult: string | number[], imageSize: number): number[] {
  const given = parseCommaInts(channelMult);
  return given.length > 0 ? given : defaultChannelMult(imageSize);
}

/** Attention resolutions as downsample rates image_size / resolution; `field` names them in errors. */
export function attentionRates(resolutions: string | number[], imageSize: number, field: string): number[] {
  return parseCommaInts(resolutions).map((res) => {
    if (imageSize % res !== 0) throw new Error(`${field}: ${res} does not divide image_size ${imageSize}`);
    return imageSize / res;
  });
}

/**
 * What UNetModel and EncoderUNetModel need of their levels: each level but the last halves the image,
 * and every level width int(mult·width) splits into GroupNorm's 32 groups and, when num_head_channels
 * is set, into whole heads. `widthField` names the width flag in errors.
 */
export function checkLevels(
  where: string,
  o: { channelMult: number[]; imageSize: number; width: number; widthField: string; numHeadChannels: number },
): void {
  const levels = o.channelMult.length;
  if (o.imageSize % 2 ** (levels - 1) !== 0) {
    throw new Error(
      `${where}.channel_mult has ${levels} levels, so image_size must be divisible by ${2 ** (levels - 1)}; got ${o.imageSize}`,
    );
  }
  for (const m of o.channelMult) {
    const ch = Math.trunc(m * o.width);
    if (ch % 32 !== 0)
      throw new Error(`${where}: level width ${ch} (${o.widthField} × channel_mult) must be a multiple of 32 for GroupNorm(32)`);
    if (o.numHeadChannels > 0 && ch % o.numHeadChannels !== 0) {
      throw new Error(`${where}.num_head_channels ${o.numHeadChannels} must divide every level width; ${ch} is not a multiple`);
    }
  }
}

/** Validates model.json's `model` object and resolves create_model's defaults. Errors name the field. */
export function parseUNetConfig(raw: unknown, where = 'model'): UNetConfig {
  const a = parseWith(UNetArgsSchema, raw, where);
  const channelMult = channelMultOrDefault(a.channel_mult, a.image_size);
  const attentionDs = attentionRates(a.attention_resolutions, a.image_size, `${where}.attention_resolutions`);
  let numClasses = a.num_classes;
  if (a.class_cond && numClasses === null) numClasses = 1000;
  if (!a.class_cond && numClasses !== null) {
    throw new Error(`${where}.num_classes is ${numClasses} but class_cond is false; set class_cond: true or num_classes: null`);
  }
  if (a.num_head_channels === 0 || (a.num_head_channels === -1 && a.num_heads < 1)) {
    throw new Error(`${where}.num_head_channels must be -1 (use num_heads) or a positive channel count`);
  }
  checkLevels(where, {
    channelMult,
    imageSize: a.image_size,
    width: a.num_channels,
    widthField: 'num_channels',
    numHeadChannels: a.num_head_channels,
  });
  return {
    imageSize: a.image_size,
    modelChannels: a.num_channels,
    numResBlocks: a.num_res_blocks,
    channelMult,
    attentionDs,
    numHeads: a.num_heads,
    numHeadChannels: a.num_head_channels,
    numHeadsUpsample: a.num_heads_upsample === -1 ? a.num_heads : a.num_heads_upsample,
    useScaleShiftNorm: a.use_scale_shift_norm,
    resblockUpdown: a.resblock_updown,
    useNewAttentionOrder: a.use_new_attention_order,
    learnSigma: a.learn_sigma,
    numClasses,
    inChannels: a.in_channels,
    outChannels: a.learn_sigma ? 2 * a.in_channels : a.in_channels,
    dropout: a.dropout,
  };
}
