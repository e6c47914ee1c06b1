/**
 * One network evaluation at (x_t, t) with classifier-free guidance folded in, so that the samplers
 * see a single output whatever the guidance.
 */
import * as tf from '@tensorflow/tfjs';
import type { DenoiserEngine } from '../engine/engine.ts';
import type { Guidance } from './guidance.ts';

/**
 * The denoiser output [N, outC, H, W] at x [N, C, H, W] with the network's timesteps [N] and labels [N]
 * (undefined for an unconditional network).
 *
 * Classifier-free guidance evaluates the conditional and the null-label passes as ONE forward of 2N
 * (the batch concatenated with itself, labels y then nullLabel) and returns
 * [(1 + w)·mean(y) − w·mean(null) on the first k guided channels, mean(y) on the other C − k,
 * variance channels(y)], k = guidance.guidedChannels (default C). This is DiT's forward_with_cfg on
 * the kept half: u + s·(c − u) with s = 1 + w on channels [0, k), c elsewhere. Combining the mean
 * channels is the same as combining ε whether they hold ε or x_0, because x_0 is affine in ε and the
 * weights sum to 1 (per channel, so also when only k of them are guided).
 */
export async function guidedOutput(
  engine: DenoiserEngine,
  x: tf.Tensor4D,
  timesteps: tf.Tensor1D,
  labels: tf.Tensor1D | undefined,
  guidance: Guidance,
): Promise<tf.Tensor4D> {
  if (guidance.type !== 'classifier_free') return engine.forward(x, timesteps, labels);
  if (!labels) throw new Error('classifier-free guidance needs labels for the conditional pass');
  const n = x.shape[0];
  const channels = x.shape[1];
  const guided = guidance.guidedChannels ?? channels;
  if (!(Number.isInteger(guided) && guided >= 1 && guided <= channels)) {
    throw new Error(`guided channels is ${guided}; accepted: an integer from 1 to the samples' ${channels} channels`);
  }
  const [x2, t2, y2] = tf.tidy(() => [
    tf.concat([x, x], 0) as tf.Tensor4D,
    tf.concat([timesteps, timesteps], 0) as tf.Tensor1D,
    tf.concat([labels, tf.fill([n], guidance.nullLabel, 'int32')], 0) as tf.Tensor1D,
  ]);
  let both: tf.Tensor4D;
  try {
    both = await engine.forward(x2, t2, y2);
  } finally {
    tf.dispose([x2, t2, y2]);
  }
  return tf.tidy(() => {
    const [cond, uncond] = tf.split(both, 2, 0) as [tf.Tensor4D, tf.Tensor4D];
    both.dispose();
    return guidedCombination(cond, uncond, guidance.w, guided);
  });
}

/**
 * The guidance rule on the two passes' outputs cond, uncond [N, outC, H, W]: (1 + w)·cond − w·uncond
 * on the first `guided` channels, cond's own on the rest (the unguided ε channels and the variance
 * channels), [N, outC, H, W]. The golden dit_forward kind checks it against DiT's forward_with_cfg.
 */
export function guidedCombination(cond: tf.Tensor4D, uncond: tf.Tensor4D, w: number, guided: number): tf.Tensor4D {
  return tf.tidy(() => {
    const outChannels = cond.shape[1];
    const first = (o: tf.Tensor4D) => tf.slice(o, [0, 0, 0, 0], [-1, guided, -1, -1]);
    const combined = tf.sub(tf.mul(1 + w, first(cond)), tf.mul(w, first(uncond)));
    if (outChannels === guided) return combined as tf.Tensor4D;
    return tf.concat([combined, tf.slice(cond, [0, guided, 0, 0], [-1, outChannels - guided, -1, -1])], 1) as tf.Tensor4D;
  });
}
