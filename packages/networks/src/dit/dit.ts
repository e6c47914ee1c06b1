/**
 * facebookresearch/DiT's `DiT.forward(x, t, y)` (models.py) on tfjs, as a function of its parameters:
 * the same network as dit-graph.ts in packages/onnx, from the same plan (dit-plan.ts). Channels-last
 * inside, PyTorch layout outside.
 */
import * as tf from '@tensorflow/tfjs';
import { embedding, linear, qkvAttention, silu, timestepEmbedding } from '../nn/layers.ts';
import { type ParamMap, uploadNetwork } from '../nn/params.ts';
import type { StoredTensor } from '../weights/safetensors.ts';
import type { DiTConfig } from './dit-config.ts';
import { checkDiTStateDict, DIT_FREQUENCY_DIM, DIT_LAYERNORM_EPS, type DiTPlan, ditParamSpecs, planDiT } from './dit-plan.ts';

/** A DiT with its parameters on the tfjs backend. */
export interface DiT {
  readonly config: DiTConfig;
  readonly plan: DiTPlan;
  readonly params: ParamMap;
  /** Frees the parameter tensors. */
  dispose(): void;
}

/** Checks a DiT state_dict (DiT's keys) against the configuration and uploads it. Throws naming the first bad key. */
export function createDiT(config: DiTConfig, stateDict: ReadonlyMap<string, StoredTensor>, what = 'DiT weights'): DiT {
  checkDiTStateDict(config, stateDict, what);
  return { config, plan: planDiT(config), ...uploadNetwork(ditParamSpecs(config), stateDict, what) };
}

/** LayerNorm over the last axis without affine parameters, eps 1e-6 (biased variance). */
function layerNorm(x: tf.Tensor3D): tf.Tensor3D {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, DIT_LAYERNORM_EPS)));
}

/** x·(1 + scale) + shift, with [N, 1, D] modulations. */
function modulate(x: tf.Tensor3D, shift: tf.Tensor, scale: tf.Tensor): tf.Tensor3D {
  return tf.add(tf.mul(x, tf.add(scale, 1)), shift);
}

/** GELU, tanh approximation: ½x(1 + tanh(√(2/π)(x + 0.044715x³))). */
function geluTanh(x: tf.Tensor3D): tf.Tensor3D {
  const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
  return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
}

/**
 * DiT.forward(x, t, y). x: [N, in_channels, S, S] float32; t: [N] the timesteps as the network receives
 * them; y: [N] int32 labels (num_classes is the null label when the table has its null row).
 * Returns [N, out_channels, S, S]. Call inside tf.tidy.
 */
export function ditForward(dit: DiT, x: tf.Tensor4D, t: tf.Tensor1D, y: tf.Tensor1D): tf.Tensor4D {
  const { config: c, plan, params } = dit;
  const p = (key: string) => {
    const value = params.get(key);
    if (!value) throw new Error(`internal: DiT parameter ${key} was not uploaded`);
    return value;
  };
  const lin = <T extends tf.Tensor2D | tf.Tensor3D>(key: string, v: T): T =>
    linear(v as tf.Tensor3D, p(`${key}.weight`) as tf.Tensor2D, p(`${key}.bias`) as tf.Tensor1D) as unknown as T;
  const [n, channels, size] = x.shape;
  if (channels !== c.in_channels || size !== c.input_size || x.shape[3] !== c.input_size) {
    throw new Error(`DiT input x has shape [${x.shape}]; the model takes [N, ${c.in_channels}, ${c.input_size}, ${c.input_size}]`);
  }
  if (t.shape[0] !== n || y.shape[0] !== n) throw new Error(`DiT t and y have ${t.shape[0]} and ${y.shape[0]} entries for a batch of ${n}`);
  const d = c.hidden_size;
  const { gridSize: g, numPatches: T, outChannels: out } = plan;
  const patchSize = c.patch_size;

  const patches = tf.conv2d(tf.transpose(x, [0, 2, 3, 1]), p('x_embedder.proj.weight') as tf.Tensor4D, patchSize, 'valid');
  let h = tf.add(tf.reshape(tf.add(patches, p('x_embedder.proj.bias')), [n, T, d]), p('pos_embed')) as tf.Tensor3D;

  const tEmb = lin('t_embedder.mlp.2', silu(lin('t_embedder.mlp.0', timestepEmbedding(t, DIT_FREQUENCY_DIM))));
  const cond = silu(tf.add(tEmb, embedding(p('y_embedder.embedding_table.weight') as tf.Tensor2D, y)) as tf.Tensor2D);
  const chunks = (key: string, count: number) => tf.split(tf.expandDims(lin(`${key}.adaLN_modulation.1`, cond), 1), count, 2);

  for (let i = 0; i < c.depth; i++) {
    const key = `blocks.${i}`;
    const [shiftMsa, scaleMsa, gateMsa, shiftMlp, scaleMlp, gateMlp] = chunks(key, 6);
    const qkv = lin(`${key}.attn.qkv`, modulate(layerNorm(h), shiftMsa, scaleMsa));
    h = tf.add(h, tf.mul(gateMsa, lin(`${key}.attn.proj`, qkvAttention(qkv, c.num_heads))));
    const hidden = geluTanh(lin(`${key}.mlp.fc1`, modulate(layerNorm(h), shiftMlp, scaleMlp)));
    h = tf.add(h, tf.mul(gateMlp, lin(`${key}.mlp.fc2`, hidden)));
  }
  const [shift, scale] = chunks('final_layer', 2);
  const tokens = lin('final_layer.linear', modulate(layerNorm(h), shift, scale));
  const grid = tf.reshape(tokens, [n, g, g, patchSize, patchSize, out]);
  return tf.reshape(tf.transpose(grid, [0, 5, 1, 3, 2, 4]), [n, out, size, size]);
}
