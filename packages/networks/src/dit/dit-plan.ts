/**
 * What facebookresearch/DiT's `DiT(config)` is made of (models.py __init__), derived from the
 * configuration alone: the sizes every layer has and the state_dict keys with their shapes. The ONNX
 * graph reads exactly these keys, so a checkpoint checked against ditParamSpecs is one the forward
 * can run.
 */
import { checkStateDict, countParams, linearParams, type ParamSpec, paramShapes } from '../nn/params.ts';
import type { StoredTensor } from '../weights/safetensors.ts';
import { type DiTConfig, ditNullLabel, ditOutChannels } from './dit-config.ts';

/** TimestepEmbedder's frequency_embedding_size: DiT never changes it. */
export const DIT_FREQUENCY_DIM = 256;
/** eps of every LayerNorm in DiT (norm1, norm2, norm_final; all without affine parameters). */
export const DIT_LAYERNORM_EPS = 1e-6;

export interface DiTPlan {
  /** g = input_size / patch_size: patches per side. */
  gridSize: number;
  /** T = g²: tokens, ordered row-major over the patch grid. */
  numPatches: number;
  /** d = hidden_size / num_heads. */
  headDim: number;
  /** int(hidden_size · mlp_ratio), as DiTBlock truncates it. */
  mlpHidden: number;
  outChannels: number;
  /** Rows of the label table: num_classes, plus the null row when class_dropout_prob > 0. */
  labelRows: number;
  nullLabel: number | null;
  /** Outputs of final_layer.linear per token: p²·out_channels, ordered (row in patch, column, channel). */
  finalOut: number;
}

export function planDiT(c: DiTConfig): DiTPlan {
  const gridSize = c.input_size / c.patch_size;
  const outChannels = ditOutChannels(c);
  const nullLabel = ditNullLabel(c);
  return {
    gridSize,
    numPatches: gridSize * gridSize,
    headDim: c.hidden_size / c.num_heads,
    mlpHidden: Math.trunc(c.hidden_size * c.mlp_ratio),
    outChannels,
    labelRows: c.num_classes + (nullLabel === null ? 0 : 1),
    nullLabel,
    finalOut: c.patch_size * c.patch_size * outChannels,
  };
}

/** Every state_dict key of DiT(config) with its PyTorch shape, in registration order. */
export function ditParamSpecs(c: DiTConfig): ParamSpec[] {
  const plan = planDiT(c);
  const d = c.hidden_size;
  const p = c.patch_size;
  const blocks = Array.from({ length: c.depth }, (_, i) => [
    ...linearParams(`blocks.${i}.attn.qkv`, d, 3 * d),
    ...linearParams(`blocks.${i}.attn.proj`, d, d),
    ...linearParams(`blocks.${i}.mlp.fc1`, d, plan.mlpHidden),
    ...linearParams(`blocks.${i}.mlp.fc2`, plan.mlpHidden, d),
    ...linearParams(`blocks.${i}.adaLN_modulation.1`, d, 6 * d),
  ]);
  return [
    // A parameter of DiT itself (frozen, requires_grad=False), so it comes before the submodules' keys.
    { key: 'pos_embed', shape: [1, plan.numPatches, d], layout: 'embedding' },
    { key: 'x_embedder.proj.weight', shape: [d, c.in_channels, p, p], layout: 'conv2d' },
    { key: 'x_embedder.proj.bias', shape: [d], layout: 'vector' },
    ...linearParams('t_embedder.mlp.0', DIT_FREQUENCY_DIM, d),
    ...linearParams('t_embedder.mlp.2', d, d),
    { key: 'y_embedder.embedding_table.weight', shape: [plan.labelRows, d], layout: 'embedding' },
    ...blocks.flat(),
    ...linearParams('final_layer.linear', d, plan.finalOut),
    ...linearParams('final_layer.adaLN_modulation.1', d, 2 * d),
  ];
}

/** The state_dict keys and PyTorch shapes DiT(config) has, e.g. for writing a checkpoint. */
export function ditParameterShapes(c: DiTConfig): Map<string, number[]> {
  return paramShapes(ditParamSpecs(c));
}

export function ditParameterCount(c: DiTConfig): number {
  return countParams(ditParamSpecs(c));
}

/** checkStateDict's advice when keys are missing: the DiT arguments that change the key set. */
export const DIT_MISMATCH_HINT =
  'check input_size, patch_size, in_channels, hidden_size, depth, mlp_ratio, num_classes, class_dropout_prob, learn_sigma';

/**
 * Checks a DiT state_dict against the configuration; throws naming the first missing, unexpected or
 * mis-shaped key (checkStateDict). A training checkpoint's `ema` must be unwrapped first (docs/models.md).
 */
export function checkDiTStateDict(c: DiTConfig, stateDict: ReadonlyMap<string, StoredTensor>, what: string): void {
  if (!stateDict.has('pos_embed') && [...stateDict.keys()].some((k) => k.startsWith('ema.'))) {
    throw new Error(
      `${what}: the keys carry an "ema." prefix: this is a DiT training checkpoint; save its state_dict["ema"] (what DiT's find_model loads) as the weights`,
    );
  }
  checkStateDict(ditParamSpecs(c), stateDict, what, DIT_MISMATCH_HINT);
}
