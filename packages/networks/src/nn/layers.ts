/**
 * The layers of guided-diffusion's networks (unet.py, nn.py) as functions of tensors, channels-last
 * (NHWC, or [N, T, C] for token sequences). Only ops that have both a gradient and a wasm kernel are
 * used, so every network built from these runs and differentiates on the portable backend.
 * Parameters arrive already in the layout these functions take (see params.ts).
 */
import * as tf from '@tensorflow/tfjs';

/**
 * The kernels whose gradient a backend may lack (wasm has no Conv2DBackpropFilter and no
 * UnsortedSegmentSum). Inference runs tfjs's own; a trainer swaps in versions whose gradients use
 * only kernels wasm has, for the span of one differentiated call (withLayerOps).
 */
export interface LayerOps {
  /** tf.conv2d(x, filter, stride, pad) with symmetric zero padding `pad`; filter [kh, kw, in, out]. */
  conv2d(x: tf.Tensor4D, filter: tf.Tensor4D, stride: 1 | 2, pad: number): tf.Tensor4D;
  /** Rows `ids` [N] int32 of an embedding table [K, D] → [N, D]. */
  embedding(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D;
}

export const TFJS_LAYER_OPS: LayerOps = {
  conv2d: (x, filter, stride, pad) => tf.conv2d(x, filter, stride, pad),
  embedding: (table, ids) => tf.gather(table, ids),
};

let layerOps: LayerOps = TFJS_LAYER_OPS;

/** Runs `fn` (synchronous) with `ops` as the layers' kernels, then restores the previous ones. */
export function withLayerOps<T>(ops: LayerOps, fn: () => T): T {
  const previous = layerOps;
  layerOps = ops;
  try {
    return fn();
  } finally {
    layerOps = previous;
  }
}

/** nn.Embedding lookup: table[ids]. table [K, D], ids [N] → [N, D]. */
export function embedding(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  return layerOps.embedding(table, tf.cast(ids, 'int32'));
}

export const GROUPNORM_GROUPS = 32;
export const GROUPNORM_EPS = 1e-5;

/** SiLU(x) = x·σ(x). */
export function silu<T extends tf.Tensor>(x: T): T {
  return tf.mul(x, tf.sigmoid(x));
}

/** Per-sample FiLM of a normalised activation: norm(x)·(1 + scale) + shift, scale and shift [N, C]. */
export interface ScaleShift {
  scale: tf.Tensor2D;
  shift: tf.Tensor2D;
}

/**
 * GroupNorm(32, C) over a channels-last tensor of any rank ≥ 2: for each sample and each group of
 * C/32 channels, (x − mean)/√(var + 1e-5) over the group's channels and all positions (biased
 * variance), then ·γ + β per channel; with `film`, then ·(1 + scale) + shift per sample and channel
 * (ResBlock's scale-shift norm). Computed in float32, as GroupNorm32 does. The affine factors are
 * folded into one per-sample scale and offset so the full-size tensor is touched only four times.
 */
export function groupNorm<T extends tf.Tensor>(
  x: T,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  film?: ScaleShift,
  groups = GROUPNORM_GROUPS,
): T {
  const n = x.shape[0];
  const perGroup = x.shape[x.rank - 1] / groups;
  const byGroup = (t: tf.Tensor, batch: number) => tf.reshape(t, [batch, 1, groups, perGroup]);
  const grouped = tf.reshape(x, [n, -1, groups, perGroup]);
  const centered = tf.sub(grouped, tf.mean(grouped, [1, 3], true));
  const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(centered), [1, 3], true), GROUPNORM_EPS));
  let a: tf.Tensor = tf.mul(byGroup(gamma, 1), rstd);
  let b: tf.Tensor = byGroup(beta, 1);
  if (film) {
    const gain = byGroup(tf.add(film.scale, 1), n);
    a = tf.mul(a, gain);
    b = tf.add(tf.mul(b, gain), byGroup(film.shift, n));
  }
  return tf.reshape(tf.add(tf.mul(centered, a), b), x.shape) as T;
}

/** y = x·Wᵀ + b with W stored transposed as [in, out]. x: [N, in] → [N, out]; or [N, T, in] → [N, T, out]. */
export function linear(x: tf.Tensor2D, weight: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D;
export function linear(x: tf.Tensor3D, weight: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor3D;
export function linear(x: tf.Tensor2D | tf.Tensor3D, weight: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D | tf.Tensor3D {
  if (x.rank === 2) return tf.add(tf.matMul(x as tf.Tensor2D, weight), bias) as tf.Tensor2D;
  const [n, t, c] = x.shape as [number, number, number];
  const flat = tf.add(tf.matMul(tf.reshape(x, [n * t, c]), weight), bias);
  return tf.reshape(flat, [n, t, weight.shape[1]]) as tf.Tensor3D;
}

/**
 * A k×k convolution with PyTorch's symmetric zero padding `pad` and stride (nn.Conv2d(…, padding,
 * stride)). Weight in HWIO [kh, kw, in, out]. x: [N, H, W, in] → [N, H', W', out].
 */
export function conv2d(
  x: tf.Tensor4D,
  weight: tf.Tensor4D,
  bias: tf.Tensor1D,
  stride: 1 | 2 = 1,
  pad = (weight.shape[0] - 1) / 2,
): tf.Tensor4D {
  return tf.add(layerOps.conv2d(x, weight, stride, pad), bias);
}

/**
 * Nearest-neighbour ×2 upsampling (F.interpolate(scale_factor=2, mode="nearest")): out[2i+a, 2j+b] = x[i, j].
 * tfjs's legacy nearest resize (no corner alignment, no half-pixel centres) reads source ⌊dst/2⌋,
 * the same pixel; unlike reshape + tile it has a fast wasm kernel and a wasm gradient kernel.
 */
export function upsampleNearest2x(x: tf.Tensor4D): tf.Tensor4D {
  return tf.image.resizeNearestNeighbor(x, [2 * x.shape[1], 2 * x.shape[2]], false, false);
}

/** 2×2 average pooling with stride 2 (nn.AvgPool2d(2, 2)); H and W are even in every network here. */
export function avgPool2x(x: tf.Tensor4D): tf.Tensor4D {
  return tf.avgPool(x, 2, 2, 'valid');
}

/**
 * The sinusoid frequencies freqs_i = exp(−ln(maxPeriod)·i/half), i < half = ⌊dim/2⌋, rounded to
 * float32 at each step as the reference's float32 arange arithmetic is, so that t·freqs agrees with
 * it to the last bit before cos and sin (the tfjs layers and the ONNX graph both take them from here).
 */
export function timestepFrequencies(dim: number, maxPeriod = 10000): Float32Array {
  const half = Math.floor(dim / 2);
  const freqs = new Float32Array(half);
  const logPeriod = Math.fround(-Math.log(maxPeriod));
  for (let i = 0; i < half; i++) freqs[i] = Math.exp(Math.fround(Math.fround(logPeriod * i) / half));
  return freqs;
}

/**
 * Sinusoidal timestep embedding (nn.py timestep_embedding): emb = [cos(t·freqs), sin(t·freqs)]
 * (cos first, freqs = timestepFrequencies(dim)), a zero column appended when dim is odd.
 * t: [N] float32 (may be fractional) → [N, dim].
 */
export function timestepEmbedding(timesteps: tf.Tensor1D, dim: number, maxPeriod = 10000): tf.Tensor2D {
  const freqs = timestepFrequencies(dim, maxPeriod);
  const args = tf.mul(tf.reshape(tf.cast(timesteps, 'float32'), [-1, 1]), tf.tensor2d(freqs, [1, freqs.length]));
  const parts: tf.Tensor2D[] = [tf.cos(args), tf.sin(args)] as tf.Tensor2D[];
  if (dim % 2 === 1) parts.push(tf.zeros([timesteps.shape[0], 1]));
  return tf.concat(parts, 1);
}

/**
 * Multi-head scaled dot-product attention over tokens, QKVAttention's arithmetic:
 * w = softmax((q·ch^−¼)(k·ch^−¼)ᵀ) over keys, out = w·v, heads concatenated head-major.
 * qkv: [N, T, 3C] in the new order (all q, then all k, then all v; head-major inside each);
 * legacy checkpoints are permuted into this order when loaded. Returns [N, T, C].
 */
export function qkvAttention(qkv: tf.Tensor3D, heads: number): tf.Tensor3D {
  const [n, t, width] = qkv.shape;
  const c = width / 3;
  const ch = c / heads;
  const scale = 1 / Math.sqrt(Math.sqrt(ch));
  const [q, k, v] = tf.split(qkv, 3, 2).map((part) => tf.transpose(tf.reshape(part, [n, t, heads, ch]), [0, 2, 1, 3]) as tf.Tensor4D);
  const weight = tf.softmax(tf.matMul(tf.mul(q, scale), tf.mul(k, scale), false, true));
  const a = tf.matMul(weight, v);
  return tf.reshape(tf.transpose(a, [0, 2, 1, 3]), [n, t, c]);
}
