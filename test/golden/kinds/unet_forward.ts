/** unet_forward: UNetModel.forward(x, timesteps, y) of the case's `model` with its `model.*` weights. */

import { createUNet, parseUNetConfig, type StoredTensor, unetForward } from '@diffq/networks';
import * as tf from '@tensorflow/tfjs';
import type { KindRunner } from '../case.ts';
import { caseEngine } from './case-engine.ts';

/** A stored tensor as a float32 tfjs tensor (I64 timesteps are small integers, exact in float32). */
export function floatTensor(t: StoredTensor): tf.Tensor {
  return tf.tensor(Float32Array.from(t.data as ArrayLike<number | bigint>, Number), t.shape, 'float32');
}

export function intTensor(t: StoredTensor): tf.Tensor {
  return tf.tensor(Int32Array.from(t.data as ArrayLike<number | bigint>, Number), t.shape, 'int32');
}

export const run: KindRunner = async (c, ctx) => {
  if (ctx.engine !== 'tfjs') {
    const engine = await caseEngine(c, ctx);
    const inputs = [floatTensor(c.tensor('x')), floatTensor(c.tensor('timesteps'))] as [tf.Tensor4D, tf.Tensor1D];
    const y = c.json.inputs.includes('y') ? (intTensor(c.tensor('y')) as tf.Tensor1D) : undefined;
    try {
      const output = await engine.forward(...inputs, y);
      const data = await output.data();
      output.dispose();
      return { output: data as Float32Array };
    } finally {
      tf.dispose([...inputs, ...(y ? [y] : [])]);
      engine.dispose();
    }
  }
  const unet = createUNet(parseUNetConfig(c.json.model), c.weights('model'), `case ${c.json.name} model.*`);
  try {
    const output = tf.tidy(() =>
      unetForward(
        unet,
        floatTensor(c.tensor('x')) as tf.Tensor4D,
        floatTensor(c.tensor('timesteps')) as tf.Tensor1D,
        c.json.inputs.includes('y') ? (intTensor(c.tensor('y')) as tf.Tensor1D) : undefined,
      ),
    );
    const data = await output.data();
    output.dispose();
    return { output: data as Float32Array };
  } finally {
    unet.dispose();
  }
};
