/**
 * dit_forward: facebookresearch/DiT's `forward(x, t, y)` of the case's `model` with its `model.*`
 * weights, and `forward_with_cfg(x, t, y, cfg_scale)` made from one forward as models.py does it.
 */
import { parseDiTConfig } from '@diffq/networks';
import { openEngine } from '@diffq/onnx';
import * as tf from '@tensorflow/tfjs';
import type { KindRunner } from '../case.ts';
import { floatTensor, intTensor } from './unet_forward.ts';

/** The channels forward_with_cfg guides: models.py guides the first 3 "for exact reproducibility reasons". */
const CFG_CHANNELS = 3;

/**
 * forward_with_cfg given the forward `out` [N, C, H, W] of cat([h, h]) (h = x[:N/2]): the first 3
 * channels of both halves become u + s·(c − u) (c the first half, u the second), every other channel
 * stays each half's own.
 */
function withCfg(out: tf.Tensor4D, scale: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [cond, uncond] = tf.split(out, 2, 0) as [tf.Tensor4D, tf.Tensor4D];
    const first = (o: tf.Tensor4D) => tf.slice(o, [0, 0, 0, 0], [-1, CFG_CHANNELS, -1, -1]);
    const rest = (o: tf.Tensor4D) => tf.slice(o, [0, CFG_CHANNELS, 0, 0], [-1, -1, -1, -1]);
    const guided = tf.add(first(uncond), tf.mul(scale, tf.sub(first(cond), first(uncond))));
    return tf.concat([tf.concat([guided, rest(cond)], 1), tf.concat([guided, rest(uncond)], 1)], 0) as tf.Tensor4D;
  });
}

export const run: KindRunner = async (c, ctx) => {
  const config = parseDiTConfig(c.json.model);
  const { engine } = await openEngine({
    architecture: 'dit',
    modelConfig: config,
    weights: c.weights('model'),
    engine: ctx.engine as 'onnx' | 'tfjs',
  });
  const x = floatTensor(c.tensor('x')) as tf.Tensor4D;
  const t = floatTensor(c.tensor('t')) as tf.Tensor1D;
  const y = intTensor(c.tensor('y')) as tf.Tensor1D;
  const n = x.shape[0];
  const half = tf.slice(x, [0, 0, 0, 0], [n / 2, -1, -1, -1]);
  const doubled = tf.concat([half, half], 0) as tf.Tensor4D;
  try {
    const output = await engine.forward(x, t, y);
    const forCfg = await engine.forward(doubled, t, y);
    const cfg = withCfg(forCfg, c.json.cfg_scale as number);
    const outputs = { output: (await output.data()) as Float32Array, output_cfg: (await cfg.data()) as Float32Array };
    tf.dispose([output, forCfg, cfg]);
    return outputs;
  } finally {
    tf.dispose([x, t, y, half, doubled]);
    engine.dispose();
  }
};
