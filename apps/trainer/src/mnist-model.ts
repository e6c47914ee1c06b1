/**
 * The shipped default model's architecture and process (models/mnist): a small class-conditional
 * ADM UNet for 28×28 digits with a null label for classifier-free guidance, trained with DDPM-IP's
 * input perturbation. Sized so that it trains on two CPU cores in under an hour and its weights stay
 * a few megabytes.
 */

import { MNIST_CLASSES, MNIST_SIDE } from '@diffq/datasets';
import type { DiffusionArgs } from '@diffq/diffusion';
import type { UNetArgs } from '@diffq/networks';

/** Labels 0–9 are digits; label 10 means "no class". */
export const MNIST_NULL_LABEL = MNIST_CLASSES;

export const MNIST_UNET: UNetArgs = {
  image_size: MNIST_SIDE,
  in_channels: 1,
  num_channels: 32,
  channel_mult: '1,2,2',
  num_res_blocks: 1,
  attention_resolutions: '7',
  num_heads: 1,
  num_head_channels: 32,
  num_heads_upsample: -1,
  use_scale_shift_norm: true,
  resblock_updown: false,
  use_new_attention_order: true,
  learn_sigma: false,
  class_cond: true,
  num_classes: MNIST_CLASSES + 1,
  dropout: 0,
};

export const MNIST_DIFFUSION: DiffusionArgs = {
  steps: 1000,
  noise_schedule: 'cosine',
  learn_sigma: false,
  sigma_small: false,
  predict_xstart: false,
  rescale_timesteps: false,
  rescale_learned_sigmas: false,
  use_kl: false,
  timestep_respacing: '',
  input_perturbation: 0.1,
};
