/**
 * Layer kernels whose gradients use only kernels every tfjs backend has, wasm included: wasm lacks
 * Conv2DBackpropFilter (the filter gradient of tf.conv2d) and UnsortedSegmentSum (the table
 * gradient of tf.gather). The forward values are tfjs's own, so a network computes the same outputs
 * with these ops as without; only training installs them (withLayerOps), inference keeps tfjs's.
 */

import type { LayerOps } from '@diffq/networks';
import * as tf from '@tensorflow/tfjs';

/**
 * dy with s − 1 zeros between neighbouring positions: out[n, s·i, s·j, c] = dy[n, i, j, c], zero
 * elsewhere, [N, (H'−1)·s + 1, (W'−1)·s + 1, C]. A strided conv's gradients are stride-1 convs of it.
 */
function dilate(dy: tf.Tensor4D, stride: number): tf.Tensor4D {
  if (stride === 1) return dy;
  const [n, h, w, c] = dy.shape;
  const spread = tf.pad(tf.reshape(dy, [n, h, 1, w, 1, c]), [
    [0, 0],
    [0, 0],
    [0, stride - 1],
    [0, 0],
    [0, stride - 1],
    [0, 0],
  ]);
  return tf.slice(
    tf.reshape(spread, [n, h * stride, w * stride, c]),
    [0, 0, 0, 0],
    [n, (h - 1) * stride + 1, (w - 1) * stride + 1, c],
  ) as tf.Tensor4D;
}

/**
 * ∂L/∂x of y = conv2d(x, W, s, p) from dy: the full correlation of the dilated dy with the flipped,
 * in/out-swapped filter, dx = conv2d(pad(dilate(dy)), flip(W)ᵀ), the extra bottom/right padding
 * giving back the rows a strided conv's floor dropped (their gradient is 0). A forward conv, which
 * wasm runs through XNNPACK, several times faster than its Conv2DBackpropInput kernel.
 */
export function conv2dInputGrad(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  xShape: [number, number, number, number],
  stride: number,
  pad: number,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw] = filter.shape;
    const [, h, w] = xShape;
    const [, outH, outW] = dy.shape;
    const extraH = h - ((outH - 1) * stride - 2 * pad + kh);
    const extraW = w - ((outW - 1) * stride - 2 * pad + kw);
    const full = tf.pad(dilate(dy, stride), [
      [0, 0],
      [kh - 1 - pad, kh - 1 - pad + extraH],
      [kw - 1 - pad, kw - 1 - pad + extraW],
      [0, 0],
    ]);
    const flipped = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
    return tf.conv2d(full, flipped, 1, 'valid');
  });
}

/**
 * ∂L/∂W of y = conv2d(x, W, s, p) from dy: dW[a, b, c, o] = Σ_{n,i,j} xpad[n, a + s·i, b + s·j, c]·dy[n, i, j, o],
 * computed as a forward conv with the roles swapped: input channels c become the batch, the batch n
 * the channels, and the dilated dy the (large) filter; the result [Cin, ≥kh, ≥kw, Cout] is cut to the
 * kernel and put in the filter's [kh, kw, Cin, Cout] order.
 */
export function conv2dFilterGrad(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  stride: number,
  pad: number,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw, cin, cout] = filterShape;
    const xpad =
      pad > 0
        ? tf.pad(x, [
            [0, 0],
            [pad, pad],
            [pad, pad],
            [0, 0],
          ])
        : x;
    const channelsAsBatch = tf.transpose(xpad, [3, 1, 2, 0]) as tf.Tensor4D;
    const dyAsFilter = tf.transpose(dilate(dy, stride), [1, 2, 0, 3]) as tf.Tensor4D;
    const correlation = tf.conv2d(channelsAsBatch, dyAsFilter, 1, 'valid');
    return tf.transpose(tf.slice(correlation, [0, 0, 0, 0], [cin, kh, kw, cout]), [1, 2, 0, 3]);
  });
}

const convByGeometry = new Map<string, (x: tf.Tensor4D, filter: tf.Tensor4D) => tf.Tensor4D>();

/**
 * tf.conv2d(x, filter, stride, pad) (pad: symmetric zero padding) with a gradient that runs on wasm,
 * both halves as forward convs (conv2dInputGrad, conv2dFilterGrad). x [N, H, W, Cin], filter
 * [kh, kw, Cin, Cout] → [N, H', W', Cout].
 */
export function portableConv2d(x: tf.Tensor4D, filter: tf.Tensor4D, stride: 1 | 2, pad: number): tf.Tensor4D {
  const geometry = `${stride}/${pad}`;
  let op = convByGeometry.get(geometry);
  if (!op) {
    op = tf.customGrad((xIn, filterIn, save) => {
      const input = xIn as tf.Tensor4D;
      const w = filterIn as tf.Tensor4D;
      (save as tf.GradSaveFunc)([input, w]);
      return {
        value: tf.conv2d(input, w, stride, pad),
        gradFunc: (dy, saved) => {
          const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
          const dy4 = dy as tf.Tensor4D;
          return [conv2dInputGrad(dy4, ws, xs.shape, stride, pad), conv2dFilterGrad(xs, dy4, ws.shape, stride, pad)];
        },
      };
    }) as (x: tf.Tensor4D, filter: tf.Tensor4D) => tf.Tensor4D;
    convByGeometry.set(geometry, op);
  }
  return op(x, filter);
}

/**
 * table[ids] with the table's gradient as a one-hot product, dTable = onehot(ids, K)ᵀ·dy (rows of
 * repeated ids add up), instead of tf.gather's UnsortedSegmentSum. table [K, D], ids [N] int32 → [N, D].
 * The ids get no gradient (they are integers).
 */
export function portableEmbedding(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  return embeddingWithGrad(table, ids);
}

// The ids are an input (and saved) rather than captured: tfjs frees what a forward pass created
// before the backward pass runs, except the tensors a kernel saves.
const embeddingWithGrad = tf.customGrad((tableIn, idsIn, save) => {
  const t = tableIn as tf.Tensor2D;
  const ids = idsIn as tf.Tensor1D;
  (save as tf.GradSaveFunc)([ids]);
  return {
    value: tf.gather(t, ids),
    gradFunc: (dy, saved) => {
      const [savedIds] = saved as [tf.Tensor1D];
      return [tf.matMul(tf.oneHot(savedIds, t.shape[0]), dy as tf.Tensor2D, true, false), tf.zerosLike(savedIds)];
    },
  };
}) as (table: tf.Tensor2D, ids: tf.Tensor1D) => tf.Tensor2D;

/** The LayerOps a trainer installs (withLayerOps) around its differentiated forward pass. */
export const PORTABLE_LAYER_OPS: LayerOps = { conv2d: portableConv2d, embedding: portableEmbedding };
