/** How a sampling loop steers the denoiser towards a class. */
import type * as tf from '@tensorflow/tfjs';

/**
 * ∇_x log p_φ(y | x_t) · classifier_scale at x_t: x [N, C, H, W], timesteps [N] float32 as the denoiser
 * receives them (timestep_map[t], rescaled if so configured), y [N] int32. Resolves to [N, C, H, W];
 * the caller disposes it.
 */
export type CondFn = (x: tf.Tensor4D, timesteps: tf.Tensor1D, y: tf.Tensor1D) => Promise<tf.Tensor4D>;

export type Guidance =
  /** The network alone (given the loop's labels when it is class-conditional). */
  | { type: 'none' }
  /**
   * Classifier-free (Ho & Salimans): ε̃ = (1 + w)·ε(x, t, y) − w·ε(x, t, nullLabel); the variance
   * channels come from the conditional pass. Needs the loop's labels; nullLabel is the network's
   * "no class" label. `guidedChannels` (default: every ε channel) guides only the first k channels of
   * ε and takes the others from the conditional pass, as DiT's forward_with_cfg does with k = 3 on
   * its 4 latent channels (the setting DiT's published FIDs were measured with).
   */
  | { type: 'classifier_free'; w: number; nullLabel: number; guidedChannels?: number }
  /**
   * Classifier guidance (Dhariwal & Nichol): DDPM shifts the mean by Σ·∇ (condition_mean), DDIM
   * shifts ε by −√(1 − ᾱ_t)·∇ (condition_score). `labels` are the classes the classifier is asked for.
   */
  | { type: 'classifier'; condFn: CondFn; labels: Int32Array };

export const NO_GUIDANCE: Guidance = { type: 'none' };
