import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createUNet,
  parseUNetConfig,
  randomStateDict,
  TFJS_LAYER_OPS,
  unetForward,
  unetParameterShapes,
  withLayerOps,
} from '@diffq/networks';
import * as tf from '@tensorflow/tfjs';
import { UNET_TRAINABLE } from '../../../test/fixtures/small-networks.ts';
import { PORTABLE_LAYER_OPS, portableConv2d, portableEmbedding } from '../src/training/portable-ops.ts';

// The cpu backend has tfjs's own Conv2DBackpropFilter / UnsortedSegmentSum to compare against.
await tf.setBackend('cpu');

function seeded(shape: number[], seed: number): tf.Tensor {
  let state = seed >>> 0;
  const data = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 31 - 1;
  });
  return tf.tensor(data, shape);
}

/** max |a − b| / max |b|: the relative error of a against the reference b. */
function relativeError(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / tf.max(tf.abs(b)).dataSync()[0]);
}

type Conv = (x: tf.Tensor4D, w: tf.Tensor4D, stride: 1 | 2, pad: number) => tf.Tensor4D;

/** Gradients of Σ conv(x, w)·r (r fixed and random, so every output position weighs differently). */
function convGrads(conv: Conv, x: tf.Tensor4D, w: tf.Tensor4D, stride: 1 | 2, pad: number): tf.Tensor[] {
  const probe = tf.tidy(() => conv(x, w, stride, pad));
  const r = seeded(probe.shape, 99);
  probe.dispose();
  return tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv(a as tf.Tensor4D, b as tf.Tensor4D, stride, pad), r)))([x, w]);
}

describe('the conv2d whose gradient runs on wasm', () => {
  const cases: { name: string; k: number; stride: 1 | 2; pad: number; h: number }[] = [
    { name: '3×3 stride 1', k: 3, stride: 1, pad: 1, h: 9 },
    { name: '3×3 stride 2 (even size)', k: 3, stride: 2, pad: 1, h: 8 },
    { name: '3×3 stride 2 (odd size: the floor drops a row)', k: 3, stride: 2, pad: 1, h: 7 },
    { name: '1×1 stride 1', k: 1, stride: 1, pad: 0, h: 6 },
    { name: '1×1 stride 2', k: 1, stride: 2, pad: 0, h: 6 },
  ];
  for (const c of cases) {
    it(`has tfjs's own input and filter gradients for a ${c.name} conv`, () => {
      const x = seeded([2, c.h, c.h + 1, 3], 1) as tf.Tensor4D;
      const w = seeded([c.k, c.k, 3, 5], 2) as tf.Tensor4D;
      const [dxRef, dwRef] = convGrads((a, b, s, p) => tf.conv2d(a, b, s, p), x, w, c.stride, c.pad);
      const [dx, dw] = convGrads(portableConv2d, x, w, c.stride, c.pad);
      assert.deepEqual(dx.shape, dxRef.shape);
      assert.deepEqual(dw.shape, dwRef.shape);
      assert.ok(relativeError(dx, dxRef) < 1e-5, `input gradient off by ${relativeError(dx, dxRef)}`);
      assert.ok(relativeError(dw, dwRef) < 1e-5, `filter gradient off by ${relativeError(dw, dwRef)}`);
    });
  }

  it('computes the same forward values as tf.conv2d', () => {
    const x = seeded([2, 8, 8, 3], 3) as tf.Tensor4D;
    const w = seeded([3, 3, 3, 4], 4) as tf.Tensor4D;
    assert.deepEqual(portableConv2d(x, w, 2, 1).dataSync(), tf.conv2d(x, w, 2, 1).dataSync());
  });
});

describe('the embedding lookup whose gradient runs on wasm', () => {
  it("has tf.gather's table gradient, repeated ids adding up", () => {
    const table = seeded([6, 4], 5) as tf.Tensor2D;
    const ids = tf.tensor1d([2, 0, 2, 5], 'int32');
    const r = seeded([4, 4], 6);
    const ref = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, ids), r)))(table);
    const got = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(portableEmbedding(t as tf.Tensor2D, ids), r)))(table);
    assert.ok(relativeError(got, ref) < 1e-6, `table gradient off by ${relativeError(got, ref)}`);
  });
});

describe('a UNet differentiated with the portable ops', () => {
  it("has tfjs's own parameter gradients (cpu), through strided, 1×1 and up/down convs and the label embedding", () => {
    const config = parseUNetConfig(UNET_TRAINABLE);
    const unet = createUNet(config, randomStateDict(unetParameterShapes(config), 11));
    const keys = [...unet.params.keys()];
    const x = seeded([2, 1, 8, 8], 12) as tf.Tensor4D;
    const t = tf.tensor1d([5, 700]);
    const y = tf.tensor1d([2, 0], 'int32');
    const r = seeded([2, 1, 8, 8], 13);
    const gradsWith = (ops: typeof TFJS_LAYER_OPS) =>
      tf.grads((...ps: tf.Tensor[]) =>
        withLayerOps(ops, () => tf.sum(tf.mul(unetForward({ ...unet, params: new Map(keys.map((k, i) => [k, ps[i]])) }, x, t, y), r))),
      )(keys.map((k) => unet.params.get(k)!));
    const reference = gradsWith(TFJS_LAYER_OPS);
    const portable = gradsWith(PORTABLE_LAYER_OPS);
    // A bias right before a one-channel-per-group GroupNorm has an exact gradient of 0, so each error
    // is taken relative to the larger of the key's own gradient and 1% of the largest one.
    const scale = (g: tf.Tensor) => tf.max(tf.abs(g)).dataSync()[0];
    const largest = Math.max(...reference.map(scale));
    keys.forEach((key, i) => {
      const diff = tf.max(tf.abs(tf.sub(portable[i], reference[i]))).dataSync()[0];
      const err = diff / Math.max(scale(reference[i]), 0.01 * largest);
      assert.ok(err < 1e-4, `${key}: gradient off by ${err}`);
    });
    unet.dispose();
  });
});
