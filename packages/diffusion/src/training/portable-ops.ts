/**
 * Layer kernels whose gradients use only kernels every tfjs backend has, wasm included: wasm lacks
 * Conv2DBackpropFilter (the filter gradient of tf.conv2d) and UnsortedSegmentSum (the table
 * gradient of tf.gather). The forward values are tfjs's own, so a network computes the same outputs
 * with these ops as without; only training installs them (withLayerOps), inference keeps tfjs's.
 */
import * as tf from '@tensorflow/tfjs';
import type { LayerOps } from '../nn/layers.ts';

/**
 * The kh·kw shifted (and strided) views of the zero-padded input, side by side on the channel axis:
 * cols[n, i, j, (a·kw + b)·Cin + c] = xpad[n, a + s·i, b + s·j, c], shape [N, H', W', kh·kw·Cin].
 * Its rows are the receptive fields of conv2d's outputs (im2col).
 */
function patches(x: tf.Tensor4D, kh: number, kw: number, stride: number, pad: number, outH: number, outW: number): tf.Tensor4D {
  const [n, , , cin] = x.shape;
  const xpad = pad > 0 ? tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]]) : x;
  const views: tf.Tensor4D[] = [];
  for (let a = 0; a < kh; a++) {
    for (let b = 0; b < kw; b++) {
      const end = [n, a + stride * (outH - 1) + 1, b + stride * (outW - 1) + 1, cin];
      views.push(
        stride === 1
          ? tf.slice(xpad, [0, a, b, 0], [n, outH, outW, cin])
          : tf.stridedSlice(xpad, [0, a, b, 0], end, [1, stride, stride, 1]),
      );
    }
  }
  return views.length === 1 ? views[0] : tf.concat(views, 3);
}

/**
 * ∂L/∂W of y = conv2d(x, W) from dy: dW[a, b, c, o] = Σ_{n,i,j} xpad[n, a + s·i, b + s·j, c]·dy[n, i, j, o],
 * i.e. colsᵀ·dy with cols the im2col matrix [N·H'·W', kh·kw·Cin] and dy as [N·H'·W', Cout]; one
 * matMul, reshaped to the filter's [kh, kw, Cin, Cout].
 */
export function conv2dFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: [number, number, number, number], stride: number, pad: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw, cin, cout] = filterShape;
    const [n, outH, outW] = dy.shape;
    const rows = n * outH * outW;
    const cols = tf.reshape(patches(x, kh, kw, stride, pad, outH, outW), [rows, kh * kw * cin]);
    return tf.reshape(tf.matMul(cols, tf.reshape(dy, [rows, cout]), true, false), filterShape);
  });
}

const convByGeometry = new Map<string, (x: tf.Tensor4D, filter: tf.Tensor4D) => tf.Tensor4D>();

/**
 * tf.conv2d(x, filter, stride, pad) (pad: symmetric zero padding) with a gradient that runs on wasm:
 * ∂x by Conv2DBackpropInput (tf.conv2dTranspose), ∂W by conv2dFilterGrad. x [N, H, W, Cin], filter
 * [kh, kw, Cin, Cout] → [N, H', W', Cout].
 */
export function portableConv2d(x: tf.Tensor4D, filter: tf.Tensor4D, stride: 1 | 2, pad: number): tf.Tensor4D {
  const geometry = `${stride}/${pad}`;
  let op = convByGeometry.get(geometry);
  if (!op) {
    op = tf.customGrad((xIn, filterIn, save) => {
      const input = xIn as tf.Tensor4D;
      const w = filterIn as tf.Tensor4D;
      save([input, w]);
      return {
        value: tf.conv2d(input, w, stride, pad),
        gradFunc: (dy, saved) => {
          const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
          const dy4 = dy as tf.Tensor4D;
          return [
            tf.conv2dTranspose(dy4, ws, xs.shape, stride, pad),
            conv2dFilterGrad(xs, dy4, ws.shape, stride, pad),
          ];
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
  save([ids]);
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
