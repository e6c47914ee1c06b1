/**
 * The network both benchmarks time: a CIFAR-size ADM, the DDPM-IP CIFAR-10 layout at half width
 * (64 channels, mult 1,2,2,2, 2 res blocks, attention at 16×16, 32 channels per head, scale-shift
 * norm, resblock up/down, new attention order, learned sigma), with random weights.
 */
import { parseUNetConfig, randomUNetWeights, type StoredTensor, type UNetArgs, type UNetConfig, unetParameterCount } from '@diffq/networks';

export const CIFAR_SIZE: UNetArgs = {
  image_size: 32,
  num_channels: 64,
  num_res_blocks: 2,
  channel_mult: '1,2,2,2',
  attention_resolutions: '16',
  num_head_channels: 32,
  use_scale_shift_norm: true,
  resblock_updown: true,
  use_new_attention_order: true,
  learn_sigma: true,
};

export interface BenchModel {
  config: UNetConfig;
  /** Random weights (seed 0). */
  weights: Map<string, StoredTensor>;
  /** "CIFAR-size ADM {flags}, N.NNM parameters", for the bench's first line. */
  summary: string;
}

export function cifarSizeModel(): BenchModel {
  const config = parseUNetConfig(CIFAR_SIZE);
  const summary = `CIFAR-size ADM ${JSON.stringify(CIFAR_SIZE)}, ${(unetParameterCount(config) / 1e6).toFixed(2)}M parameters`;
  return { config, weights: randomUNetWeights(config, 0), summary };
}
