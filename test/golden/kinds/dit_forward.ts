/**
 * dit_forward: facebookresearch/DiT's `forward(x, t, y)` of the case's `model` with its `model.*`
 * weights, and `forward_with_cfg(x, t, y, cfg_scale)` made from one forward as models.py does it.
 */
import { guidedCombination } from '@diffq/diffusion';
import { parseDiTConfig } from '@diffq/networks';
import { openEngine } from '@diffq/onnx';
import * as tf from '@tensorflow/tfjs';
import type { KindRunner } from '../case.ts';
import { floatTensor, intTensor } from './unet_forward.ts';

/** The channels forward_with_cfg guides: models.py guides the first 3 "for exact reproducibility reasons". */
const CFG_CHANNELS = 3;

/**
 * forward_with_cfg given the forward `out` [N, C, H, W] of cat([h, h]) (h = x[:N/2]): the first half
 * is the library's guidance rule (guidedCombination, w = scale − 1, the first 3 channels guided), the
 * half a sampler keeps; the second half, which models.py also returns, has the same guided channels
 * and its own other channels.
 */
function withCfg(out: tf.Tensor4D, scale: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [cond, uncond] = tf.split(out, 2, 0) as [tf.Tensor4D, tf.Tensor4D];
    const kept = guidedCombination(cond, uncond, scale - 1, CFG_CHANNELS);
    const guided = tf.slice(kept, [0, 0, 0, 0], [-1, CFG_CHANNELS, -1, -1]);
    const rest = tf.slice(uncond, [0, CFG_CHANNELS, 0, 0], [-1, -1, -1, -1]);
    return tf.concat([kept, tf.concat([guided, rest], 1)], 0) as tf.Tensor4D;
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
