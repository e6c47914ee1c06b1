/**
 * From uploaded parameters back to a PyTorch state_dict: the inverse of params.ts's upload, so a
 * trained network is saved under the reference's key names and layouts (conv [out, in, kh, kw],
 * linear [out, in], conv1d [out, in, 1]) and loads with `createUNet` like any converted checkpoint.
 */

import type { ParamSpec, StoredTensor } from '@diffq/networks';
import * as tf from '@tensorflow/tfjs';

/** Where legacy qkv row r (head, part, channel) of the stored order sits in the uploaded new order. */
function newOrderIndexOfLegacyRow(width: number, heads: number): number[] {
  const ch = width / 3 / heads;
  const index: number[] = [];
  for (let head = 0; head < heads; head++)
    for (let part = 0; part < 3; part++) for (let i = 0; i < ch; i++) index.push(part * heads * ch + head * ch + i);
  return index;
}

/** One uploaded tensor in its PyTorch layout, as a tensor (the caller disposes it). */
function toTorchLayout(spec: ParamSpec, t: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    let out: tf.Tensor;
    switch (spec.layout) {
      case 'vector':
      case 'embedding':
        out = t.clone();
        break;
      case 'linear':
      case 'tokens':
        out = tf.transpose(t);
        break;
      case 'conv1d':
        out = tf.reshape(tf.transpose(t), spec.shape);
        break;
      case 'conv2d':
        out = tf.transpose(t, [3, 2, 0, 1]);
        break;
    }
    if (spec.legacyHeads !== undefined) out = tf.gather(out, newOrderIndexOfLegacyRow(spec.shape[0], spec.legacyHeads), 0);
    return out;
  });
}

/**
 * The float32 state_dict of `params` (layers.ts layouts) for `specs`, in the specs' order.
 * Throws naming the first key `params` lacks.
 */
export function downloadStateDict(specs: readonly ParamSpec[], params: ReadonlyMap<string, tf.Tensor>): Map<string, StoredTensor> {
  const out = new Map<string, StoredTensor>();
  for (const spec of specs) {
    const t = params.get(spec.key);
    if (!t) throw new Error(`state_dict: parameter "${spec.key}" is not among the ${params.size} given`);
    const torch = toTorchLayout(spec, t);
    try {
      out.set(spec.key, { dtype: 'F32', shape: [...spec.shape], data: torch.dataSync() as Float32Array });
    } finally {
      torch.dispose();
    }
  }
  return out;
}
