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
 * [(1 + w)·mean(y) − w·mean(null), variance channels(y)]. Combining the mean channels is the same as
 * combining ε whether they hold ε or x_0, because x_0 is affine in ε and the weights sum to 1.
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
    const outChannels = cond.shape[1];
    const mean = (o: tf.Tensor4D) => tf.slice(o, [0, 0, 0, 0], [n, channels, -1, -1]);
    const guided = tf.sub(tf.mul(1 + guidance.w, mean(cond)), tf.mul(guidance.w, mean(uncond)));
    if (outChannels === channels) return guided as tf.Tensor4D;
    return tf.concat([guided, tf.slice(cond, [0, channels, 0, 0], [n, outChannels - channels, -1, -1])], 1) as tf.Tensor4D;
  });
}
