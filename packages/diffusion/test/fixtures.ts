/**
 * Small networks and helpers shared by the diffusion and onnx tests. The networks are as small as
 * GroupNorm(32) allows; a test that needs another flag spreads one of these and says which.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type ClassifierArgs,
  createUNet,
  type DenoiserEngine,
  MODEL_JSON,
  randomUNetWeights,
  type StoredTensor,
  TfjsEngine,
  type UNetArgs,
  type UNetConfig,
  WEIGHTS_FILE,
  writeSafetensors,
} from '@diffq/diffusion';
import type * as tf from '@tensorflow/tfjs';

/** 16×16 with every optional part: labels, learned sigma, resblock up/down, new attention order, scale-shift norm. */
export const UNET_16: UNetArgs = {
  image_size: 16,
  num_channels: 32,
  num_res_blocks: 1,
  channel_mult: '1,2',
  attention_resolutions: '8',
  num_head_channels: 32,
  use_scale_shift_norm: true,
  resblock_updown: true,
  use_new_attention_order: true,
  learn_sigma: true,
  class_cond: true,
  num_classes: 10,
};

/** The noisy classifier for UNET_16 images: attention pool, 32 channels per head, 10 classes. */
export const CLASSIFIER_16: ClassifierArgs = {
  image_size: 16,
  classifier_width: 32,
  classifier_depth: 1,
  classifier_attention_resolutions: '8',
  classifier_use_scale_shift_norm: true,
  classifier_resblock_updown: true,
  classifier_pool: 'attention',
  channel_mult: '1,2',
  out_channels: 10,
  num_head_channels: 32,
};

/** 8×8, two levels of width 32, two heads in the legacy attention order, learned sigma, 4 classes. */
export const UNET_8: UNetArgs = {
  image_size: 8,
  num_channels: 32,
  num_res_blocks: 1,
  channel_mult: '1,1',
  attention_resolutions: '4',
  num_heads: 2,
  use_scale_shift_norm: true,
  learn_sigma: true,
  class_cond: true,
  num_classes: 4,
};

/** The noisy classifier for UNET_8 images: attention pool, 16 channels per head, 5 classes. */
/** Small, with every part training must differentiate: labels, up/down ResBlocks, strided and 1×1 convs, attention. */
export const UNET_TRAINABLE: UNetArgs = {
  image_size: 8,
  in_channels: 1,
  num_channels: 32,
  channel_mult: '1,2',
  num_res_blocks: 1,
  attention_resolutions: '4',
  num_head_channels: 32,
  use_scale_shift_norm: true,
  resblock_updown: true,
  use_new_attention_order: true,
  class_cond: true,
  num_classes: 3,
};

export const CLASSIFIER_8: ClassifierArgs = {
  image_size: 8,
  classifier_width: 32,
  classifier_depth: 1,
  classifier_attention_resolutions: '4',
  classifier_use_scale_shift_norm: true,
  classifier_resblock_updown: true,
  classifier_pool: 'attention',
  channel_mult: '1,1',
  out_channels: 5,
  num_head_channels: 16,
};

/** A tfjs engine over UNetModel(config) with random weights drawn from `seed`. */
export function randomTfjsEngine(config: UNetConfig, seed: number): TfjsEngine {
  return new TfjsEngine(createUNet(config, randomUNetWeights(config, seed)));
}

/** A float32 state_dict as the bytes of its weights.safetensors. */
export function weightsFile(stateDict: ReadonlyMap<string, StoredTensor>): Uint8Array {
  return writeSafetensors(Object.fromEntries([...stateDict].map(([k, t]) => [k, { shape: t.shape, data: t.data as Float32Array }])));
}

/** Writes the two files of a model directory into `dir`. */
export async function writeModelDirectory(dir: string, modelJson: unknown, stateDict: ReadonlyMap<string, StoredTensor>): Promise<void> {
  await writeFile(join(dir, MODEL_JSON), JSON.stringify(modelJson));
  await writeFile(join(dir, WEIGHTS_FILE), weightsFile(stateDict));
}

/** One forward's output values; the output tensor is disposed, the inputs are left alone. */
export async function forwardData(engine: DenoiserEngine, x: tf.Tensor4D, t: tf.Tensor1D, y?: tf.Tensor1D): Promise<Float32Array> {
  const out = await engine.forward(x, t, y);
  try {
    return (await out.data()) as Float32Array;
  } finally {
    out.dispose();
  }
}

/** ‖out − ref‖ / ‖ref‖ over two arrays of the same length. */
export function relativeL2(out: ArrayLike<number>, ref: ArrayLike<number>): number {
  assert.equal(out.length, ref.length);
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < ref.length; i++) {
    diff += (out[i] - ref[i]) ** 2;
    norm += ref[i] ** 2;
  }
  return Math.sqrt(diff / norm);
}
