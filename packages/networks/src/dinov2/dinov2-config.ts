/**
 * The DINOv2 ViT-L/14 of FD_DINOv2 (docs/feature-networks.md), read from model.json's `model`
 * object when the architecture is `dinov2-vit-l14`. `hub_model` names the torch-hub entry point
 * whose arguments the network is built with (facebookresearch/dinov2 `hubconf.py`); the sizes default
 * to the real ViT-L/14 and may be made smaller for test networks, as the golden cases do.
 */
import { parseWith } from '@diffq/contract';
import { z } from 'zod';
import type { FeatureNetworkInfo } from '../features/feature-network.ts';

export const DINOV2_ARCHITECTURE = 'dinov2-vit-l14';

/** The side edm2's DINOv2Detector resizes every image to, and the patch grid that gives (224 / 14). */
export const DINOV2_INPUT_SIZE = 224;
export const DINOV2_PATCH_SIZE = 14;
export const DINOV2_PATCH_GRID = DINOV2_INPUT_SIZE / DINOV2_PATCH_SIZE;
/** The training size the checkpoints' pos_embed is for: 518 / 14 = 37 patches a side, 1 + 37² rows. */
export const DINOV2_IMG_SIZE = 518;
export const DINOV2_POS_GRID = DINOV2_IMG_SIZE / DINOV2_PATCH_SIZE;
export const DINOV2_MLP_RATIO = 4;
export const DINOV2_LAYERNORM_EPS = 1e-6;
/** ImageNet's per-channel mean and std, applied after x / 255 (edm2, float32). */
export const DINOV2_MEAN = [0.485, 0.456, 0.406] as const;
export const DINOV2_STD = [0.229, 0.224, 0.225] as const;

/**
 * The two hub entry points FD_DINOv2 is computed with. They differ in the register tokens and in how
 * the 37×37 position embedding is resampled to 16×16 (dinov2-position-embedding.ts):
 * `interpolate_offset` > 0 samples with the scale factor (16 + offset)/37 instead of the size.
 */
export const DINOV2_HUB_MODELS = {
  dinov2_vitl14: { registers: 0, interpolateAntialias: false, interpolateOffset: 0.1 },
  dinov2_vitl14_reg: { registers: 4, interpolateAntialias: true, interpolateOffset: 0 },
} as const;
export type Dinov2HubModel = keyof typeof DINOV2_HUB_MODELS;
const HUB_MODELS = Object.keys(DINOV2_HUB_MODELS) as [Dinov2HubModel, ...Dinov2HubModel[]];

/** The real ViT-L/14's sizes. */
export const DINOV2_VITL14_SIZE = { embed_dim: 1024, depth: 24, num_heads: 16 } as const;

/** model.json `model` for `dinov2-vit-l14` (snake_case, dinov2's own argument names). Unknown fields are rejected. */
export const Dinov2ArgsSchema = z
  .object({
    hub_model: z.enum(HUB_MODELS).default('dinov2_vitl14'),
    embed_dim: z.number().int().min(2).max(4096).default(DINOV2_VITL14_SIZE.embed_dim),
    depth: z.number().int().min(1).max(64).default(DINOV2_VITL14_SIZE.depth),
    num_heads: z.number().int().min(1).max(64).default(DINOV2_VITL14_SIZE.num_heads),
  })
  .strict();

export type Dinov2Args = z.input<typeof Dinov2ArgsSchema>;

export interface Dinov2Config {
  hubModel: Dinov2HubModel;
  embedDim: number;
  depth: number;
  numHeads: number;
  /** Register tokens inserted after the class token (0 or 4). */
  registers: number;
  interpolateAntialias: boolean;
  interpolateOffset: number;
}

/** Validates model.json's `model` object of a DINOv2 network; errors name the field. */
export function parseDinov2Config(raw: unknown, where = 'model'): Dinov2Config {
  const a = parseWith(Dinov2ArgsSchema, raw ?? {}, where);
  if (a.embed_dim % a.num_heads !== 0) {
    throw new Error(`${where}.num_heads is ${a.num_heads}; it must divide embed_dim (${a.embed_dim}) into equal heads`);
  }
  const hub = DINOV2_HUB_MODELS[a.hub_model];
  return {
    hubModel: a.hub_model,
    embedDim: a.embed_dim,
    depth: a.depth,
    numHeads: a.num_heads,
    registers: hub.registers,
    interpolateAntialias: hub.interpolateAntialias,
    interpolateOffset: hub.interpolateOffset,
  };
}

/** The preprocessing name FeatureNetworkInfo and the stats files carry: edm2's DINOv2Detector, resize_mode 'torch'. */
export const DINOV2_PREPROCESS = 'edm2-torch';

/** What the statistics see of a DINOv2 network: the class token, no logits, no spatial features, any image size. */
export function dinov2Info(c: Dinov2Config): FeatureNetworkInfo {
  return {
    architecture: DINOV2_ARCHITECTURE,
    featureDim: c.embedDim,
    logitDim: null,
    spatialDim: null,
    // A grey image's one channel broadcasts against the three means, as in edm2 (= replicating it).
    channels: [1, 3],
    imageSize: null,
    preprocess: DINOV2_PREPROCESS,
    numClasses: null,
  };
}
