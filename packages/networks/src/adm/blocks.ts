/**
 * The building blocks of unet.py (ResBlock, AttentionBlock, Upsample, Downsample,
 * TimestepEmbedSequential) applied to channels-last activations with parameters from a ParamMap.
 */
import * as tf from '@tensorflow/tfjs';
import {
  avgPool2x,
  conv2d,
  groupNorm,
  linear,
  qkvAttention,
  type ScaleShift,
  silu,
  timestepEmbedding,
  upsampleNearest2x,
} from '../nn/layers.ts';
import type { ParamMap } from '../nn/params.ts';
import type { Block, Layer, Torso } from './plan.ts';

function param<T extends tf.Tensor>(p: ParamMap, key: string): T {
  const t = p.get(key);
  if (!t) throw new Error(`network parameter "${key}" is not loaded`);
  return t as T;
}

export function norm<T extends tf.Tensor>(p: ParamMap, prefix: string, x: T, film?: ScaleShift): T {
  return groupNorm(x, param(p, `${prefix}.weight`), param(p, `${prefix}.bias`), film);
}

export function conv(p: ParamMap, prefix: string, x: tf.Tensor4D, stride: 1 | 2 = 1): tf.Tensor4D {
  return conv2d(x, param(p, `${prefix}.weight`), param(p, `${prefix}.bias`), stride);
}

export function dense(p: ParamMap, prefix: string, x: tf.Tensor2D): tf.Tensor2D;
export function dense(p: ParamMap, prefix: string, x: tf.Tensor3D): tf.Tensor3D;
export function dense(p: ParamMap, prefix: string, x: tf.Tensor2D | tf.Tensor3D): tf.Tensor2D | tf.Tensor3D {
  return linear(x as tf.Tensor3D, param(p, `${prefix}.weight`), param(p, `${prefix}.bias`));
}

/** time_embed(timestep_embedding(t, C)) = Linear(4C,4C)(SiLU(Linear(C,4C)(emb))). t: [N] → [N, 4C]. */
export function timeEmbed(p: ParamMap, timesteps: tf.Tensor1D, modelChannels: number): tf.Tensor2D {
  const emb = timestepEmbedding(timesteps, modelChannels);
  return dense(p, 'time_embed.2', silu(dense(p, 'time_embed.0', emb)));
}

/**
 * ResBlock._forward. h = in_layers(x) (GroupNorm → SiLU → [resample] → conv3×3, x resampled alike),
 * e = emb_layers(emb) = Linear(SiLU(emb)); with scale-shift norm h = out_norm(h)·(1 + scale) + shift
 * ([scale, shift] = e), else h = out_norm(h + e); then SiLU → conv3×3; returns skip(x) + h.
 * `embSilu` is SiLU(emb), computed once per forward since every block applies it first.
 */
export function resBlock(
  p: ParamMap,
  prefix: string,
  layer: Extract<Layer, { kind: 'res' }>,
  x: tf.Tensor4D,
  embSilu: tf.Tensor2D,
): tf.Tensor4D {
  let h = silu(norm(p, `${prefix}.in_layers.0`, x));
  if (layer.resample === 'up') {
    h = upsampleNearest2x(h);
    x = upsampleNearest2x(x);
  } else if (layer.resample === 'down') {
    h = avgPool2x(h);
    x = avgPool2x(x);
  }
  h = conv(p, `${prefix}.in_layers.2`, h);
  const embOut = dense(p, `${prefix}.emb_layers.1`, embSilu);
  if (layer.scaleShift) {
    const [scale, shift] = tf.split(embOut, 2, 1) as [tf.Tensor2D, tf.Tensor2D];
    h = norm(p, `${prefix}.out_layers.0`, h, { scale, shift });
  } else {
    h = norm(p, `${prefix}.out_layers.0`, tf.add(h, tf.reshape(embOut, [embOut.shape[0], 1, 1, -1])));
  }
  h = conv(p, `${prefix}.out_layers.3`, silu(h));
  const skip = layer.inCh === layer.outCh ? x : conv(p, `${prefix}.skip_connection`, x);
  return tf.add(skip, h);
}

/** AttentionBlock: x + proj_out(attention(qkv(norm(x)))) over the H·W positions as tokens. */
export function attentionBlock(p: ParamMap, prefix: string, layer: Extract<Layer, { kind: 'attention' }>, x: tf.Tensor4D): tf.Tensor4D {
  const [n, hgt, wid, c] = x.shape;
  const tokens: tf.Tensor3D = tf.reshape(x, [n, hgt * wid, c]);
  const qkv = dense(p, `${prefix}.qkv`, norm(p, `${prefix}.norm`, tokens));
  const h = dense(p, `${prefix}.proj_out`, qkvAttention(qkv, layer.heads));
  return tf.reshape(tf.add(tokens, h), x.shape);
}

export function applyLayer(p: ParamMap, prefix: string, layer: Layer, h: tf.Tensor4D, embSilu: tf.Tensor2D): tf.Tensor4D {
  switch (layer.kind) {
    case 'conv':
      return conv(p, prefix, h);
    case 'downsample':
      return conv(p, `${prefix}.op`, h, 2);
    case 'upsample':
      return conv(p, `${prefix}.conv`, upsampleNearest2x(h));
    case 'res':
      return resBlock(p, prefix, layer, h, embSilu);
    case 'attention':
      return attentionBlock(p, prefix, layer, h);
  }
}

/** TimestepEmbedSequential: the block's layers in order. */
export function applyBlock(p: ParamMap, prefix: string, block: Block, h: tf.Tensor4D, embSilu: tf.Tensor2D): tf.Tensor4D {
  block.forEach((layer, j) => {
    h = applyLayer(p, `${prefix}.${j}`, layer, h, embSilu);
  });
  return h;
}

/**
 * What both networks require of their inputs: x [N, in_channels, image_size, image_size] and one
 * timestep per sample. `what` names the network in errors; returns N.
 */
export function checkInputs(
  what: string,
  config: { inChannels: number; imageSize: number },
  x: tf.Tensor4D,
  timesteps: tf.Tensor1D,
): number {
  const [n, c, h, w] = x.shape;
  if (c !== config.inChannels || h !== config.imageSize || w !== config.imageSize) {
    throw new Error(
      `${what} input x has shape [${x.shape}]; this model takes [N, ${config.inChannels}, ${config.imageSize}, ${config.imageSize}]`,
    );
  }
  if (timesteps.shape[0] !== n) throw new Error(`${what} timesteps has ${timesteps.shape[0]} entries for a batch of ${n}`);
  return n;
}

/**
 * The input blocks, then the middle block, on x [N, C, H, W] in the PyTorch layout; returns the
 * channels-last activation. `onInputBlock` sees every input block's output (the UNet keeps them as
 * skip connections, the spatial classifier heads pool them).
 */
export function applyTorso(
  p: ParamMap,
  torso: Torso,
  x: tf.Tensor4D,
  embSilu: tf.Tensor2D,
  onInputBlock: (h: tf.Tensor4D) => void = () => {},
): tf.Tensor4D {
  let h = tf.transpose(x, [0, 2, 3, 1]);
  torso.inputBlocks.forEach((block, i) => {
    h = applyBlock(p, `input_blocks.${i}`, block, h, embSilu);
    onInputBlock(h);
  });
  return applyBlock(p, 'middle_block', torso.middleBlock, h, embSilu);
}
