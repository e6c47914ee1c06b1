/**
 * The state_dict of dinov2's DinoVisionTransformer as the hub checkpoints store it
 * (`dinov2_vitl14_pretrain.pth`, `dinov2_vitl14_reg4_pretrain.pth`): the official keys, unchanged,
 * in registration order. Linear weights are [out, in], the patch convolution [D, 3, 14, 14].
 */
import { conv2dParams, linearParams, type ParamSpec } from '../nn/params.ts';
import { DINOV2_MLP_RATIO, DINOV2_PATCH_SIZE, DINOV2_POS_GRID, type Dinov2Config } from './dinov2-config.ts';

/** What to check when a checkpoint's keys do not match the configuration. */
export const DINOV2_MISMATCH_HINT =
  'model.hub_model (dinov2_vitl14 has no register_tokens, dinov2_vitl14_reg has 4), embed_dim, depth, num_heads; a checkpoint of another size (ViT-S/B/g) is not a dinov2-vit-l14 network';

function layerNormParams(prefix: string, d: number): ParamSpec[] {
  return [
    { key: `${prefix}.weight`, shape: [d], layout: 'vector' },
    { key: `${prefix}.bias`, shape: [d], layout: 'vector' },
  ];
}

/** One pre-norm block with LayerScale: norm1, attn.qkv, attn.proj, ls1, norm2, mlp.fc1, mlp.fc2, ls2. */
function blockParams(prefix: string, d: number): ParamSpec[] {
  const hidden = DINOV2_MLP_RATIO * d;
  return [
    ...layerNormParams(`${prefix}.norm1`, d),
    ...linearParams(`${prefix}.attn.qkv`, d, 3 * d),
    ...linearParams(`${prefix}.attn.proj`, d, d),
    { key: `${prefix}.ls1.gamma`, shape: [d], layout: 'vector' },
    ...layerNormParams(`${prefix}.norm2`, d),
    ...linearParams(`${prefix}.mlp.fc1`, d, hidden),
    ...linearParams(`${prefix}.mlp.fc2`, hidden, d),
    { key: `${prefix}.ls2.gamma`, shape: [d], layout: 'vector' },
  ];
}

/**
 * Every parameter in state_dict order. `mask_token` is in every checkpoint but unused at inference;
 * it is still expected, so that a checkpoint loads exactly as the hub loads it (strict).
 */
export function dinov2ParamSpecs(c: Dinov2Config): ParamSpec[] {
  const d = c.embedDim;
  const specs: ParamSpec[] = [
    { key: 'cls_token', shape: [1, 1, d], layout: 'vector' },
    { key: 'pos_embed', shape: [1, 1 + DINOV2_POS_GRID * DINOV2_POS_GRID, d], layout: 'vector' },
  ];
  if (c.registers > 0) specs.push({ key: 'register_tokens', shape: [1, c.registers, d], layout: 'vector' });
  specs.push({ key: 'mask_token', shape: [1, d], layout: 'vector' });
  specs.push(...conv2dParams('patch_embed.proj', 3, d, DINOV2_PATCH_SIZE));
  for (let i = 0; i < c.depth; i++) specs.push(...blockParams(`blocks.${i}`, d));
  specs.push(...layerNormParams('norm', d));
  return specs;
}
