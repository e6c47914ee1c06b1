/**
 * AdamW (Loshchilov & Hutter), as torch.optim.AdamW which guided-diffusion trains with, over a map
 * of parameter tensors. Functional: a step takes the parameters, moments and gradients and returns
 * new tensors, so nothing hides in tf.Variables and the whole state can be checkpointed.
 */
import * as tf from '@tensorflow/tfjs';

export interface AdamWOptions {
  /** Learning rate η. */
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled weight decay λ (guided-diffusion: 0). */
  weightDecay: number;
}

export const ADAMW_DEFAULTS: Omit<AdamWOptions, 'lr'> = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };

export interface AdamWMoments {
  /** First moments m, keyed like the parameters. */
  m: Map<string, tf.Tensor>;
  /** Second moments v. */
  v: Map<string, tf.Tensor>;
}

export function zeroMoments(params: ReadonlyMap<string, tf.Tensor>): AdamWMoments {
  const zeros = () => new Map([...params].map(([k, p]) => [k, tf.zerosLike(p)]));
  return { m: zeros(), v: zeros() };
}

/**
 * Update number `step` (1-based, for bias correction) of every parameter:
 * m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², θ ← θ(1 − ηλ) − η·(m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε).
 * Returns new tensors; the inputs are left for the caller to dispose.
 */
export function adamWUpdate(
  params: ReadonlyMap<string, tf.Tensor>,
  moments: AdamWMoments,
  grads: ReadonlyMap<string, tf.Tensor>,
  step: number,
  o: AdamWOptions,
): { params: Map<string, tf.Tensor>; moments: AdamWMoments } {
  const correction1 = 1 - o.beta1 ** step;
  const correction2 = 1 - o.beta2 ** step;
  const out = { params: new Map<string, tf.Tensor>(), moments: { m: new Map<string, tf.Tensor>(), v: new Map<string, tf.Tensor>() } };
  for (const [key, p] of params) {
    const g = grads.get(key);
    if (!g) throw new Error(`AdamW: no gradient for parameter "${key}"`);
    const [m, v, next] = tf.tidy(() => {
      const m = tf.add(tf.mul(moments.m.get(key)!, o.beta1), tf.mul(g, 1 - o.beta1));
      const v = tf.add(tf.mul(moments.v.get(key)!, o.beta2), tf.mul(tf.square(g), 1 - o.beta2));
      const denom = tf.add(tf.sqrt(tf.div(v, correction2)), o.eps);
      const decayed = o.weightDecay > 0 ? tf.mul(p, 1 - o.lr * o.weightDecay) : p;
      return [m, v, tf.sub(decayed, tf.div(tf.mul(m, o.lr / correction1), denom))];
    });
    out.moments.m.set(key, m);
    out.moments.v.set(key, v);
    out.params.set(key, next);
  }
  return out;
}

/** Scales gradients so their global L2 norm is at most maxNorm (torch clip_grad_norm_); returns the norm before clipping. */
export function clipGlobalNorm(grads: ReadonlyMap<string, tf.Tensor>, maxNorm: number): { grads: Map<string, tf.Tensor>; norm: tf.Scalar } {
  const keys = [...grads.keys()];
  // tf.tidy keeps the tensors of returned arrays and objects, not of Maps.
  const [norm, ...clipped] = tf.tidy(() => {
    const total = tf.sqrt(tf.addN(keys.map((k) => tf.sum(tf.square(grads.get(k)!)))));
    const factor = tf.minimum(1, tf.div(maxNorm, tf.add(total, 1e-6)));
    return [total, ...keys.map((k) => tf.mul(grads.get(k)!, factor))];
  });
  return { grads: new Map(keys.map((k, i) => [k, clipped[i]])), norm: norm as tf.Scalar };
}
