/** tfjs has no stop_gradient; this identity passes values forward and zero gradient back (PyTorch's .detach()). */
import * as tf from '@tensorflow/tfjs';

const detach = tf.customGrad((x, _save) => ({ value: (x as tf.Tensor).clone(), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) }));

/** x as a constant for differentiation: same values, no gradient flows into x. */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  return detach(x) as T;
}
